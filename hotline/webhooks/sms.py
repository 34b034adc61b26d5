"""The inbound SMS webhook: replies, opt-outs, and silent calls for help."""

from __future__ import annotations

import logging

from flask import Response, current_app
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.messaging_response import MessagingResponse

from hotline.extensions import get_settings
from hotline.extensions import db, queues
from hotline.phones import normalise_incoming
from hotline.services.escalation import escalation_delays
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.webhooks import bp
from hotline.webhooks.params import MESSAGE_SID, PHONE, body_text, form
from hotline.webhooks.signature import twilio_signed
from workers.dispatch import dispatch_from_request

log = logging.getLogger(__name__)


@bp.post("/sms")
@twilio_signed
def incoming_sms() -> Response:
    """Record the SMS once per MessageSid; every answer goes out through the outbox."""
    settings = get_settings(current_app)
    message_sid = form("MessageSid", MESSAGE_SID)
    sender = normalise_incoming(form("From", PHONE), settings.default_region)
    body = body_text()
    session = db.session
    try:
        handled = handle_inbound_sms(session, settings, message_sid=message_sid, from_phone=sender, body=body)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("database unavailable for SMS %s from %s", message_sid, sender)
        # A 5xx makes Twilio retry; the MessageSid keeps the retry from counting twice.
        return Response("database unavailable", status=503)
    escalation = None
    if handled.opened is not None and handled.opened.created and not handled.opened.incident.unregistered:
        incident = handled.opened.incident
        escalation = (incident.id, 1, escalation_delays(settings, incident)[0])
    if handled.sms_ids or handled.call_ids or escalation:
        dispatch_from_request(queues.queue, sms_ids=handled.sms_ids, call_ids=handled.call_ids, escalation=escalation)
    return Response(str(MessagingResponse()), mimetype="application/xml")
