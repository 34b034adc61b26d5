"""How stored codes read in the console, and the API's JSON shapes.

Labels are lazy translations: they are looked up in the language of the
request that renders them, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from hotline.console.audit import STATION_SETTINGS
from hotline.console.closing import Outcome
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
