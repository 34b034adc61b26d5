"""Voice webhooks: the inbound call, screening, the Dial's outcome, the fallback."""

from __future__ import annotations

import logging

from flask import Response, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from config.settings import Settings
from config.templates import render
from hotline.extensions import get_settings
from hotline.extensions import db, queues
from hotline.models import (
    Answer,
    Channel,
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    RingMode,
    utcnow,
)
from hotline.phones import normalise_incoming
from hotline.services.escalation import OFFICERS, due_at, escalation_delays, recipients
from hotline.services.incidents import add_notification, open_incident
from hotline.services.messages import incident_values, render_for
from hotline.services.responses import acknowledge_by_duty_line, record_response
from hotline.services.timeline import record_event
from hotline.urls import callback_url
from hotline.webhooks import bp, twiml
from hotline.webhooks.deadline import Late, park_call, run_before
from hotline.webhooks.params import CALL_SID, DIGITS, PHONE, STATUS, form, query_id
from hotline.webhooks.signature import twilio_signed
from workers.dispatch import dispatch_from_request

log = logging.getLogger(__name__)


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="application/xml")


def _settings() -> Settings:
    return get_settings(current_app)


def fallback_twiml(settings: Settings) -> VoiceResponse:
    """What a caller hears when the service cannot read its database."""
    text = render(settings.language, "voice_fallback")
    if settings.fallback_phone:
        return twiml.transfer(settings, text, settings.fallback_phone)
    return twiml.say_and_hangup(settings, text)


@bp.post("/voice")
@twilio_signed
def incoming_call() -> Response:
    """A villager dialled the hotline: open the incident and ring the group.

    The database work must finish within ``HOTLINE_WEBHOOK_DEADLINE``;
    otherwise the caller goes to the duty line and the call is parked.
    """
    settings = _settings()
    call_sid = form("CallSid", CALL_SID)
    caller = normalise_incoming(form("From", PHONE), settings.default_region)
    received_at = utcnow()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        answer = run_before(
            app, settings.webhook_deadline,
            lambda session: open_and_ring(session, settings, call_sid=call_sid, caller=caller, received_at=received_at),
        )
    except (Late, SQLAlchemyError) as exc:
        log.error("database could not take call %s from %s (%s); sending caller to the duty line", call_sid, caller, exc)
        park_call(queues.connection, call_sid, caller, received_at)
        return _twiml(fallback_twiml(settings))
    return _twiml(answer)


def open_and_ring(session: Session, settings: Settings, *, call_sid: str, caller: str, received_at) -> VoiceResponse:
    """Open (or find again) the incident, enqueue its work, and build the caller's TwiML.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    try:
        opened = open_incident(session, settings, caller_phone=caller, source="call", call_sid=call_sid, now=received_at)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    incident = opened.incident
    if opened.created:
        dispatch_opened(settings, opened)
    return _answer_caller(settings, incident)


def dispatch_opened(settings: Settings, opened) -> None:
    """Enqueue a new incident's fan-out and its first escalation check (never raises)."""
    incident = opened.incident
    escalation = None
    if not incident.unregistered:
        delays = escalation_delays(settings, incident)
        remaining = (due_at(incident, delays, 1) - utcnow()).total_seconds()
        escalation = (incident.id, 1, max(0.0, remaining))
    dispatch_from_request(queues.queue, sms_ids=opened.sms_ids, call_ids=opened.call_ids, escalation=escalation)


def _answer_caller(settings: Settings, incident: Incident) -> VoiceResponse:
    if incident.unregistered or incident.group is None:
        duty = incident.station.duty_phone if incident.station else None
        if duty:
            return twiml.transfer(settings, render(settings.language, "voice_unregistered"), duty)
        return twiml.say_and_hangup(settings, render(settings.language, "voice_nobody"))
    if incident.group.ring_mode == RingMode.CONFERENCE:
        return twiml.join_conference(
            settings, incident.conference_name, caller=True,
            text=render(settings.language, "voice_caller_conference"),
        )
    legs = db.session.execute(
        select(Notification.phone, Notification.id).where(
            Notification.incident_id == incident.id,
            Notification.via_dial.is_(True),
            Notification.purpose == Purpose.ALERT,
        ).order_by(Notification.id)
    ).all()
    if not legs:
        return _dial_result(settings, incident, stage=0)
    return twiml.ring_all(
        settings,
        greeting=render(settings.language, "voice_caller_greeting"),
        legs=[(phone, notification_id) for phone, notification_id in legs],
        action=callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=0),
        caller_id=settings.hotline_number,
    )


@bp.post("/voice/dial-result")
@twilio_signed
def dial_result() -> Response:
    """The ``<Dial>`` ended: done if someone accepted, otherwise go up a level."""
    settings = _settings()
    form("CallSid", CALL_SID)
    incident = db.session.get(Incident, query_id("incident"))
    if incident is None:
        return _twiml(twiml.hangup())
    stage = query_id("stage")
    if incident.status != IncidentStatus.OPEN:
        return _twiml(twiml.hangup())
    if form("DialCallStatus", STATUS, required=False) in ("completed", "answered"):
        # The unscreened duty line talked to the caller without acknowledging:
        # the call is over, and telling the caller nobody answered would be false.
        record_event(db.session, incident.id, "caller_connected", stage=stage)
        if stage >= 2:
            acknowledge_by_duty_line(db.session, incident)
        db.session.commit()
        return _twiml(twiml.hangup())
    return _twiml(_dial_result(settings, incident, stage=stage + 1 if stage < 3 else 3))


