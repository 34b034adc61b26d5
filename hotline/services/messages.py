"""Rendering the texts and prompts of one incident from the configured templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from config.settings import Settings
from config.templates import render
from hotline.models import Incident


def local_time(settings: Settings, moment: datetime) -> str:
    """``moment`` as a station would read it, e.g. ``11月27日 14:05``."""
    local = moment.astimezone(ZoneInfo(settings.timezone))
    if settings.language == "zh":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%d %b %H:%M}"


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


def render_for(settings: Settings, incident: Incident, name: str, **extra: str | int) -> str:
    """Render template ``name`` with the incident's values plus ``extra``."""
    return render(settings.language, name, **incident_values(settings, incident), **extra)


@dataclass(frozen=True)
class Message:
    """A rendered SMS with the template and values it came from.

    Carriers that send free text use ``text``; carriers that send only
    registered templates use ``template`` and ``params``.
    """

    template: str
    params: dict[str, str]
    text: str


def compose(settings: Settings, incident: Incident, name: str, **extra: str | int) -> Message:
    """Template ``name`` for ``incident``, rendered, with its values kept.

    Raises:
        config.templates.TemplateError: The template is missing or needs a value not given.
    """
    params = {**incident_values(settings, incident), **{key: str(value) for key, value in extra.items()}}
    return Message(template=name, params=params, text=render(settings.language, name, **params))


def compose_plain(settings: Settings, name: str, **values: str | int) -> Message:
    """Like :func:`compose`, for a template that needs no incident.

    Raises:
        config.templates.TemplateError: The template is missing or needs a value not given.
    """
    params = {key: str(value) for key, value in values.items()}
    return Message(template=name, params=params, text=render(settings.language, name, **params))
