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
from hotline.services.messages import compose, escalation_wording
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
# Past the last level, the officers and the duty line are called again every
# HOTLINE_ESCALATION_REPEAT seconds until someone accepts or staff take the incident.
#
# An incident for a caller in no group (a stranger's call or text, or an alarm a
# trigger raised for one) has no group and no officers: it starts at the duty
# line's level, and its station's duty line is called, and called again, like
# any other incident's (see :func:`first_level` and :func:`escalation_delays`).


def max_level_for(incident: Incident) -> int | None:
    """The highest level ``incident`` may escalate to; None when there is no cap.

    A drill reaches the officers, and the station's duty line (with the
    repeats past it) only when the drill asked for it: practice must never
    ring the duty line unannounced. The cap is written on the incident when
    it opens (:func:`hotline.services.incidents.open_incident`).
    """
    return incident.escalation_cap


def within_cap(incident: Incident, level: int) -> bool:
    """Whether ``level`` is at or below :func:`max_level_for` ``incident``."""
    cap = max_level_for(incident)
    return cap is None or level <= cap


def escalation_delays(settings: Settings, incident: Incident) -> tuple[int, ...]:
    """Seconds before each level: the station's own, or the global default.

    An incident of a caller in no group skips the officers (it has none):
    its duty line falls due at once for a text or an alarm, and for a call
    once the caller's own transfer to the duty line has had time to ring out
    (a transfer the duty line answered acknowledges the incident).
    """
    if incident.unregistered:
        return (0, ring_window(settings.ring_timeout) if incident.source == "call" else 0)
    if incident.station is not None:
        return incident.station.delays(settings.escalation_delays)
    return settings.escalation_delays


def ring_window(ring_timeout: int) -> int:
    """Seconds a call may still be ringing (or being answered) after it was placed."""
    return ring_timeout * 2 + 15


def first_level(incident: Incident) -> int:
    """The level an incident escalates to first: the officers, or the duty line for a caller in no group."""
    return DUTY_LINE if incident.unregistered else OFFICERS


def previous_level(incident: Incident, level: int) -> int:
    """The escalation level ``incident`` is at just before ``level`` fires (0 before its first)."""
    return 0 if level == first_level(incident) else level - 1


def last_level(delays: tuple[int, ...]) -> int:
    """The highest level with recipients of its own: the duty line, or fewer if fewer delays are set."""
    return min(len(delays), DUTY_LINE)


def due_at(incident: Incident, delays: tuple[int, ...], level: int, repeat: int = 0) -> datetime:
    """When ``level`` falls due: each delay counts from the previous level.

    Levels past the last are repeats, ``repeat`` seconds apart.
    """
    last = last_level(delays)
    if level <= last:
        return incident.opened_at + timedelta(seconds=sum(delays[:level]))
    return incident.opened_at + timedelta(seconds=sum(delays[:last]) + (level - last) * repeat)


def level_exists(delays: tuple[int, ...], level: int, repeat: int = 0) -> bool:
    """Whether ``level`` can fire: a configured level, or any repeat when repeats are on."""
    last = last_level(delays)
    return 1 <= level <= last or (last >= 1 and level > last and repeat > 0)


def is_repeat(delays: tuple[int, ...], level: int) -> bool:
    """Whether ``level`` calls the officers and the duty line again, past the last level."""
    return level > last_level(delays)


def needs_escalation(
    incident: Incident, level: int, delays: tuple[int, ...], now: datetime, repeat: int = 0
) -> bool:
    """Whether ``level`` should fire now (pure: reads only the incident row).

    It fires only while nobody has acknowledged, only right after the level
    below it (or first, for :func:`first_level`), only if that level exists
    (past the duty line only as a repeat, when repeats are on), and never
    before it is due.
    """
    return (
        incident.status == IncidentStatus.OPEN
        and level >= first_level(incident)
        and level_exists(delays, level, repeat)
        and incident.escalation_level == previous_level(incident, level)
        and now >= due_at(incident, delays, level, repeat)
    )


@dataclass
class Escalated:
    fired: bool
    sms_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)
    next_level: int | None = None
    next_delay: float | None = None


