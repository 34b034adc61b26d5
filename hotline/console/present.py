"""How stored codes read in the console, and the API's JSON shapes.

Labels are lazy translations: they are looked up in the language of the
request that renders them, not when this module is imported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from hotline.console.audit import STATION_SETTINGS
from hotline.console.closing import Outcome
from hotline.console.i18n import select_locale
from hotline.directory import Column
from hotline.directory.exporter import display_phone
from hotline.extensions import get_settings
from hotline.models import (
    AuditLog,
    Group,
    Incident,
    Member,
    Notification,
    Response,
    RingMode,
    Role,
    TimelineEvent,
)
from hotline.phones import PhoneError, parse_phone
from hotline.presenters.catalogue import translator

INCIDENT_STATUS_LABELS = {
    "open": _l("Open"),
    "acknowledged": _l("Acknowledged"),
    "closed": _l("Closed"),
}
OUTCOME_LABELS = {
    Outcome.RESOLVED.value: _l("Resolved"),
    Outcome.FALSE_ALARM.value: _l("False alarm"),
    Outcome.MISDIAL.value: _l("Misdial"),
}
ROLE_LABELS = {
    Role.HOUSEHOLD.value: _l("Household"),
    Role.LEADER.value: _l("Group leader"),
    Role.ASSISTANT.value: _l("Police assistant"),
    Role.OFFICER.value: _l("Community officer"),
}
RING_MODE_LABELS = {
    RingMode.SIMULTANEOUS.value: _l("Ring everyone at once"),
    RingMode.CONFERENCE.value: _l("Conference call"),
}
CHANNEL_LABELS = {"sms": _l("SMS"), "call": _l("Call")}
SOURCE_LABELS = {"sms": _l("SMS"), "call": _l("Call")}
PURPOSE_LABELS = {
    "alert": _l("Alert"),
    "confirmation": _l("Confirmation to caller"),
    "ack_notice": _l("Someone is on the way"),
    "escalation": _l("Escalation"),
    "help": _l("Reply help"),
    "receipt": _l("Late reply receipt"),
}
ANSWER_LABELS = {"accept": _l("Accepted"), "decline": _l("Declined")}
LEVEL_LABELS = {0: _l("Not escalated"), 1: _l("Officers"), 2: _l("Duty line")}
DELIVERY_LABELS = {
    "pending": _l("Waiting to send"),
    "claimed": _l("Sending"),
    "accepted": _l("Accepted by carrier"),
    "scheduled": _l("Scheduled"),
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "undelivered": _l("Undelivered"),
    "failed": _l("Failed"),
    "read": _l("Read"),
    "initiated": _l("Dialling"),
    "ringing": _l("Ringing"),
    "in-progress": _l("Answered"),
    "answered": _l("Answered"),
    "completed": _l("Call ended"),
    "busy": _l("Busy"),
    "no-answer": _l("No answer"),
    "canceled": _l("Cancelled"),
}
FAILED_DELIVERY = frozenset({"failed", "undelivered"})
IMPORT_ACTION_LABELS = {"create": _l("Will be added"), "update": _l("Will be changed"), "unchanged": _l("Unchanged")}
AUDIT_LABELS = {
    "member:create": _l("Member added"),
    "member:update": _l("Member changed"),
    "member:delete": _l("Member removed"),
    "group:create": _l("Group added"),
    "group:update": _l("Group changed"),
    "group:delete": _l("Group removed"),
    "directory:import": _l("File imported"),
    "user:password": _l("Password changed"),
    "user:token": _l("API token issued"),
    "station:quiet_hours": _l("Quiet hours changed"),
    "station:drill_standard": _l("Drill standard changed"),
}
DRILL_LABELS = {"all": _l("Drills and real alerts"), "real": _l("Real alerts only"), "drill": _l("Drills only")}
# The statistics offer real alerts or drills, never both together.
STATS_DRILL_LABELS = {"real": DRILL_LABELS["real"], "drill": DRILL_LABELS["drill"]}


# --- broadcasts and schedules -------------------------------------------------------------------------


def _words(language: str | None) -> Callable[[str], str]:
    """The catalogue's gettext for ``language`` (the request's when None): usable outside a request too."""
    return translator(language or select_locale()).gettext


def broadcast_channel_text(channel: str, language: str | None = None) -> str:
    """A broadcast's channel as people say it: 短信, 语音电话, 短信和语音电话."""
    _ = _words(language)
    words = {"sms": _("SMS"), "voice": _("Spoken call"), "both": _("SMS and spoken call")}
    return words.get(str(channel), str(channel))


WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NTH_DAY = re.compile(r"^([+-]?\d)?(MO|TU|WE|TH|FR|SA|SU)$")
# Parts of a rule the words below can say; a rule with any other part is shown as written.
_SAID = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "COUNT", "UNTIL", "WKST"}


class _Unsaid(ValueError):
    """A rule the words cannot say: it is shown as written."""


def _numbers(parts: dict[str, str], name: str, low: int, high: int) -> list[int]:
    try:
        found = [int(item) for item in parts[name].split(",")] if name in parts else []
    except ValueError:
        raise _Unsaid(name) from None
    if not all(low <= item <= high for item in found):
        raise _Unsaid(name)
    return found


def _period(parts: dict[str, str], start: datetime | None, _: Callable[[str], str], joiner: str) -> str:
    """When the rule repeats, without the time of day: 每天, 每个工作日, 每周一, 每月第一个周一, 每年12月7日.

    Raises:
        _Unsaid: The rule has what these words cannot say.
    """
    frequency = parts.get("FREQ")
    every = (_numbers(parts, "INTERVAL", 1, 999) or [1])[0]
    month_days = _numbers(parts, "BYMONTHDAY", 1, 31)
    months = _numbers(parts, "BYMONTH", 1, 12)
    day_names = dict(
        zip(
            WEEKDAYS,
            (_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")),
            strict=True,
        )
    )
    nth_names = {1: _("first"), 2: _("second"), 3: _("third"), 4: _("fourth"), 5: _("fifth"), -1: _("last")}
    days: list[tuple[int | None, str]] = []
    for item in parts["BYDAY"].split(",") if "BYDAY" in parts else ():
        found = _NTH_DAY.match(item)
        if found is None:
            raise _Unsaid("BYDAY")
        days.append((int(found.group(1)) if found.group(1) else None, found.group(2)))
    every_day_of = [day for nth, day in days if nth is None]
    if months and frequency != "YEARLY":
        raise _Unsaid("BYMONTH")
    if frequency in ("DAILY", "WEEKLY") and sorted(every_day_of, key=WEEKDAYS.index) == list(WEEKDAYS[:5]):
        if every == 1 and len(days) == 5 and not month_days:
            return _("every working day")
    if frequency == "DAILY" and not days and not month_days:
        return _("every day") if every == 1 else _("every %(n)d days") % {"n": every}
    if frequency == "WEEKLY" and len(every_day_of) == len(days) and not month_days:
        chosen = every_day_of or ([WEEKDAYS[start.weekday()]] if start else [])
        names = joiner.join(day_names[day] for day in sorted(chosen, key=WEEKDAYS.index))
        if not names:
            return _("every week") if every == 1 else _("every %(n)d weeks") % {"n": every}
        if every == 1:
            return _("every %(days)s") % {"days": names}
        return _("every %(n)d weeks on %(days)s") % {"n": every, "days": names}
    if frequency == "MONTHLY" and not (days and month_days):
        if days:
            if any(nth not in nth_names for nth, _day in days):
                raise _Unsaid("BYDAY")
            which = joiner.join(
                _("the %(nth)s %(day)s") % {"nth": nth_names[nth], "day": day_names[day]}
                for nth, day in days
                if nth is not None
            )
        else:
            chosen_days = month_days or ([start.day] if start else [])
            if not chosen_days:
                raise _Unsaid("MONTHLY")
            which = _("day %(days)s") % {"days": joiner.join(str(day) for day in chosen_days)}
        if every == 1:
            return _("every month on %(which)s") % {"which": which}
        return _("every %(n)d months on %(which)s") % {"n": every, "which": which}
    if frequency == "YEARLY" and not days and every == 1 and len(months) <= 1 and len(month_days) <= 1:
        month = months[0] if months else start.month if start else None
        day = month_days[0] if month_days else start.day if start else None
        if month is None or day is None:
            raise _Unsaid("YEARLY")
        return _("every year on %(date)s") % {"date": _("%(month)d/%(day)d") % {"month": month, "day": day}}
    raise _Unsaid(frequency or "FREQ")


def repeat_text(rule: str | None, starts_at: datetime | None, zone: ZoneInfo, language: str | None = None) -> str:
    """A repeat rule (RFC 5545 RRULE) as people say it: 每天18:00, 每个工作日18:00, 每月第一个周一10:00.

    The time of day is the rule's own (BYHOUR, BYMINUTE) or that of the first
    run ``starts_at``, read in ``zone``. A rule these words cannot say is
    shown as written; no rule is the empty string.
    """
    if not rule:
        return ""
    _ = _words(language)
    joiner = "、" if (language or select_locale()) == "zh" else ", "
    parts: dict[str, str] = {}
    for part in rule.strip().upper().removeprefix("RRULE:").split(";"):
        name, sep, value = part.partition("=")
        if not sep or not value or name not in _SAID:
            return rule
        parts[name] = value
    start = starts_at.astimezone(zone) if starts_at is not None else None
    try:
        period = _period(parts, start, _, joiner)
        hours = _numbers(parts, "BYHOUR", 0, 23) or ([start.hour] if start else [])
        minutes = _numbers(parts, "BYMINUTE", 0, 59) or ([start.minute] if start else [0])
        count = _numbers(parts, "COUNT", 1, 100_000)
        until = parts.get("UNTIL")
        end = date(int(until[:4]), int(until[4:6]), int(until[6:8])) if until else None
    except (_Unsaid, ValueError):
        return rule
    times = joiner.join(f"{hour:02d}:{minute:02d}" for hour in sorted(hours) for minute in sorted(minutes))
    text = _("%(period)s at %(time)s") % {"period": period, "time": times} if times else period
    if count:
        text = _("%(text)s, %(n)d times in all") % {"text": text, "n": count[0]}
    if end is not None:
        text = _("%(text)s, until %(date)s") % {"text": text, "date": end.isoformat()}
    return text


def label(labels: Mapping[Any, Any], code: Any) -> str:
    """The label of ``code``, or the code itself when it has none."""
    found = labels.get(code)
    return str(found) if found is not None else str(code or "")


DUTY_LINE_LEVEL = 2  # the escalation level of the station's duty line


def level_label(level: int) -> str:
    """The level reached, saying how often the duty line and officers were called again past it."""
    if level <= DUTY_LINE_LEVEL:
        return label(LEVEL_LABELS, level)
    duty_line = label(LEVEL_LABELS, DUTY_LINE_LEVEL)
    return gettext("%(level)s, called again %(n)d times", level=duty_line, n=level - DUTY_LINE_LEVEL)


def phone_text(e164: str | None) -> str:
    """A stored number as people read it: ``139 0000 1001`` at home, ``+44 20 7946 0958`` abroad.

    The console shows every number this one way (the ``phone`` template filter
    and the board's JSON use it); E.164 stays in data attributes and the API.
    Text that is not a number (a withheld caller ID) is shown as stored.
    """
    if not e164:
        return ""
    return display_phone(e164, get_settings(current_app).default_region)


def saved_phone(raw: str) -> str:
    """What an import will store for a typed number, shown as :func:`phone_text` shows it.

    ``１３８００１３８００３`` reads ``138 0013 8003``; text that is not a valid
    number is shown as typed, beside the error the import reports for it.
    """
    try:
        return phone_text(parse_phone(raw, get_settings(current_app).default_region).e164)
    except PhoneError:
        return raw


def audit_summary(entry: AuditLog) -> str:
    """An audit entry's summary in words; an import says how many members it added, changed and deactivated."""
    after = entry.after or {}
    if entry.entity == "directory" and entry.action == "import" and "created" in after:
        return gettext(
            "%(file)s: %(created)d added, %(updated)d changed, %(deactivated)d deactivated",
            file=after.get("file", ""),
            created=int(after.get("created", 0)),
            updated=int(after.get("updated", 0)),
            deactivated=int(after.get("deactivated", 0)),
        )
    if entry.entity == "station" and entry.action in STATION_SETTINGS:
        field = STATION_SETTINGS[entry.action]
        return gettext(
            "%(station)s: %(before)s → %(after)s",
            station=entry.summary,
            before=setting_text(field, (entry.before or {}).get(field)),
            after=setting_text(field, after.get(field)),
        )
    return entry.summary


def setting_text(field: str, value: Any) -> str:
    """A station setting's value as the audit log shows it; None is the service default."""
    if value is None or value == "":
        return gettext("the default")
    if field == "drill_standard_seconds":
        return gettext("%(n)d seconds", n=int(value))
    return str(value)


def iso(value: datetime | None) -> str | None:
    """A UTC timestamp for JSON, e.g. ``2026-05-01T08:00:00Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def seconds_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 1)


def member_json(member: Member) -> dict[str, Any]:
    return {
        "id": member.id,
        "group_id": member.group_id,
        "name": member.name,
        "phone": member.phone,
        "role": str(member.role),
        "address": member.address,
        "active": member.active,
        "opted_out": member.opted_out,
        "sms_capable": member.sms_capable,
    }


def group_json(group: Group, *, members: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "village": group.village.name,
        "village_id": group.village_id,
        "station": group.village.station.name,
        "ring_mode": str(group.ring_mode),
        "member_count": len(group.members),
    }
    if members:
        body["members"] = [member_json(member) for member in group.members]
    return body


def incident_json(
    incident: Incident, *, village: str | None, group: str | None, first_accept: datetime | None
) -> dict[str, Any]:
    return {
        "id": incident.id,
        "opened_at": iso(incident.opened_at),
        "village": village,
        "group": group,
        "group_id": incident.group_id,
        "caller_name": incident.caller_name,
        "caller_phone": incident.caller_phone,
        "source": incident.source,
        "status": str(incident.status),
        "is_drill": incident.is_drill,
        "unregistered": incident.unregistered,
        "escalation_level": incident.escalation_level,
        "acknowledged_at": iso(incident.acknowledged_at),
        "first_response_seconds": seconds_between(incident.opened_at, first_accept),
        "outcome": incident.outcome,
        "closed_at": iso(incident.closed_at),
    }


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "member_id": notification.member_id,
        "name": notification.recipient_name,
        "phone": notification.phone,
        "channel": str(notification.channel),
        "purpose": str(notification.purpose),
        "escalation_level": notification.escalation_level,
        "status": notification.status,
        "error_code": notification.error_code,
        "sent_at": iso(notification.sent_at),
        "status_at": iso(notification.status_at),
    }


def response_json(response: Response, opened_at: datetime) -> dict[str, Any]:
    return {
        "member_id": response.member_id,
        "name": response.responder_name,
        "phone": response.phone,
        "channel": str(response.channel),
        "answer": str(response.answer),
        "received_at": iso(response.received_at),
        "seconds": seconds_between(opened_at, response.received_at),
    }


def event_json(event: TimelineEvent, opened_at: datetime) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "seconds": seconds_between(opened_at, event.at),
        "kind": event.kind,
        "member_id": event.member_id,
        "notification_id": event.notification_id,
        "detail": event.detail,
    }


def template_globals() -> dict[str, Any]:
    """Labels and helpers every console template may use."""
    return {
        "label": label,
        "repeat_text": repeat_text,
        "broadcast_channel_text": broadcast_channel_text,
        "audit_summary": audit_summary,
        "saved_phone": saved_phone,
        "level_label": level_label,
        "INCIDENT_STATUS_LABELS": INCIDENT_STATUS_LABELS,
        "OUTCOME_LABELS": OUTCOME_LABELS,
        "ROLE_LABELS": ROLE_LABELS,
        "RING_MODE_LABELS": RING_MODE_LABELS,
        "CHANNEL_LABELS": CHANNEL_LABELS,
        "SOURCE_LABELS": SOURCE_LABELS,
        "PURPOSE_LABELS": PURPOSE_LABELS,
        "ANSWER_LABELS": ANSWER_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "DELIVERY_LABELS": DELIVERY_LABELS,
        "DRILL_LABELS": DRILL_LABELS,
        "STATS_DRILL_LABELS": STATS_DRILL_LABELS,
        "FAILED_DELIVERY": FAILED_DELIVERY,
        "IMPORT_ACTION_LABELS": IMPORT_ACTION_LABELS,
        "IMPORT_COLUMNS": {column.value: column for column in Column},
        "AUDIT_LABELS": AUDIT_LABELS,
    }
