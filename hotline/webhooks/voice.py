"""Voice webhooks: the inbound call, screening, the ring group's outcome, the fallback.

Each handler verifies the request, reads it through the Twilio dialect,
calls a service, and answers with TwiML; what escalates and where the caller
is transferred is decided in :mod:`hotline.services.escalation`.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Response, abort, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from config.settings import Settings
from config.templates import render
from hotline.carriers.twilio import twiml
from hotline.carriers.twilio import webhooks as twilio
from hotline.extensions import db, get_carrier, get_settings, queues
from hotline.models import Answer, Channel, EventKind, Incident, IncidentStatus, Notification, Purpose, RingMode, utcnow
from hotline.parked_calls import park_call
from hotline.phones import normalise_incoming
from hotline.services.caller import (
    CANCEL_KEY,
    STILL_NEED_HELP_KEY,
    after_caller_hung_up,
    cancel_as_misdial,
    status_text,
    still_needs_help,
)
from hotline.services.escalation import DUTY_LINE, TransferTo, escalation_prompt, plan_transfer
from hotline.services.incidents import Opened, open_incident
from hotline.services.messages import render_for
from hotline.services.outbox import dispatch_from_request
from hotline.services.responses import acknowledge_by_duty_line, record_response
from hotline.services.timeline import record_event
from hotline.urls import callback_url
from hotline.webhooks import bp
from hotline.webhooks.deadline import Late, run_before
from hotline.webhooks.params import parsed, query_id
from hotline.webhooks.signature import twilio_signed

log = logging.getLogger(__name__)


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="application/xml")


def fallback_twiml(settings: Settings) -> VoiceResponse:
    """What a caller hears when the service cannot read its database.

    Without ``HOTLINE_FALLBACK_PHONE`` nobody can be put through, so no
    transfer is promised; and when the duty line does not answer, the caller
    is not told the station has the alert (it may not be recorded yet).
    """
    language = settings.language
    if settings.fallback_phone:
        return twiml.transfer(
            settings, render(language, "voice_fallback"), settings.fallback_phone,
            unanswered=render(language, "voice_fallback_unanswered"),
        )
    return twiml.say_and_hangup(settings, render(language, "voice_fallback_nobody"))


@bp.post("/voice")
@twilio_signed
def incoming_call() -> Response:
    """A villager dialled the hotline: open the incident and ring the group.

    The database work must finish within ``HOTLINE_WEBHOOK_DEADLINE``;
    otherwise the caller goes to the duty line and the call is parked.
    """
    settings = get_settings()
    call = parsed(twilio.incoming_call)
    caller = normalise_incoming(call.caller, settings.default_region)
    called = normalise_incoming(call.called, settings.default_region) if call.called else None
    received_at = utcnow()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        answer = run_before(
            app, settings.webhook_deadline,
            lambda session: open_and_ring(
                session, settings, call_sid=call.call_id, caller=caller, received_at=received_at, called=called
            ),
        )
    except (Late, SQLAlchemyError) as exc:
        log.error(
            "database could not take call %s from %s (%s); sending caller to the duty line", call.call_id, caller, exc
        )
        park_call(queues.connection, call.call_id, caller, received_at)
        return _twiml(fallback_twiml(settings))
    return _twiml(answer)


def open_and_ring(
    session: Session, settings: Settings, *, call_sid: str, caller: str, received_at: datetime,
    called: str | None = None,
) -> VoiceResponse:
    """Open (or find again) the incident, enqueue its work, and build the caller's TwiML.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    try:
        opened = open_incident(
            session, settings, caller_phone=caller, source="call", call_sid=call_sid, now=received_at,
            capabilities=get_carrier().capabilities, called=called,
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    if opened.created:
        dispatch_from_request(queues.queue, opened.work(settings))
    return _answer_caller(session, settings, opened)


def _dial_legs(session: Session, opened: Opened) -> list[tuple[str, int]]:
    if opened.created:
        return opened.dial_legs
    # A retried webhook: ring the same legs as the first answer did.
    rows = session.execute(
        select(Notification.phone, Notification.id).where(
            Notification.incident_id == opened.incident.id,
            Notification.via_dial.is_(True),
            Notification.purpose == Purpose.ALERT,
        ).order_by(Notification.id)
    ).all()
    return [(phone, notification_id) for phone, notification_id in rows]


def _answer_caller(session: Session, settings: Settings, opened: Opened) -> VoiceResponse:
    incident = opened.incident
    if incident.unregistered or incident.group is None:
        duty = (incident.station.duty_phone if incident.station else None) or settings.fallback_phone
        if duty:
            # Put through as the duty line's stage: answered, it acknowledges the incident (the
            # escalation stops calling the duty line); unanswered, the caller hears what follows.
            action = callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=DUTY_LINE)
            return twiml.transfer(settings, render(settings.language, "voice_unregistered"), duty, action=action)
        # No duty line to put them through to: promise no transfer.
        return twiml.say_and_hangup(settings, render(settings.language, "voice_unregistered_nobody"))
    return _ring_group(session, settings, opened, cancel=_cancel_hint(settings, incident))


