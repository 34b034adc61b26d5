"""Recording members' answers, and acknowledging an incident once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from config.settings import Settings
from hotline.carriers.base import TRANSIENT_REASONS, FailureReason
from hotline.db import rows_changed
from hotline.models import (
    Answer,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    Member,
    Notification,
    Purpose,
    Response,
    utcnow,
)
from hotline.services.messages import compose
from hotline.services.outbox import Work, add_notification, text_everyone_alerted
from hotline.services.timeline import record_event


@dataclass
class Recorded:
    """The result of :func:`record_response`.

    Attributes:
        response: The stored response (None if this SID was already recorded).
        acknowledged: True if this response acknowledged the incident.
        sms_ids: "X is on the way" notices to enqueue after commit.
        details_ids: The text to the member who accepted, with the caller's
            number and address, to enqueue after commit.
    """

    response: Response | None
    acknowledged: bool = False
    sms_ids: list[int] = field(default_factory=list)
    details_ids: list[int] = field(default_factory=list)

    def work(self) -> Work:
        """What to enqueue after commit."""
        return Work(sms_ids=list(self.sms_ids) + list(self.details_ids))


def member_for(session: Session, incident: Incident, phone: str) -> Member | None:
    """The member that ``phone`` belongs to in the context of ``incident``."""
    notified = session.scalar(
        select(Notification)
        .where(Notification.incident_id == incident.id, Notification.phone == phone)
        .where(Notification.member_id.is_not(None))
        .limit(1)
    )
    if notified is not None:
        return notified.member
    if incident.group_id is not None:
        return session.scalar(select(Member).where(Member.group_id == incident.group_id, Member.phone == phone))
    return None


def record_response(
    session: Session,
    settings: Settings,
    incident: Incident,
    *,
    phone: str,
    channel: Channel,
    answer: Answer,
    source_sid: str,
    now: datetime | None = None,
) -> Recorded:
    """Log a member's answer; the first acceptance acknowledges the incident.

    Idempotent on ``source_sid``. Two members accepting at once are both
    logged; the conditional update lets only one of them acknowledge.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    now = now or utcnow()
    if session.scalar(select(Response.id).where(Response.source_sid == source_sid)) is not None:
        return Recorded(response=None)
    member = member_for(session, incident, phone)
    response = Response(
        incident_id=incident.id,
        member_id=member.id if member else None,
        phone=phone,
        responder_name=member.name if member else "",
        channel=channel,
        answer=answer,
        source_sid=source_sid,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(response)
            session.flush()
    except IntegrityError:
        return Recorded(response=None)
    kind = EventKind.CALL_ACCEPTED if channel == Channel.CALL else EventKind.SMS_REPLY
    record_event(
        session, incident.id, kind, at=now, member_id=response.member_id,
        phone=phone, answer=str(answer), name=response.responder_name,
    )
    recorded = Recorded(response=response)
    if answer != Answer.ACCEPT:
        return recorded
    accepted = _count_acceptance(session, incident, response)
    if accepted is None:
        # Covered already (or closed): logged, and nobody is told again.
        return recorded
    set_committed_value(incident, "accepted_count", accepted)
    # Counted once per number: whoever is coming is texted where to go, once.
    recorded.details_ids = _tell_the_acceptor(session, settings, incident, response, member)
    needed = required_acceptances(incident)
    if accepted < needed:
        record_event(
            session, incident.id, EventKind.ACCEPTANCE_COUNTED, at=now, member_id=response.member_id,
            name=response.responder_name or phone, accepted=accepted, needed=needed,
        )
        if settings.notify_on_ack:
            recorded.sms_ids = _tell_the_others(session, settings, incident, response, accepted=accepted)
        return recorded
    won = rows_changed(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.OPEN)
        .values(
            status=IncidentStatus.ACKNOWLEDGED,
            acknowledged_at=now,
            acknowledged_by_id=_first_acceptor(session, incident),
        )
        .execution_options(synchronize_session=False)
    )
    if not won:
        return recorded
    session.refresh(incident)
    recorded.acknowledged = True
    record_event(
        session, incident.id, EventKind.ACKNOWLEDGED, at=now, member_id=response.member_id,
        name=response.responder_name or phone, channel=str(channel), accepted=accepted, needed=needed,
    )
    if settings.notify_on_ack:
        recorded.sms_ids = _tell_the_others(session, settings, incident, response, accepted=accepted)
    return recorded


