"""An incident's timeline as rows for people: time since the call, title, detail, key step or not.

The station console's incident page and the browser phone's live timeline
both render these rows, so an event reads the same in both places (only
:class:`Audience` changes a title, where villagers and police need different
words). Titles and details come from :mod:`hotline.presenters.event_labels`
in the language the caller names (``zh`` or ``en``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.models import EventKind, TimelineEvent
from hotline.models.events import is_key_step
from hotline.presenters import event_labels as labels
from hotline.presenters.catalogue import translator

# A catalogue's gettext: message id in, text in the chosen language out.
Translate = Callable[[str], str]


class Audience(enum.StrEnum):
    """Who reads the timeline; it changes a few titles, never the facts."""

    STATION = "station"  # police staff in the console
    VILLAGER = "villager"  # people trying the browser phone


@dataclass(frozen=True)
class TimelineRow:
    """One event, ready to show."""

    id: int
    kind: str  # as stored: an EventKind value, or a kind this code does not know
    at: datetime
    seconds: float  # since the incident opened, to a tenth of a second
    clock: str  # ``seconds`` as ``+m:ss``
    title: str
    detail: str
    key: bool  # a key step of the story, rather than a line of the delivery log


def clock(seconds: float) -> str:
    """Time since the call as ``+m:ss`` (``+h:mm:ss`` past an hour); whole seconds, never negative."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{hours}:{minutes:02d}:{secs:02d}" if hours else f"+{minutes}:{secs:02d}"


def event_title(kind: str, values: Mapping[str, Any], language: str, audience: Audience = Audience.STATION) -> str:
    """A short heading for an event; a kind this code does not know is shown as stored."""
    known = EventKind.parse(kind)
    if known is None:
        return kind
    text = translator(language).gettext
    if known == EventKind.CALL_ACCEPTED and audience == Audience.STATION:
        by_answer = labels.STATION_ANSWER_TITLES.get(str(values.get("answer")))
        if by_answer is not None:
            return text(by_answer)
    return text(labels.TITLES[known])


def event_detail(kind: str, values: Mapping[str, Any], language: str) -> str:
    """One line saying who and what, from an event's stored detail.

    Detail keys that are missing (older rows, or a kind this code does not
    know) leave their part of the line out rather than failing.
    """
    text = translator(language).gettext
    known = EventKind.parse(kind)
    who = " ".join(str(part) for part in (values.get("name"), values.get("phone")) if part)
    if known in (EventKind.CALL_RECEIVED, EventKind.SMS_RECEIVED, EventKind.TRIGGER_RAISED):
        caller = str(values.get("caller", ""))
        caller = text(labels.UNREGISTERED) % {"phone": caller} if values.get("unregistered") else caller
        # A trigger's event also names the button or system that raised it, and its note.
        return " · ".join(str(part) for part in (values.get("source"), caller, values.get("note")) if part)
    if known == EventKind.RECORDED_AFTER_OUTAGE:
        return text(labels.OUTAGE)
    if known == EventKind.FAN_OUT:
        return text(labels.FAN_OUT) % {"rung": values.get("rung", 0), "texted": values.get("texted", 0)}
    if known in (EventKind.CALL_ACCEPTED, EventKind.SMS_REPLY):
        answer = _label(text, labels.ANSWERS, values.get("answer"))
        return " · ".join(part for part in (who, answer) if part)
    if known == EventKind.ACKNOWLEDGED:
        return _acknowledged(text, values)
    if known == EventKind.ESCALATED:
        people = _joined(language, (r.get("name") or r.get("phone", "") for r in values.get("recipients", [])))
        level = values.get("level")
        return text(labels.ESCALATED_TO) % {
            "level": level,
            "who": _label(text, labels.LEVELS, level),
            "people": people,
        }
    if known == EventKind.TRANSFERRED:
        phones = _joined(language, values.get("to", []))
        return f"{_label(text, labels.LEVELS, values.get('level'))}: {phones}".rstrip(": ")
    if known == EventKind.CALLER_CONNECTED:
        return _label(text, labels.LEVELS, min(int(values.get("stage") or 0), 2))
    if known == EventKind.CALLER_HUNG_UP:
        return _hung_up(text, values)
    if known in (EventKind.CALLER_SMS, EventKind.SMS_UNRECOGNISED):
        return text(labels.MESSAGE) % {"phone": values.get("phone", ""), "body": values.get("body", "")}
    if known == EventKind.CLOSED:
        parts = (_label(text, labels.OUTCOMES, values.get("outcome")), values.get("by", ""), values.get("note", ""))
        return " · ".join(str(part) for part in parts if part)
    if known == EventKind.CALLER_TOLD_NOBODY_ANSWERED:
        return ""
    if known == EventKind.ACCEPTANCE_COUNTED:
        count = text(labels.ACCEPTED_OF) % {"accepted": values.get("accepted", 0), "needed": values.get("needed", 0)}
        return " · ".join(part for part in (str(values.get("name") or ""), count) if part)
    if known == EventKind.TAKEN:
        return str(values.get("by", ""))
    if known == EventKind.MEMBERS_RECALLED:
        return text(labels.RECALLED) % {"round": values.get("round", 0), "count": len(values.get("phones", []))}
    if known in (EventKind.CALLER_CALLED_BACK, EventKind.CALLER_CANCELLED, EventKind.CALLER_STILL_NEEDS_HELP):
        return str(values.get("phone", ""))
    # The delivery log, and kinds this code does not know: who, why, what went wrong.
    purpose = _label(text, labels.PURPOSES, values.get("purpose")) if values.get("purpose") else ""
    error = f"{text(labels.ERROR)} {values['error_code']}" if values.get("error_code") else ""
    return " · ".join(part for part in (who, purpose, error) if part)


