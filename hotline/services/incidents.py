"""Opening an incident: find the caller's group and write the whole fan-out.

The incident, its outbox rows (one notification per SMS or call) and its
first timeline events are written in one transaction by the caller of these
functions; jobs are enqueued only after that transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from config.settings import Settings
from hotline.carriers.base import Capabilities
from hotline.models import (
    Channel,
    EventKind,
    Group,
    Incident,
    Member,
    Notification,
    Purpose,
    RingMode,
    Station,
    Village,
    utcnow,
)
from hotline.services.escalation import first_check
from hotline.services.messages import compose
from hotline.services.outbox import Work, add_notification
from hotline.services.recall import first_recall
from hotline.services.timeline import record_event

# The source of a drill's incident: nobody called; the drill raised it for one of the group's households.
DRILL_SOURCE = "drill"


@dataclass
class Opened:
    """The result of :func:`open_incident`.

    Attributes:
        incident: The incident, new or found again.
        created: False when the same CallSid or MessageSid had already opened it.
        dial_legs: ``(phone, notification id)`` of every member to ring in
            the caller's own call (simultaneous mode, on a carrier that can
            ring a group).
        sms_ids: SMS notifications to enqueue after commit.
        call_ids: Calls a worker must place through the carrier's REST API.
    """

    incident: Incident
    created: bool
    dial_legs: list[tuple[str, int]] = field(default_factory=list)
    sms_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)

    def work(self, settings: Settings) -> Work:
        """What to enqueue after commit: the texts and REST calls, the first escalation check and,
        for a new incident, the first round of calling again."""
        work = Work(sms_ids=list(self.sms_ids), call_ids=list(self.call_ids))
        if self.created:
            work.escalation = first_check(settings, self.incident)
            work.later = first_recall(settings, self.incident).later
        return work


def find_caller(session: Session, phone: str) -> Member | None:
    """The household or leader registered with ``phone``, if any.

    The directory guarantees at most one, so a caller finds exactly one group.
    """
    return session.scalar(
        select(Member)
        .where(Member.phone == phone, Member.role.in_(("household", "leader")), Member.active.is_(True))
        # Opening an incident reads the group, its village's station and every member:
        # loaded here in two statements rather than one lazy load each.
        .options(
            joinedload(Member.group).joinedload(Group.village).joinedload(Village.station),
            joinedload(Member.group).selectinload(Group.members),
        )
    )


def station_for(session: Session, called: str | None) -> Station | None:
    """The station a call to ``called`` belongs to when the caller is in no group.

    The station whose own hotline number was dialled; otherwise the only
    station there is; otherwise none (city-wide users see it as needing one).
    """
    if called:
        own = session.scalar(select(Station).where(Station.hotline_number == called))
        if own is not None:
            return own
    stations = session.scalars(select(Station).limit(2)).all()
    return stations[0] if len(stations) == 1 else None


def _existing(session: Session, call_sid: str | None, message_sid: str | None) -> Incident | None:
    if call_sid:
        return session.scalar(select(Incident).where(Incident.call_sid == call_sid))
    if message_sid:
        return session.scalar(select(Incident).where(Incident.message_sid == message_sid))
    return None


def responders(group: Group | None, caller_phone: str) -> list[Member]:
    """The group's active members other than the caller, one per number."""
    if group is None:
        return []
    seen: set[str] = {caller_phone}
    chosen = []
    for member in group.members:
        if member.active and member.phone not in seen:
            seen.add(member.phone)
            chosen.append(member)
    return chosen