def required_acceptances(incident: Incident) -> int:
    """How many members must accept before the alert is covered: the group's minimum, at least one."""
    return max(1, incident.group.min_acceptances) if incident.group is not None else 1


def _count_acceptance(session: Session, incident: Incident, response: Response) -> int | None:
    """Count this acceptance once per number; the new count, or None once the incident is not open.

    The increment is one conditional UPDATE, so two members accepting at the
    same moment are both counted and only one of them can cover the alert.
    """
    again = session.scalar(
        select(Response.id).where(
            Response.incident_id == incident.id,
            Response.phone == response.phone,
            Response.answer == Answer.ACCEPT,
            Response.id != response.id,
        ).limit(1)
    )
    if again is not None:
        return None
    return session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.OPEN)
        .values(accepted_count=Incident.accepted_count + 1)
        .returning(Incident.accepted_count)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()


def _first_acceptor(session: Session, incident: Incident) -> int | None:
    return session.scalar(
        select(Response.member_id)
        .where(Response.incident_id == incident.id, Response.answer == Answer.ACCEPT)
        .order_by(Response.received_at, Response.id)
        .limit(1)
    )


def _tell_the_others(
    session: Session, settings: Settings, incident: Incident, response: Response, *, accepted: int
) -> list[int]:
    """One SMS to everyone else who was alerted, and to the caller, saying who is coming.

    When the group needs more than one responder, the text says how many have
    accepted so far.
    """
    needed = required_acceptances(incident)
    responder = response.responder_name or response.phone
    if needed > 1:
        message = compose(settings, incident, "sms_ack_progress", responder=responder, accepted=accepted, needed=needed)
    else:
        message = compose(settings, incident, "sms_ack_notice", responder=responder)
    unreachable = set(
        session.scalars(
            select(Notification.phone).where(
                Notification.incident_id == incident.id,
                Notification.channel == Channel.SMS,
                Notification.status == "failed",
                Notification.failure_reason.in_(PERMANENT_REASONS),
            )
        )
    )
    return text_everyone_alerted(
        session, incident, purposes=(Purpose.ALERT, Purpose.ESCALATION, Purpose.CONFIRMATION),
        purpose=Purpose.ACK_NOTICE, key=f"ack-{response.id}", message=message,
        skip=lambda first: first.phone == response.phone or first.phone in unreachable,
    )


def _tell_the_acceptor(
    session: Session, settings: Settings, incident: Incident, response: Response, member: Member | None
) -> list[int]:
    """One SMS to the member who accepted, with the caller's number and address.

    The screening prompt said who needs help and where; a text keeps the
    number and address on the phone on the way there, whatever the carrier
    (Aliyun's calls can play no more than a registered prompt). Sent to the
    number that accepted (a backup number counts as the member's), unless
    the member texted STOP or that number takes no SMS.
    """
    if member is None or member.opted_out:
        return []
    if response.channel != Channel.SMS and response.phone == member.phone and not member.sms_capable:
        return []
    notification = add_notification(
        session, incident, phone=response.phone, channel=Channel.SMS, purpose=Purpose.ACCEPTED_DETAILS,
        key="0", member=member,
        message=compose(settings, incident, "sms_accepted_details"),
    )
    session.flush()
    return [notification.id]


# Failures that say a number cannot be reached this way, however often it is tried.
PERMANENT_REASONS = tuple(
    str(reason) for reason in FailureReason if reason not in TRANSIENT_REASONS and reason != FailureReason.UNKNOWN
)


def acknowledge_by_duty_line(session: Session, incident: Incident, now: datetime | None = None) -> bool:
    """The station's duty line talked with the caller: nobody else need be escalated to.

    Returns False if the incident was no longer open.
    """
    now = now or utcnow()
    won = rows_changed(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.OPEN)
        .values(status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=now)
        .execution_options(synchronize_session=False)
    )
    if won:
        session.refresh(incident)
        record_event(session, incident.id, EventKind.ACKNOWLEDGED, at=now, name="duty line", channel="call")
    return bool(won)