def timeline_rows(
    events: Iterable[TimelineEvent],
    opened_at: datetime,
    *,
    language: str,
    audience: Audience = Audience.STATION,
) -> list[TimelineRow]:
    """Every event as a row, in the order given (the models keep them oldest first)."""
    rows = []
    for event in events:
        values = event.detail or {}
        seconds = round((event.at - opened_at).total_seconds(), 1)
        rows.append(
            TimelineRow(
                id=event.id,
                kind=event.kind,
                at=event.at,
                seconds=seconds,
                clock=clock(seconds),
                title=event_title(event.kind, values, language, audience),
                detail=event_detail(event.kind, values, language),
                key=is_key_step(event.kind),
            )
        )
    return rows


def key_steps(rows: Iterable[TimelineRow]) -> list[TimelineRow]:
    """Only the rows that tell the story, without the delivery log."""
    return [row for row in rows if row.key]


def _label(text: Translate, table: Mapping[Any, str], code: Any) -> str:
    """The translated label of ``code``, or the code itself when the table has none."""
    found = table.get(code)
    return text(found) if found is not None else str(code if code is not None else "")


def _joined(language: str, items: Iterable[Any]) -> str:
    # Chinese lists names with the enumeration comma.
    return ("、" if language == "zh" else ", ").join(str(item) for item in items if item)


def _acknowledged(text: Translate, values: Mapping[str, Any]) -> str:
    name = values.get("name") or ""
    if name == labels.DUTY_LINE_NAME:
        name = text(labels.LEVELS[2])
    template = labels.ACKNOWLEDGED_BY_CALL if values.get("channel") == "call" else labels.ACKNOWLEDGED_BY_SMS
    return text(template) % {"name": name}


def _hung_up(text: Translate, values: Mapping[str, Any]) -> str:
    talk = text(labels.TALK_TIME) % {"seconds": values.get("duration", 0)}
    status = values.get("status")
    if not status or status == "completed":
        return talk
    try:
        ended = text(labels.TITLES[EventKind.delivery("call", str(status))])
    except ValueError:
        ended = str(status)
    return f"{ended} · {talk}"
