"""Escalation: officers and assistant first, then the station's duty line.

The one place that decides what escalates when and to whom, for every path:
the scheduled checks (:func:`run_check`), the first check after an incident
opens (:func:`first_check`), the sweeper's look for lost checks
(:func:`next_check`), and the caller's own transfer when nobody in the group
accepts (:func:`plan_transfer`).

:func:`needs_escalation` and :func:`ringing_now` are pure decisions on rows;
the conditional update in :func:`escalate` is the fence that lets each level
fire at most once, however many checks run. A number that one path is
already ringing is not rung by the other at the same time.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.base import DeliveryStatus
from hotline.db import rows_changed
from hotline.models import Channel, EventKind, Incident, IncidentStatus, Member, Notification, Purpose, Role, utcnow
from hotline.services.messages import compose
from hotline.services.outbox import (
    INCIDENT,
    EscalationCheck,
    Work,
    add_notification,
    dedupe_key,
    find_by_dedupe_key,
)
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


def escalate(
    session: Session, settings: Settings, incident: Incident, level: int, now: datetime | None = None,
) -> Escalated:
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
    won = rows_changed(
        session,
        update(Incident)
        .where(
            Incident.id == incident.id,
            Incident.status == IncidentStatus.OPEN,
            Incident.escalation_level == level - 1,
        )
        .values(escalation_level=level, escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won:
        return Escalated(fired=False)
    session.refresh(incident)
    minutes = max(1, round((now - incident.opened_at).total_seconds() / 60))
    message = compose(settings, incident, "sms_escalation", minutes=minutes)
    result = Escalated(fired=True)
    people = recipients(incident, level)
    in_transfer = _escalation_calls(session, incident, in_transfer=True)
    for phone, member, name in people:
        if member is None or member.reachable_by_sms:
            sms = add_notification(
                session, incident, phone=phone, channel=Channel.SMS, purpose=Purpose.ESCALATION,
                key=str(level), member=member, name=name, message=message, level=level,
            )
            session.flush()
            result.sms_ids.append(sms.id)
        if ringing_now(in_transfer, phone, now, settings.ring_timeout):
            # The caller's transfer is ringing this number: one ring at a time.
            continue
        call = add_notification(
            session, incident, phone=phone, channel=Channel.CALL, purpose=Purpose.ESCALATION,
            key=str(level), member=member, name=name, level=level,
        )
        session.flush()
        result.call_ids.append(call.id)
    record_event(
        session, incident.id, EventKind.ESCALATED, at=now, level=level,
        recipients=[{"phone": phone, "name": name} for phone, _, name in people],
    )
    if level < min(len(delays), DUTY_LINE):
        result.next_level = level + 1
        result.next_delay = max(0.0, (due_at(incident, delays, level + 1) - now).total_seconds())
    return result


def resume_escalation(
    session: Session, settings: Settings, incident: Incident, level: int, now: datetime | None = None,
) -> Escalated:
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


# Statuses of a call that may still be ringing or talking.
_LIVE_CALL = frozenset(
    {
        DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.QUEUED, DeliveryStatus.INITIATED,
        DeliveryStatus.RINGING, DeliveryStatus.ANSWERED, DeliveryStatus.IN_PROGRESS,
    }
)


def _escalation_calls(session: Session, incident: Incident, *, in_transfer: bool) -> list[Notification]:
    """The officers' calls of one path: the caller's transfer, or the escalation's own calls."""
    return list(
        session.scalars(
            select(Notification).where(
                Notification.incident_id == incident.id,
                Notification.channel == Channel.CALL,
                Notification.purpose == Purpose.ESCALATION,
                Notification.via_dial.is_(in_transfer),
            )
        ).all()
    )


def ringing_now(calls: Iterable[Notification], phone: str, now: datetime, ring_timeout: int) -> bool:
    """Whether one of ``calls`` may still be ringing (or talking to) ``phone`` (pure).

    A call row whose carrier never reported back counts only for as long as
    a call could ring, so a lost report cannot keep a number from being
    called for good.
    """
    window = timedelta(seconds=ring_timeout * 2 + 15)
    return any(
        call.phone == phone
        and call.status in _LIVE_CALL
        and call.created_at is not None
        and now - call.created_at < window
        for call in calls
    )


def first_check(settings: Settings, incident: Incident, now: datetime | None = None) -> EscalationCheck | None:
    """The check of level 1 for a newly opened incident; None when nothing can escalate."""
    if incident.unregistered:
        return None
    now = now or utcnow()
    delays = escalation_delays(settings, incident)
    return EscalationCheck(incident.id, 1, max(0.0, (due_at(incident, delays, 1) - now).total_seconds()))