def open_incident(
    session: Session,
    settings: Settings,
    *,
    caller_phone: str,
    source: str,
    call_sid: str | None = None,
    message_sid: str | None = None,
    now: datetime | None = None,
    capabilities: Capabilities | None = None,
    called: str | None = None,
    escalation_cap: int | None = None,
) -> Opened:
    """Open an incident for ``caller_phone`` and write its fan-out, idempotently.

    A second webhook with the same CallSid (or MessageSid) returns the first
    incident with ``created=False`` and writes nothing. A caller in no group
    opens an incident marked ``unregistered``, with no fan-out. The group
    is rung in the caller's own call only when the carrier
    (``capabilities``) can ring a group; otherwise every member is called.

    With ``source`` :data:`DRILL_SOURCE` the incident is a drill
    (``is_drill``): the members are called by workers, as nobody is on the
    line, and the household it is raised for is not texted a confirmation.
    ``escalation_cap`` is the highest escalation level it may reach (see
    :func:`hotline.services.escalation.max_level_for`).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    now = now or utcnow()
    found = _existing(session, call_sid, message_sid)
    if found is not None:
        return Opened(incident=found, created=False)

    caller = find_caller(session, caller_phone)
    group = caller.group if caller else None
    station = group.village.station if group else station_for(session, called)
    incident = Incident(
        station_id=station.id if station else None,
        group_id=group.id if group else None,
        caller_member_id=caller.id if caller else None,
        caller_phone=caller_phone,
        caller_name=caller.name if caller else "",
        source=source,
        call_sid=call_sid,
        message_sid=message_sid,
        unregistered=caller is None,
        is_drill=source == DRILL_SOURCE,
        escalation_cap=escalation_cap,
        opened_at=now,
    )
    try:
        with session.begin_nested():
            session.add(incident)
            session.flush()
    except IntegrityError:
        # A concurrent copy of the same webhook won the race.
        found = _existing(session, call_sid, message_sid)
        if found is None:
            raise
        return Opened(incident=found, created=False)

    # Not flushed here: the first event goes to the database with the fan-out's rows, in one flush.
    record_event(
        session,
        incident.id,
        EventKind.DRILL_STARTED if source == DRILL_SOURCE
        else EventKind.CALL_RECEIVED if source == "call"
        else EventKind.SMS_RECEIVED,
        at=now,
        member_id=caller.id if caller else None,
        caller=caller_phone,
        unregistered=caller is None,
    )
    opened = Opened(incident=incident, created=True)
    if group is None:
        return opened
    _write_fan_out(session, settings, opened, group, source, capabilities or Capabilities(True, True, True))
    return opened


def _write_fan_out(
    session: Session, settings: Settings, opened: Opened, group: Group, source: str, capabilities: Capabilities
) -> None:
    """Write a text and a call for every responder, and a confirmation text for the caller.

    In simultaneous mode, on a carrier that can ring a group, the first
    ``capabilities.max_ring_group`` responders (in the group's order) ring in
    the caller's own call; the rest are called by workers, screened the same
    way, so a group larger than one ring group still reaches everyone.
    """
    incident = opened.incident
    members = responders(group, incident.caller_phone)
    alert = compose(settings, incident, "sms_alert")
    texted: list[Notification] = []
    for member in members:
        if member.reachable_by_sms:
            texted.append(
                add_notification(
                    session, incident, phone=member.phone, channel=Channel.SMS,
                    purpose=Purpose.ALERT, key="0", member=member, message=alert,
                )
            )
    ring_by_dial = source == "call" and group.ring_mode == RingMode.SIMULTANEOUS and capabilities.ring_group
    in_dial = max(capabilities.max_ring_group, 0) if ring_by_dial else 0
    rung: list[tuple[Member, Notification]] = []
    for index, member in enumerate(members):
        rung.append(
            (
                member,
                add_notification(
                    session, incident, phone=member.phone, channel=Channel.CALL,
                    purpose=Purpose.ALERT, key="0", member=member, via_dial=index < in_dial,
                ),
            )
        )
    caller = incident.caller
    if caller is not None and caller.reachable_by_sms and not incident.is_drill:
        texted.append(
            add_notification(
                session, incident, phone=caller.phone, channel=Channel.SMS,
                purpose=Purpose.CONFIRMATION, key="0", member=caller,
                message=compose(settings, incident, "sms_caller_confirmation", count=len(members)),
            )
        )
    record_event(
        session,
        incident.id,
        EventKind.FAN_OUT,
        at=incident.opened_at,
        ring_mode=str(group.ring_mode),
        rung=len(rung),
        in_dial=sum(1 for _, n in rung if n.via_dial),
        called=sum(1 for _, n in rung if not n.via_dial),
        texted=len(texted),
    )
    # One flush for the whole fan-out: each table's rows go in one multi-row INSERT, and the ids come back with it.
    session.flush()
    opened.sms_ids = [n.id for n in texted]
    opened.dial_legs = [(member.phone, n.id) for member, n in rung if n.via_dial]
    opened.call_ids = [n.id for _, n in rung if not n.via_dial]
