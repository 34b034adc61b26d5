"""An SMS to the hotline: a reply, an opt-out, or a silent call for help."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.base import Capabilities
from hotline.models import (
    Channel,
    EventKind,
    InboundMessage,
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    utcnow,
)
from hotline.services.broadcast_optouts import opt_in, opt_out
from hotline.services.broadcasts import received_broadcast
from hotline.services.delivery import mark_opted_out
from hotline.services.incidents import Opened, find_caller, open_incident
from hotline.services.messages import compose, compose_plain
from hotline.services.outbox import Work, add_notification
from hotline.services.replies import Keyword, is_bare_answer, is_call_for_help, parse_keyword, parse_reply
from hotline.services.responses import member_for, record_response
from hotline.services.timeline import record_event

# A reply refers to an alert this recent; older incidents are history.
REPLY_WINDOW = timedelta(hours=12)
# After an alert is settled, a household's free text is read as a reply for this long.
ANSWERING_WINDOW = timedelta(minutes=10)


@dataclass
class Handled:
    """What an inbound SMS led to, and what to enqueue after commit."""

    handled_as: str
    incident: Incident | None = None
    opened: Opened | None = None
    sms_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)
    # The text to a member whose reply accepted, with the caller's number and address.
    details_ids: list[int] = field(default_factory=list)

    def work(self, settings: Settings) -> Work:
        """What to enqueue after commit, with the first escalation check of an incident it opened."""
        work = Work(sms_ids=list(self.sms_ids) + list(self.details_ids), call_ids=list(self.call_ids))
        if self.opened is not None and self.opened.created:
            opening = self.opened.work(settings)
            work.escalation, work.later = opening.escalation, opening.later
        return work


def open_incident_alerting(session: Session, phone: str, now: datetime) -> Incident | None:
    """The newest open incident that alerted ``phone`` (as a responder)."""
    return session.scalar(
        select(Incident)
        .join(Notification, Notification.incident_id == Incident.id)
        .where(
            Notification.phone == phone,
            Notification.purpose.in_((Purpose.ALERT, Purpose.ESCALATION)),
            Incident.status != IncidentStatus.CLOSED,
            Incident.opened_at >= now - REPLY_WINDOW,
        )
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(1)
    )


def _own_open_incident(session: Session, phone: str, now: datetime) -> Incident | None:
    return session.scalar(
        select(Incident)
        .where(
            Incident.caller_phone == phone,
            Incident.status != IncidentStatus.CLOSED,
            Incident.opened_at >= now - REPLY_WINDOW,
        )
        .order_by(Incident.opened_at.desc())
        .limit(1)
    )


def _answer(
    session: Session,
    settings: Settings,
    incident: Incident | None,
    phone: str,
    template: str,
    sid: str,
) -> int | None:
    """A short reply to the sender, sent through the outbox like every other SMS."""
    if incident is None:
        return None
    notification = add_notification(
        session,
        incident,
        phone=phone,
        channel=Channel.SMS,
        purpose=Purpose.HELP if template == "sms_help" else Purpose.RECEIPT,
        key=sid,
        message=compose(settings, incident, template),
        # Named like every other notification, so the console and delivery events show who it went to.
        member=member_for(session, incident, phone),
    )
    session.flush()
    return notification.id


def handle_inbound_sms(
    session: Session,
    settings: Settings,
    *,
    message_sid: str,
    from_phone: str,
    body: str,
    now: datetime | None = None,
    capabilities: Capabilities | None = None,
    called: str | None = None,
) -> Handled:
    """Decide what one inbound SMS means and record it, once per MessageSid.

    ``called`` is the number texted: for a sender in no group it selects the
    station (see :func:`hotline.services.incidents.station_for`).

    - TD, 退订 or STOP opts the sender out of broadcasts (never alerts); START or 订阅 back in.
    - A short acknowledgement after a broadcast SMS is recorded as a reply to it.
    - ``1``/``2`` (or 到, 收到, 马上到 ...) from someone an open incident
      alerted is logged as their response.
    - A call for help about the sender's own home (救命, 我家着火了, 有贼在我家)
      from someone a neighbour's open incident alerted is handled as below,
      as if no alert were waiting for their answer.
    - Anything else from someone an open incident alerted gets a help text.
    - Anything else from a household or leader opens an incident, as a call
      would: for villagers who cannot speak.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    now = now or utcnow()
    if session.scalar(select(InboundMessage.id).where(InboundMessage.message_sid == message_sid)):
        return Handled(handled_as="duplicate")
    inbound = InboundMessage(
        message_sid=message_sid, from_phone=from_phone, body=body[:1600], handled_as="pending", received_at=now
    )
    try:
        with session.begin_nested():
            session.add(inbound)
            session.flush()
    except IntegrityError:
        return Handled(handled_as="duplicate")

    handled = _classify(session, settings, message_sid, from_phone, body, now, capabilities, called)
    inbound.handled_as = handled.handled_as
    inbound.incident_id = handled.incident.id if handled.incident else None
    return handled


