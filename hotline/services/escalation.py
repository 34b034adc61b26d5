"""Escalation: officers and assistant first, then the station's duty line.

:func:`needs_escalation` is a pure decision on the incident's row; the
conditional update in :func:`escalate` is the fence that lets each level fire
at most once, however many checks run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.models import Channel, Incident, IncidentStatus, Member, Notification, Purpose, Role, utcnow
from hotline.services.incidents import add_notification
from hotline.services.messages import render_for
from hotline.services.timeline import record_event

OFFICERS = 1  # the group's community officer(s) and police assistant
DUTY_LINE = 2  # the station's duty line


def escalation_delays(settings: Settings, incident: Incident) -> tuple[int, ...]:
    """Seconds before each level: the station's own, or the global default."""
    if incident.station is not None:
        return incident.station.delays(settings.escalation_delays)
    return settings.escalation_delays


def due_at(incident: Incident, delays: tuple[int, ...], level: int) -> datetime:
    """When ``level`` falls due: each delay counts from the previous level."""
    return incident.opened_at + timedelta(seconds=sum(delays[:level]))


def needs_escalation(incident: Incident, level: int, delays: tuple[int, ...], now: datetime) -> bool:
    """Whether ``level`` should fire now (pure: reads only the incident row).

    It fires only while nobody has acknowledged, only right after the level
    below it, only if that level exists, and never before it is due.
    """
    return (
        incident.status == IncidentStatus.OPEN
        and 1 <= level <= min(len(delays), DUTY_LINE)
        and incident.escalation_level == level - 1
        and now >= due_at(incident, delays, level)
    )


@dataclass
class Escalated:
    fired: bool
    sms_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)
    next_level: int | None = None
    next_delay: float | None = None


def recipients(incident: Incident, level: int) -> list[tuple[str, Member | None, str]]:
    """``(phone, member, name)`` to alert at ``level``."""
    if level == OFFICERS:
        if incident.group is None:
            return []
        chosen: dict[str, tuple[str, Member | None, str]] = {}
        for member in incident.group.members:
            if member.active and member.role in (Role.OFFICER, Role.ASSISTANT):
                chosen.setdefault(member.phone, (member.phone, member, member.name))
        return list(chosen.values())
    station = incident.station
    if station is not None and station.duty_phone:
        return [(station.duty_phone, None, station.name)]
    return []


def escalate(session: Session, settings: Settings, incident: Incident, level: int, now: datetime | None = None) -> Escalated:
    """Fire ``level`` if it is due and nobody else fired it; write its notifications.

    Returns what to enqueue after commit, and when to check the next level.
    A check that arrives early asks to be re-scheduled for the remaining time.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing fired.
    """
    now = now or utcnow()
    delays = escalation_delays(settings, incident)
    if incident.status == IncidentStatus.OPEN and incident.escalation_level == level - 1 and level <= len(delays):
        remaining = (due_at(incident, delays, level) - now).total_seconds()
        if remaining > 0:
            return Escalated(fired=False, next_level=level, next_delay=remaining)
    if not needs_escalation(incident, level, delays, now):
        return Escalated(fired=False)
    won = session.execute(
        update(Incident)
        .where(
            Incident.id == incident.id,
            Incident.status == IncidentStatus.OPEN,
            Incident.escalation_level == level - 1,
        )
        .values(escalation_level=level, escalated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return Escalated(fired=False)
    session.refresh(incident)
    minutes = max(1, round((now - incident.opened_at).total_seconds() / 60))
    body = render_for(settings, incident, "sms_escalation", minutes=minutes)
    result = Escalated(fired=True)
    people = recipients(incident, level)
    for phone, member, name in people:
        if member is None or member.reachable_by_sms:
            sms = add_notification(
                session, incident, phone=phone, channel=Channel.SMS, purpose=Purpose.ESCALATION,
                key=str(level), member=member, name=name, body=body, level=level,
            )
            session.flush()
            result.sms_ids.append(sms.id)
        call = add_notification(
            session, incident, phone=phone, channel=Channel.CALL, purpose=Purpose.ESCALATION,
            key=str(level), member=member, name=name, level=level,
        )
        session.flush()
        result.call_ids.append(call.id)
    record_event(
        session, incident.id, "escalated", at=now, level=level,
        recipients=[{"phone": phone, "name": name} for phone, _, name in people],
    )
    if level < min(len(delays), DUTY_LINE):
        result.next_level = level + 1
        result.next_delay = max(0.0, (due_at(incident, delays, level + 1) - now).total_seconds())
    return result


def resume_escalation(session: Session, settings: Settings, incident: Incident, level: int, now: datetime | None = None) -> Escalated:
    """The follow-up work of a ``level`` that already fired, for a check that runs again.

    A check whose enqueueing failed after its commit is retried by RQ; the
    fence then stops :func:`escalate`, so the retry must pick up the level's
    unsent notifications and the next check from here. Nothing fires.
    """
    now = now or utcnow()
    if incident.status != IncidentStatus.OPEN or incident.escalation_level != level:
        return Escalated(fired=False)
    unsent = session.execute(
        select(Notification.id, Notification.channel).where(
            Notification.incident_id == incident.id,
            Notification.purpose == Purpose.ESCALATION,
            Notification.escalation_level == level,
            Notification.via_dial.is_(False),
            Notification.status == "pending",
        ).order_by(Notification.id)
    ).all()
    result = Escalated(
        fired=False,
        sms_ids=[id_ for id_, channel in unsent if channel == Channel.SMS],
        call_ids=[id_ for id_, channel in unsent if channel == Channel.CALL],
    )
    delays = escalation_delays(settings, incident)
    if level < min(len(delays), DUTY_LINE):
        result.next_level = level + 1
        result.next_delay = max(0.0, (due_at(incident, delays, level + 1) - now).total_seconds())
    return result