def _cancel_hint(settings: Settings, incident: Incident) -> twiml.CancelHint:
    return twiml.CancelHint(
        text=render(settings.language, "voice_caller_cancel_hint"),
        action=callback_url(settings, "/twilio/voice/caller-key", incident=incident.id),
    )


def _ring_group(
    session: Session, settings: Settings, opened: Opened, *, cancel: twiml.CancelHint | None
) -> VoiceResponse:
    """The caller's call rings the group: one ring group, or a conference the members are called into."""
    incident = opened.incident
    assert incident.group is not None
    if incident.group.ring_mode == RingMode.CONFERENCE or not get_carrier().capabilities.ring_group:
        return twiml.join_conference(
            settings, incident.conference_name, caller=True,
            text=render(settings.language, "voice_caller_conference") if cancel else None,
            wait_url=callback_url(settings, "/twilio/voice/caller-wait", incident=incident.id),
            cancel=cancel,
        )
    legs = _dial_legs(session, opened)
    if not legs:
        return _transfer(session, settings, incident, stage=0)
    return twiml.ring_all(
        settings,
        greeting=render(settings.language, "voice_caller_greeting"),
        legs=legs,
        action=callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=0),
        caller_id=settings.hotline_number,
        cancel=cancel,
    )


@bp.post("/voice/caller-key")
@twilio_signed
def caller_key() -> Response:
    """The caller keyed during the greeting: 9 cancels a misdial; any other key goes on ringing."""
    settings = get_settings()
    press = parsed(twilio.key_press)
    incident = db.session.get(Incident, query_id("incident"))
    if incident is None:
        return _twiml(twiml.hangup())
    if press.digits[:1] == CANCEL_KEY:
        work = cancel_as_misdial(db.session, settings, incident)
        db.session.commit()
        dispatch_from_request(queues.queue, work)
        return _twiml(twiml.say_and_hangup(settings, render(settings.language, "voice_caller_cancelled")))
    if incident.status != IncidentStatus.OPEN or incident.group is None:
        return _twiml(twiml.hangup())
    return _twiml(_ring_group(db.session, settings, Opened(incident=incident, created=False), cancel=None))


@bp.post("/voice/caller-wait")
@twilio_signed
def caller_wait() -> Response:
    """What the caller hears while waiting in the conference, fetched again after each pause."""
    settings = get_settings()
    parsed(twilio.answered_call)
    incident = db.session.get(Incident, query_id("incident"))
    if incident is None:
        return _twiml(twiml.hangup())
    return _twiml(twiml.waiting(settings, status_text(db.session, settings, incident)))


@bp.post("/voice/dial-result")
@twilio_signed
def dial_result() -> Response:
    """The ring group ended: done if someone accepted, otherwise go up a level."""
    settings = get_settings()
    outcome = parsed(twilio.dial_outcome)
    incident = db.session.get(Incident, query_id("incident"))
    stage = query_id("stage")
    if incident is None or incident.status != IncidentStatus.OPEN:
        return _twiml(twiml.hangup())
    if outcome.connected:
        # The unscreened duty line talked to the caller without acknowledging:
        # the call is over, and telling the caller nobody answered would be false.
        record_event(db.session, incident.id, EventKind.CALLER_CONNECTED, stage=stage)
        if stage >= DUTY_LINE:
            acknowledge_by_duty_line(db.session, incident)
        db.session.commit()
        return _twiml(twiml.hangup())
    return _twiml(_transfer(db.session, settings, incident, stage=min(stage + 1, DUTY_LINE + 1)))


def _transfer(session: Session, settings: Settings, incident: Incident, *, stage: int) -> VoiceResponse:
    """Put the caller through to whoever the escalation service names at ``stage``."""
    transfer = plan_transfer(session, settings, incident, stage, max_legs=get_carrier().capabilities.max_ring_group)
    session.commit()
    language = settings.language
    action = callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=transfer.stage)
    status = status_text(session, settings, incident, waiting=False)
    if transfer.to == TransferTo.OFFICERS:
        return twiml.ring_all(
            settings, greeting=status + render(language, "voice_transfer_officer"), legs=transfer.legs,
            action=action, caller_id=settings.hotline_number,
        )
    if transfer.to == TransferTo.DUTY_LINE and transfer.phone:
        return twiml.transfer(
            settings, status + render(language, "voice_transfer_duty"), transfer.phone, action=action
        )
    # "The station has your alert" only when the escalation will call its duty line.
    nobody = "voice_nobody" if transfer.station_alerted else "voice_nobody_call_110"
    return twiml.say_and_hangup(settings, render(language, nobody))