def run_check(
    session: Session, settings: Settings, incident: Incident, level: int, now: datetime | None = None,
) -> tuple[str, Work]:
    """Run one scheduled check of ``level``: fire it, or finish a level that fired, or wait.

    Returns a word for the job's result and the work to enqueue after commit:
    the level's texts and calls, and the next check (a check that came early
    is put back for the time that remains, under a tag of its own).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing fired.
    """
    now = now or utcnow()
    result = escalate(session, settings, incident, level, now)
    if not result.fired and result.next_level is None:
        result = resume_escalation(session, settings, incident, level, now)
    work = Work(sms_ids=result.sms_ids, call_ids=result.call_ids)
    if result.next_level is not None and result.next_delay is not None:
        early = result.next_level == level
        tag = f"-at-{int(now.timestamp())}" if early else ""
        work.escalation = EscalationCheck(incident.id, result.next_level, result.next_delay, tag)
    return ("fired" if result.fired else "not fired"), work


@dataclass(frozen=True)
class DueCheck:
    """The next level of an open incident, and when it falls due."""

    level: int
    due: datetime


def next_check(settings: Settings, incident: Incident) -> DueCheck | None:
    """The level an open, registered incident escalates to next; None when none is left."""
    if incident.status != IncidentStatus.OPEN or incident.unregistered:
        return None
    delays = escalation_delays(settings, incident)
    level = incident.escalation_level + 1
    if level > min(len(delays), DUTY_LINE):
        return None
    return DueCheck(level=level, due=due_at(incident, delays, level))


class TransferTo(enum.StrEnum):
    OFFICERS = "officers"
    DUTY_LINE = "duty_line"
    NOBODY = "nobody"


@dataclass
class Transfer:
    """Where the caller goes when nobody in the group accepted.

    Attributes:
        to: Officers (rung together and screened), the duty line, or nobody left.
        stage: The stage this transfer is (1 officers, 2 duty line).
        legs: ``(phone, notification id)`` of each officer to ring.
        phone: The duty line's number.
    """

    to: TransferTo
    stage: int
    legs: list[tuple[str, int]] = field(default_factory=list)
    phone: str | None = None


def plan_transfer(
    session: Session, settings: Settings, incident: Incident, stage: int, now: datetime | None = None,
) -> Transfer:
    """Decide, and record, where the waiting caller is put through at ``stage``.

    Stage 1 rings the group's officers (screened, in the caller's call), but
    none that an escalation call is already ringing; stage 2 the station's
    duty line; after that nobody is left. A stage with nobody to ring moves
    on to the next.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    now = now or utcnow()
    if stage <= OFFICERS:
        escalation_calls = _escalation_calls(session, incident, in_transfer=False)
        people = [
            person for person in recipients(incident, OFFICERS)
            if person[0] != incident.caller_phone
        ]
        legs: list[tuple[str, int]] = []
        for phone, member, name in people:
            existing = find_by_dedupe_key(
                session, dedupe_key(INCIDENT, incident.id, Purpose.ESCALATION, Channel.CALL, TRANSFER_KEY, phone)
            )
            if existing is None and ringing_now(escalation_calls, phone, now, settings.ring_timeout):
                continue
            notification = existing or add_notification(
                session, incident, phone=phone, channel=Channel.CALL, purpose=Purpose.ESCALATION,
                key=TRANSFER_KEY, member=member, name=name, level=OFFICERS, via_dial=True,
            )
            session.flush()
            legs.append((phone, notification.id))
        if legs:
            record_event(session, incident.id, EventKind.TRANSFERRED, level=OFFICERS, to=[phone for phone, _ in legs])
            return Transfer(TransferTo.OFFICERS, OFFICERS, legs=legs)
    if stage <= DUTY_LINE:
        duty = incident.station.duty_phone if incident.station else None
        if duty:
            record_event(session, incident.id, EventKind.TRANSFERRED, level=DUTY_LINE, to=[duty])
            return Transfer(TransferTo.DUTY_LINE, DUTY_LINE, phone=duty)
    record_event(session, incident.id, EventKind.CALLER_TOLD_NOBODY_ANSWERED)
    return Transfer(TransferTo.NOBODY, DUTY_LINE + 1)


# The dedupe round of the officers' calls placed in the caller's own transfer.
TRANSFER_KEY = "transfer"