def recipients(incident: Incident, level: int) -> list[tuple[str, Member | None, str]]:
    """``(phone, member, name)`` to alert at ``level``; a repeat alerts the officers and the duty line."""
    if level > DUTY_LINE:
        seen: dict[str, tuple[str, Member | None, str]] = {}
        for person in recipients(incident, OFFICERS) + recipients(incident, DUTY_LINE):
            seen.setdefault(person[0], person)
        return list(seen.values())
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
    if not within_cap(incident, level):
        return Escalated(fired=False)
    delays = escalation_delays(settings, incident)
    repeat = settings.escalation_repeat
    before = previous_level(incident, level)
    if (
        incident.status == IncidentStatus.OPEN
        and level >= first_level(incident)
        and incident.escalation_level == before
        and level_exists(delays, level, repeat)
    ):
        remaining = (due_at(incident, delays, level, repeat) - now).total_seconds()
        if remaining > 0:
            return Escalated(fired=False, next_level=level, next_delay=remaining)
    if not needs_escalation(incident, level, delays, now, repeat):
        return Escalated(fired=False)
    won = rows_changed(
        session,
        update(Incident)
        .where(
            Incident.id == incident.id,
            Incident.status == IncidentStatus.OPEN,
            Incident.escalation_level == before,
        )
        .values(escalation_level=level, escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not won:
        return Escalated(fired=False)
    session.refresh(incident)
    # The text says how long the alert had waited when the level fell due (its due time, not a late
    # check's; a repeat's counts the repeats before it) and who was tried.
    waited = (due_at(incident, delays, level, repeat) - incident.opened_at).total_seconds()
    template, wording = escalation_wording(settings, incident, "sms", level, waited)
    message = compose(settings, incident, template, **wording)
    result = Escalated(fired=True)
    people = recipients(incident, level)
    in_transfer = _escalation_calls(session, incident, in_transfer=True)
    repeating = is_repeat(delays, level)
    for phone, member, name in people:
        # A repeat calls again; the texts of the levels before it said everything already. A caller
        # in no group has no group's words to text: the duty line was forwarded their text or alarm.
        if not repeating and not incident.unregistered and (member is None or member.reachable_by_sms):
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
    station = incident.station
    if (
        level == DUTY_LINE
        and station is not None
        and station.duty_phone
        and incident.caller is not None
        and incident.caller.reachable_by_sms
        and not incident.is_drill  # a drill's household placed no call and waits for nobody
    ):
        result.sms_ids.append(_tell_caller_station_alerted(session, settings, incident, level))
    record_event(
        session, incident.id, EventKind.ESCALATED, at=now, level=level,
        recipients=[{"phone": phone, "name": name} for phone, _, name in people],
        **({"repeat": level - last_level(delays)} if repeating else {}),
    )
    _schedule_next(result, incident, delays, repeat, level, now)
    return result


def _schedule_next(
    result: Escalated, incident: Incident, delays: tuple[int, ...], repeat: int, level: int, now: datetime
) -> None:
    if level_exists(delays, level + 1, repeat) and within_cap(incident, level + 1):
        result.next_level = level + 1
        result.next_delay = max(0.0, (due_at(incident, delays, level + 1, repeat) - now).total_seconds())


def _tell_caller_station_alerted(session: Session, settings: Settings, incident: Incident, level: int) -> int:
    """The caller learns the station has their alert, when its last level fires."""
    assert incident.caller is not None
    notice = add_notification(
        session, incident, phone=incident.caller.phone, channel=Channel.SMS, purpose=Purpose.CONFIRMATION,
        key=f"station-{level}", member=incident.caller, level=level,
        message=compose(settings, incident, "sms_caller_station_alerted"),
    )
    session.flush()
    return notice.id


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
            Notification.purpose.in_((Purpose.ESCALATION, Purpose.CONFIRMATION)),
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
    _schedule_next(result, incident, escalation_delays(settings, incident), settings.escalation_repeat, level, now)
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
    window = timedelta(seconds=ring_window(ring_timeout))
    return any(
        call.phone == phone
        and call.status in _LIVE_CALL
        and call.created_at is not None
        and now - call.created_at < window
        for call in calls
    )


def duty_line_will_ring(settings: Settings, incident: Incident) -> bool:
    """Whether the escalation calls the station's duty line for ``incident`` (or already has).

    Only then may a caller be told that the station has their alert: the
    incident has a station with a duty line, the duty line's level exists
    (its own, or a repeat past the officers), and the incident may escalate
    that far. A caller in no group has the duty line called too.
    """
    station = incident.station
    if station is None or not station.duty_phone:
        return False
    delays = escalation_delays(settings, incident)
    return within_cap(incident, DUTY_LINE) and level_exists(delays, DUTY_LINE, settings.escalation_repeat)


def first_check(settings: Settings, incident: Incident, now: datetime | None = None) -> EscalationCheck | None:
    """The check of the first level (:func:`first_level`) for a newly opened incident; None when nothing can escalate.

    A caller in no group can escalate only when their incident's station has
    a duty line to call.
    """
    if incident.unregistered and not recipients(incident, DUTY_LINE):
        return None
    now = now or utcnow()
    delays = escalation_delays(settings, incident)
    level = first_level(incident)
    return EscalationCheck(incident.id, level, max(0.0, (due_at(incident, delays, level) - now).total_seconds()))


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
    """The level an open incident escalates to next; None when none is left."""
    if incident.status != IncidentStatus.OPEN or (incident.unregistered and not recipients(incident, DUTY_LINE)):
        return None
    delays = escalation_delays(settings, incident)
    level = max(incident.escalation_level + 1, first_level(incident))
    if not level_exists(delays, level, settings.escalation_repeat) or not within_cap(incident, level):
        return None
    return DueCheck(level=level, due=due_at(incident, delays, level, settings.escalation_repeat))


# The dedupe round of the officers' calls placed in the caller's own transfer.
TRANSFER_KEY = "transfer"
# The most officers rung together in the caller's transfer, unless the carrier says otherwise.
DEFAULT_MAX_LEGS = 10


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
        station_alerted: With nobody left, whether the escalation calls the
            station's duty line (:func:`duty_line_will_ring`), so the caller
            may be told the station has the alert.
    """

    to: TransferTo
    stage: int
    legs: list[tuple[str, int]] = field(default_factory=list)
    phone: str | None = None
    station_alerted: bool = False


def plan_transfer(
    session: Session, settings: Settings, incident: Incident, stage: int, now: datetime | None = None,
    *, max_legs: int = DEFAULT_MAX_LEGS,
) -> Transfer:
    """Decide, and record, where the waiting caller is put through at ``stage``.

    Stage 1 rings the group's officers (screened, in the caller's call), but
    none that an escalation call is already ringing, and at most ``max_legs``
    of them (the carrier's ``max_ring_group``: one ``<Dial>`` holds no more;
    the others are called by the escalation's own calls); stage 2 the station's
    duty line; after that nobody is left. A stage with nobody to ring moves
    on to the next. With nobody left, the caller may be told the station has
    the alert only if the escalation calls its duty line.

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
            if len(legs) >= max(max_legs, 1):
                break
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
    return Transfer(TransferTo.NOBODY, DUTY_LINE + 1, station_alerted=duty_line_will_ring(settings, incident))



def escalation_prompt(settings: Settings, incident: Incident, notification: Notification) -> tuple[str, dict[str, str]]:
    """The screening prompt of an escalation call: its template, and how long and who was tried.

    An officer rung in the caller's own transfer hears how long the caller
    had waited when the transfer began; an escalation call, how long the
    alert had waited when its level fell due, counted from the alert's start
    (a repeat past the last level counts every repeat before it). The duty
    line called for a caller in no group hears that, and the caller's number.
    """
    if incident.unregistered:
        return "voice_screen_unregistered", {}
    level = max(notification.escalation_level, OFFICERS)
    if notification.via_dial and notification.created_at is not None:
        waited = (notification.created_at - incident.opened_at).total_seconds()
    else:
        delays = escalation_delays(settings, incident)
        due = due_at(incident, delays, level, settings.escalation_repeat)
        waited = (due - incident.opened_at).total_seconds()
    return escalation_wording(settings, incident, "voice_screen", level, waited)