def _notification_and_incident() -> tuple[Notification, Incident]:
    notification = db.session.get(Notification, query_id("n"))
    if notification is None or notification.incident is None:
        abort(404)
    return notification, notification.incident


@bp.post("/voice/screen")
@twilio_signed
def screen() -> Response:
    """A rung member answered: tell them who needs help and where; press 1 to accept."""
    settings = get_settings()
    parsed(twilio.answered_call)
    spoken = db.session.get(Notification, query_id("n"))
    if spoken is not None and spoken.broadcast_id is not None:
        # A spoken broadcast: the text is read out, nothing to press.
        return _twiml(twiml.say_and_hangup(settings, spoken.body))
    notification, incident = _notification_and_incident()
    template, values = (
        escalation_prompt(settings, incident, notification)
        if notification.purpose == Purpose.ESCALATION
        else ("voice_caller_check" if notification.purpose == Purpose.CALLER_CHECK else "voice_screen", {})
    )
    return _twiml(twiml.screen(settings, render_for(settings, incident, template, **values), notification.id))


@bp.post("/voice/screen/answer")
@twilio_signed
def screen_answer() -> Response:
    """The member pressed a key: 1 accepts (and bridges or joins), 2 declines."""
    settings = get_settings()
    press = parsed(twilio.key_press)
    notification, incident = _notification_and_incident()
    if notification.purpose == Purpose.CALLER_CHECK:
        return _twiml(_caller_checked(settings, incident, press.digits[:1]))
    if press.digits[:1] not in ("1", "2"):
        return _twiml(twiml.hangup())
    answer = Answer.ACCEPT if press.digits[:1] == "1" else Answer.DECLINE
    recorded = record_response(
        db.session, settings, incident, phone=notification.phone, channel=Channel.CALL,
        answer=answer, source_sid=press.call_id,
    )
    db.session.commit()
    dispatch_from_request(queues.queue, recorded.work())
    # render_for: a drill's member hears that it is a drill in every prompt.
    if answer == Answer.DECLINE:
        return _twiml(twiml.say_and_hangup(settings, render_for(settings, incident, "voice_goodbye")))
    accepted = render_for(settings, incident, "voice_screen_accepted")
    if notification.via_dial:
        return _twiml(twiml.say_only(settings, accepted))
    if incident.source == "call" and incident.group is not None and incident.group.ring_mode == RingMode.CONFERENCE:
        return _twiml(twiml.join_conference(settings, incident.conference_name, text=accepted))
    return _twiml(twiml.say_and_hangup(settings, render_for(settings, incident, "voice_screen_ack_only")))


def _caller_checked(settings: Settings, incident: Incident, key: str) -> VoiceResponse:
    """The caller, called back after their call dropped, pressed ``key``: 9 cancels, 1 keeps the alert going."""
    if key == CANCEL_KEY:
        work = cancel_as_misdial(db.session, settings, incident)
        db.session.commit()
        dispatch_from_request(queues.queue, work)
        return twiml.say_and_hangup(settings, render(settings.language, "voice_caller_cancelled"))
    if key == STILL_NEED_HELP_KEY:
        still_needs_help(db.session, incident)
        db.session.commit()
        return twiml.say_and_hangup(settings, render(settings.language, "voice_caller_check_kept"))
    return twiml.hangup()


@bp.post("/voice/status")
@twilio_signed
def caller_status() -> Response:
    """The caller's own call changed state; its end goes on the timeline."""
    status = parsed(twilio.caller_status)
    incident = db.session.scalar(select(Incident).where(Incident.call_sid == status.call_id))
    if incident is not None and status.ended:
        already = any(event.kind == EventKind.CALLER_HUNG_UP for event in incident.events)
        if not already:
            record_event(
                db.session, incident.id, EventKind.CALLER_HUNG_UP, status=status.status, duration=status.duration
            )
            db.session.commit()
            # Silence may be an emergency: the alert goes on, and the caller is called back.
            dispatch_from_request(queues.queue, after_caller_hung_up(get_settings(), incident))
    return Response("", status=204)


@bp.post("/voice/fallback")
@twilio_signed
def fallback() -> Response:
    """Twilio's fallback URL: never touches the database."""
    return _twiml(fallback_twiml(get_settings()))