def _classify(
    session: Session,
    settings: Settings,
    sid: str,
    phone: str,
    body: str,
    now: datetime,
    capabilities: Capabilities | None,
    called: str | None = None,
) -> Handled:
    keyword = parse_keyword(body)
    if keyword == Keyword.STOP:
        # Broadcasts only: an unsubscribe never silences a neighbour's call for help. A carrier
        # that acts on STOP itself refuses the texts anyway, and its refusal (21610) marks the member.
        opt_out(session, phone, body.strip(), now)
        return Handled(handled_as="opt_out")
    if keyword == Keyword.START:
        opt_in(session, phone)
        # START also lifts the carrier's own block, so alerts may text the number again.
        mark_opted_out(session, phone, False)
        return Handled(handled_as="opt_in")

    alerted_by = open_incident_alerting(session, phone, now)
    answer = parse_reply(body)
    caller = find_caller(session, phone)
    if alerted_by is not None and answer is None and caller is not None and not _still_answering(alerted_by, now):
        # A household alerted earlier for a neighbour, whose alert is settled,
        # is now asking for help itself.
        alerted_by = None
    if alerted_by is not None and alerted_by.caller_phone != phone and is_call_for_help(body):
        # A member a neighbour's alert is waiting for writes of trouble at their
        # own home ("救命，我家着火了"): that is their own call for help, not an
        # answer to be met with the help text.
        alerted_by = None
    if alerted_by is not None:
        if answer is None:
            record_event(session, alerted_by.id, EventKind.SMS_UNRECOGNISED, at=now, phone=phone, body=body[:200])
            help_id = _answer(session, settings, alerted_by, phone, "sms_help", sid)
            return Handled(handled_as="help", incident=alerted_by, sms_ids=[help_id] if help_id else [])
        recorded = record_response(
            session, settings, alerted_by, phone=phone, channel=Channel.SMS, answer=answer, source_sid=sid, now=now
        )
        return Handled(
            handled_as="reply", incident=alerted_by, sms_ids=recorded.sms_ids, details_ids=recorded.details_ids
        )

    acknowledgement = answer
    if answer is not None and not is_bare_answer(body):
        # Nobody is waiting for this sender's answer: a sentence is read as what it says.
        answer = None
    own = _own_open_incident(session, phone, now)
    if own is not None:
        record_event(session, own.id, EventKind.CALLER_SMS, at=now, phone=phone, body=body[:200])
        return Handled(handled_as="caller_update", incident=own)
    if acknowledgement is not None and received_broadcast(session, phone, now):
        # "好的，知道了" after a bulletin answers the bulletin; a call for help is never read as one.
        return Handled(handled_as="broadcast_reply")

    if answer is None:
        # From a registered household this is a silent call for help; from an
        # unknown number it is recorded and forwarded to the duty line.
        opened = open_incident(
            session,
            settings,
            caller_phone=phone,
            source="sms",
            message_sid=sid,
            now=now,
            capabilities=capabilities,
            called=called,
        )
        record_event(session, opened.incident.id, EventKind.CALLER_SMS, at=now, phone=phone, body=body[:200])
        sms_ids = list(opened.sms_ids)
        if caller is None and opened.created:
            forwarded = forward_to_duty_line(session, settings, opened.incident, body)
            sms_ids += [forwarded] if forwarded else []
        return Handled(
            handled_as="incident" if caller is not None else "unregistered",
            incident=opened.incident,
            opened=opened,
            sms_ids=sms_ids,
            call_ids=opened.call_ids,
        )
    return Handled(handled_as="ignored")


def _still_answering(incident: Incident, now: datetime) -> bool:
    """Whether a non-reply from someone this incident alerted is probably about it."""
    if incident.status == IncidentStatus.OPEN:
        return True
    settled = incident.acknowledged_at or incident.opened_at
    return now - settled < ANSWERING_WINDOW


def forward_to_duty_line(session: Session, settings: Settings, incident: Incident, body: str) -> int | None:
    """Text the station's duty line what an unregistered caller sent, for an incident of no group.

    Used for a text from a number in no group, and for an alarm a trigger
    raised for one; ``body`` is what to forward (cut to 300 characters, and
    further to fit the SMS).

    Returns:
        The id of the outbox row to enqueue after commit; None when the
        incident has no station or the station no duty line.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    station = incident.station
    if station is None or not station.duty_phone:
        return None
    notification = add_notification(
        session,
        incident,
        phone=station.duty_phone,
        channel=Channel.SMS,
        purpose=Purpose.ESCALATION,
        key="unregistered",
        name=station.name,
        level=2,
        message=compose_plain(
            settings, "sms_unregistered_forward", caller_phone=incident.caller_phone, body=body[:300]
        ),
    )
    session.flush()
    return notification.id