def _dial_result(settings: Settings, incident: Incident, *, stage: int) -> VoiceResponse:
    """Stage 1 rings the officers (screened), stage 2 the duty line, then gives up."""
    session = db.session
    language = settings.language
    if stage <= 1:
        people = [p for p in recipients(incident, OFFICERS) if p[0] != incident.caller_phone]
        if people:
            legs = []
            for phone, member, name in people:
                key = "transfer"
                existing = session.scalar(
                    select(Notification).where(
                        Notification.dedupe_key == f"{incident.id}:{Purpose.ESCALATION}:{Channel.CALL}:{key}:{phone}"
                    )
                )
                notification = existing or add_notification(
                    session, incident, phone=phone, channel=Channel.CALL, purpose=Purpose.ESCALATION,
                    key=key, member=member, name=name, level=OFFICERS, via_dial=True,
                )
                session.flush()
                legs.append((phone, notification.id))
            record_event(session, incident.id, "transferred", level=OFFICERS, to=[p[0] for p in people])
            session.commit()
            return twiml.ring_all(
                settings,
                greeting=render(language, "voice_transfer_officer"),
                legs=legs,
                action=callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=1),
                caller_id=settings.hotline_number,
            )
    if stage <= 2:
        duty = incident.station.duty_phone if incident.station else None
        if duty:
            record_event(session, incident.id, "transferred", level=2, to=[duty])
            session.commit()
            return twiml.transfer(
                settings, render(language, "voice_transfer_duty"), duty,
                action=callback_url(settings, "/twilio/voice/dial-result", incident=incident.id, stage=2),
            )
    record_event(session, incident.id, "caller_told_nobody_answered")
    session.commit()
    return twiml.say_and_hangup(settings, render(language, "voice_nobody"))


def _notification_and_incident() -> tuple[Notification, Incident]:
    notification = db.session.get(Notification, query_id("n"))
    if notification is None:
        from flask import abort

        abort(404)
    return notification, notification.incident


@bp.post("/voice/screen")
@twilio_signed
def screen() -> Response:
    """A rung member answered: tell them who needs help and where; press 1 to accept."""
    settings = _settings()
    form("CallSid", CALL_SID)
    notification, incident = _notification_and_incident()
    template = "voice_screen_escalation" if notification.purpose == Purpose.ESCALATION else "voice_screen"
    return _twiml(twiml.screen(settings, render_for(settings, incident, template), notification.id))


@bp.post("/voice/screen/answer")
@twilio_signed
def screen_answer() -> Response:
    """The member pressed a key: 1 accepts (and bridges or joins), 2 declines."""
    settings = _settings()
    call_sid = form("CallSid", CALL_SID)
    digits = form("Digits", DIGITS, required=False)
    notification, incident = _notification_and_incident()
    if digits[:1] not in ("1", "2"):
        return _twiml(twiml.hangup())
    answer = Answer.ACCEPT if digits[:1] == "1" else Answer.DECLINE
    recorded = record_response(
        db.session, settings, incident, phone=notification.phone, channel=Channel.CALL,
        answer=answer, source_sid=call_sid,
    )
    db.session.commit()
    if recorded.sms_ids:
        dispatch_from_request(queues.queue, sms_ids=recorded.sms_ids)
    if answer == Answer.DECLINE:
        return _twiml(twiml.say_and_hangup(settings, render(settings.language, "voice_goodbye")))
    accepted = render(settings.language, "voice_screen_accepted")
    if notification.via_dial:
        return _twiml(twiml.say_only(settings, accepted))
    if incident.source == "call" and incident.group is not None and incident.group.ring_mode == RingMode.CONFERENCE:
        return _twiml(twiml.join_conference(settings, incident.conference_name, text=accepted))
    values = incident_values(settings, incident)
    return _twiml(twiml.say_and_hangup(settings, render(settings.language, "voice_screen_ack_only", **values)))


@bp.post("/voice/status")
@twilio_signed
def caller_status() -> Response:
    """The caller's own call changed state; its end goes on the timeline."""
    call_sid = form("CallSid", CALL_SID)
    status = form("CallStatus", PHONE)
    incident = db.session.scalar(select(Incident).where(Incident.call_sid == call_sid))
    if incident is not None and status in ("completed", "busy", "failed", "no-answer", "canceled"):
        already = any(event.kind == "caller_hung_up" for event in incident.events)
        if not already:
            record_event(db.session, incident.id, "caller_hung_up", status=status,
                         duration=int(form("CallDuration", DIGITS, required=False) or 0))
            db.session.commit()
    return Response("", status=204)


@bp.post("/voice/fallback")
@twilio_signed
def fallback() -> Response:
    """Twilio's fallback URL: never touches the database."""
    return _twiml(fallback_twiml(_settings()))
