"""The caller's side of an alert: what they hear while waiting, a call back when their call drops, a misdial.

A caller in trouble should always know where their alert stands, and should
never be promised what will not happen: :func:`status_text` says only what
the rows show (how many were alerted, who accepted, whether the station has
it). A call that drops before anyone accepts is not taken as the end of the
matter (silence may be an emergency): the alert goes on, and the caller is
called back once to ask whether they still need help or dialled by mistake.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from config.templates import render
from hotline.db import rows_changed
from hotline.models import (
    Answer,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    Response,
    Role,
    utcnow,
)
from hotline.services.escalation import escalation_delays, last_level
from hotline.services.messages import compose
from hotline.services.outbox import Work, add_notification, call_back_later, text_everyone_alerted
from hotline.services.timeline import record_event

MISDIAL = "misdial"  # the closing outcome of a call the caller cancelled
CANCEL_KEY = "9"  # the key a caller presses to cancel a misdial
STILL_NEED_HELP_KEY = "1"
_ROLE_WORDS = {Role.LEADER: "组长", Role.OFFICER: "民警", Role.ASSISTANT: "警务助理"}


def alerted_count(session: Session, incident: Incident) -> int:
    """How many numbers the group's alert reached out to (texted or rung), the caller aside."""
    phones = session.scalars(
        select(Notification.phone).where(
            Notification.incident_id == incident.id,
            Notification.purpose == Purpose.ALERT,
            Notification.phone != incident.caller_phone,
        ).distinct()
    ).all()
    return len(phones)


def coming(session: Session, incident: Incident) -> list[str]:
    """Who accepted, as the caller would call them: "组长赵六", "李四"."""
    responses = session.scalars(
        select(Response)
        .where(Response.incident_id == incident.id, Response.answer == Answer.ACCEPT)
        .order_by(Response.received_at, Response.id)
    ).all()
    names: list[str] = []
    for response in responses:
        member = response.member
        word = _ROLE_WORDS.get(Role(member.role), "") if member is not None else ""
        name = f"{word}{response.responder_name or response.phone}"
        if name not in names:
            names.append(name)
    return names


def station_alerted(settings: Settings, incident: Incident) -> bool:
    """Whether the station's duty line has been alerted (its level fired)."""
    delays = escalation_delays(settings, incident)
    return incident.station is not None and bool(incident.station.duty_phone) and (
        incident.escalation_level >= last_level(delays) >= 2
    )


def status_text(session: Session, settings: Settings, incident: Incident, *, waiting: bool = True) -> str:
    """What a waiting caller hears, e.g. "已通知9人。组长赵六正在赶来。派出所已收到您的求助。请不要挂机。".

    Without ``waiting`` the last request to stay on the line is left out (a
    transfer's own words follow).
    """
    language = settings.language
    parts = [render(language, "voice_status_alerted", count=alerted_count(session, incident))]
    names = coming(session, incident)
    if names:
        separator = "、" if language == "zh" else ", "
        parts.append(render(language, "voice_status_coming", names=separator.join(names)))
    if station_alerted(settings, incident):
        parts.append(render(language, "voice_status_station"))
    if waiting:
        parts.append(render(language, "voice_status_wait"))
    return ("" if language == "zh" else " ").join(parts)


def after_caller_hung_up(settings: Settings, incident: Incident) -> Work:
    """A caller's call ended: while nobody has accepted, call them back once, a little later."""
    if incident.status != IncidentStatus.OPEN or incident.source != "call" or incident.unregistered:
        return Work()
    return Work(later=[call_back_later(incident.id, settings.callback_delay)])


def call_back(session: Session, incident: Incident, now: datetime | None = None) -> Work:
    """Place the one call back to a caller whose call dropped, if the alert is still unanswered.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    if incident.status != IncidentStatus.OPEN:
        return Work()
    existing = session.scalar(
        select(Notification.id).where(
            Notification.incident_id == incident.id, Notification.purpose == Purpose.CALLER_CHECK
        )
    )
    if existing is not None:
        return Work()
    call = add_notification(
        session, incident, phone=incident.caller_phone, channel=Channel.CALL, purpose=Purpose.CALLER_CHECK,
        key="callback", member=incident.caller, name=incident.caller_name,
    )
    session.flush()
    record_event(
        session, incident.id, EventKind.CALLER_CALLED_BACK, at=now or utcnow(),
        phone=incident.caller_phone, notification_id=call.id,
    )
    return Work(call_ids=[call.id])


def still_needs_help(session: Session, incident: Incident, now: datetime | None = None) -> None:
    """The caller pressed 1 when called back: the alert goes on, and the timeline says so."""
    record_event(
        session, incident.id, EventKind.CALLER_STILL_NEEDS_HELP, at=now or utcnow(), phone=incident.caller_phone
    )


def cancel_as_misdial(session: Session, settings: Settings, incident: Incident, now: datetime | None = None) -> Work:
    """The caller pressed 9: close the incident as a misdial and tell everyone alerted.

    The update is conditional on the incident not being closed yet, so a
    second press, or staff closing it at the same moment, changes nothing.
    Escalation texts and calls not yet sent are cancelled by their jobs, as
    for any incident that is no longer open.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    now = now or utcnow()
    won = rows_changed(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status != IncidentStatus.CLOSED)
        .values(status=IncidentStatus.CLOSED, closed_at=now, outcome=MISDIAL)
        .execution_options(synchronize_session=False),
    )
    if not won:
        return Work()
    session.refresh(incident)
    record_event(session, incident.id, EventKind.CALLER_CANCELLED, at=now, phone=incident.caller_phone)
    notices = text_everyone_alerted(
        session, incident, purposes=(Purpose.ALERT, Purpose.ESCALATION), purpose=Purpose.CANCEL_NOTICE,
        key="misdial", message=compose(settings, incident, "sms_misdial"),
    )
    return Work(sms_ids=notices)
