"""Rendering the texts and prompts of one incident from the configured templates.

Every SMS goes out in at most :data:`MAX_SEGMENTS` parts. When a long value
(an address, a forwarded text) would make it longer, that value is
shortened, never the template's own words: the reply instructions always
arrive whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.settings import Settings
from config.templates import load_templates, render
from hotline.models import Incident, Purpose
from hotline.services.segments import fits

# The most SMS parts one text may take: a second part is cheap, a third is rarely read.
MAX_SEGMENTS = 2

# Values that may be shortened to fit, first to last. Fixed wording never is.
SHORTENABLE = ("body", "address", "caller_name", "responder", "village", "group")

# The value whose cut is marked with the ``truncated_note`` template; the rest end with ``ellipsis``.
NOTED_CUT = "body"


def local_time(settings: Settings, moment: datetime) -> str:
    """``moment`` as a station would read it, e.g. ``11月27日 14:05``."""
    local = moment.astimezone(ZoneInfo(settings.timezone))
    if settings.language == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%d %b %H:%M}"


def duration_text(settings: Settings, seconds: float) -> str:
    """A wait as people say it: ``45秒``, ``2分钟``, ``1分30秒`` (``45 s``, ``2 min``, ``1 min 30 s``)."""
    total = max(0, round(seconds))
    minutes, rest = divmod(total, 60)
    if settings.language == "zh":
        if not minutes:
            return f"{rest}秒"
        return f"{minutes}分钟" if not rest else f"{minutes}分{rest}秒"
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" if not rest else f"{minutes} min {rest} s"


def incident_values(settings: Settings, incident: Incident) -> dict[str, str]:
    """Placeholders every incident template may use."""
    caller = incident.caller
    group = incident.group
    unknown = "未登记" if settings.language == "zh" else "unknown"
    return {
        "caller_name": incident.caller_name or incident.caller_phone,
        "caller_phone": incident.caller_phone,
        "address": caller.address if caller and caller.address else unknown,
        "group": group.name if group else "",
        "village": group.village.name if group else "",
        "time": local_time(settings, incident.opened_at),
    }


def drill_prefix(settings: Settings, incident: Incident, name: str) -> str:
    """The words a drill's text or prompt starts with ("【演练】", "这是一次联防演练。"); empty for a real alert.

    Every SMS and every prompt of an incident is rendered by :func:`compose`
    or :func:`render_for`, and both put this first, so nobody mistakes a
    drill for an emergency, whatever the template says.
    """
    if not incident.is_drill:
        return ""
    return render(settings.language, "drill_sms_prefix" if name.startswith("sms_") else "drill_voice_prefix")


def render_for(settings: Settings, incident: Incident, name: str, **extra: str | int) -> str:
    """Render template ``name`` with the incident's values plus ``extra`` (a drill's with its prefix)."""
    text = render(settings.language, name, **{**incident_values(settings, incident), **extra})
    return drill_prefix(settings, incident, name) + text


def alerted_count(incident: Incident) -> int:
    """How many people the group's alert went to (a member with two numbers counts once)."""
    return len(
        {
            notification.member_id or notification.phone
            for notification in incident.notifications
            if notification.purpose == Purpose.ALERT
        }
    )


def officers_were_alerted(incident: Incident) -> bool:
    """Whether the first escalation level (the officers) actually reached out to anyone."""
    return any(
        notification.purpose == Purpose.ESCALATION and notification.escalation_level == 1
        for notification in incident.notifications
    )


def escalation_wording(
    settings: Settings, incident: Incident, kind: str, level: int, waited_seconds: float,
) -> tuple[str, dict[str, str]]:
    """The escalation template of ``kind`` (``sms`` or ``voice_screen``) and its values.

    The text says how long nobody answered (``waited``) and who was tried:
    the group's ``count`` members, and from the duty line's level on, the
    officers too when any were alerted. A duty line reached with no officer
    to try hears only about the group, which is what happened.
    """
    suffix = "_officers_silent" if level >= 2 and officers_were_alerted(incident) else ""
    values = {"waited": duration_text(settings, waited_seconds), "count": str(alerted_count(incident))}
    return f"{kind}_escalation{suffix}", values


@dataclass(frozen=True)
class Message:
    """A rendered SMS with the template and values it came from.

    Carriers that send free text use ``text``; carriers that send only
    registered templates use ``template`` and ``params``.
    """

    template: str
    params: dict[str, str]
    text: str


def _cut(value: str, keep: int, marker: str) -> str:
    return value[:keep] + marker


def _shortened(language: str, name: str, params: dict[str, str], parts: int, prefix: str = "") -> dict[str, str]:
    """``params`` with long values cut, in :data:`SHORTENABLE`'s order, until the text fits ``parts``.

    Each value is cut as little as will do (a binary search: more of a value
    never makes fewer parts). A text whose fixed wording alone is too long
    keeps every value cut to its marker and goes out longer. ``prefix`` (a
    drill's) is counted as part of the text.
    """
    params = dict(params)
    if fits(prefix + render(language, name, **params), parts):
        return params
    pattern = load_templates(language)[name]
    markers = {key: render(language, "truncated_note" if key == NOTED_CUT else "ellipsis") for key in SHORTENABLE}
    for key in _present(SHORTENABLE, pattern, params):
        value, marker = params[key], markers[key]
        low, high = 0, len(value) - 1  # the longest prefix that fits lies in [low, high]
        if not fits(prefix + render(language, name, **{**params, key: _cut(value, low, marker)}), parts):
            params[key] = _cut(value, 0, marker)
            continue
        while low < high:
            middle = (low + high + 1) // 2
            if fits(prefix + render(language, name, **{**params, key: _cut(value, middle, marker)}), parts):
                low = middle
            else:
                high = middle - 1
        params[key] = _cut(value, low, marker)
        return params
    return params


def _present(keys: Iterable[str], pattern: str, params: dict[str, str]) -> list[str]:
    """The ``keys`` that ``pattern`` shows and that have a value to cut."""
    return [key for key in keys if "{" + key + "}" in pattern and params.get(key)]


def _message(settings: Settings, name: str, params: dict[str, str], prefix: str = "") -> Message:
    if name.startswith("sms_"):
        params = _shortened(settings.language, name, params, MAX_SEGMENTS, prefix)
    return Message(template=name, params=params, text=prefix + render(settings.language, name, **params))


def compose(settings: Settings, incident: Incident, name: str, **extra: str | int) -> Message:
    """Template ``name`` for ``incident``, rendered, with its values kept.

    An SMS template's long values are shortened to fit :data:`MAX_SEGMENTS`
    parts, and ``params`` carry the shortened values the text shows. A
    drill's text starts with :func:`drill_prefix`.

    Raises:
        config.templates.TemplateError: The template is missing or needs a value not given.
    """
    params = {**incident_values(settings, incident), **{key: str(value) for key, value in extra.items()}}
    return _message(settings, name, params, drill_prefix(settings, incident, name))


def compose_plain(settings: Settings, name: str, **values: str | int) -> Message:
    """Like :func:`compose`, for a template that needs no incident.

    Raises:
        config.templates.TemplateError: The template is missing or needs a value not given.
    """
    return _message(settings, name, {key: str(value) for key, value in values.items()})
