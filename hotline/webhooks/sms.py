"""The inbound SMS webhook: replies, opt-outs, and silent calls for help."""

from __future__ import annotations

import logging

from flask import Response
from sqlalchemy.exc import SQLAlchemyError

from hotline.carriers.twilio import twiml
from hotline.carriers.twilio import webhooks as twilio
from hotline.extensions import db, get_carrier, get_settings, queues
from hotline.phones import normalise_incoming
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.services.outbox import dispatch_from_request
from hotline.webhooks import bp
from hotline.webhooks.params import parsed
from hotline.webhooks.signature import twilio_signed

log = logging.getLogger(__name__)


@bp.post("/sms")
@twilio_signed
def incoming_sms() -> Response:
    """Record the SMS once per message id; every answer goes out through the outbox."""
    settings = get_settings()
    sms = parsed(twilio.incoming_sms)
    sender = normalise_incoming(sms.sender, settings.default_region)
    called = normalise_incoming(sms.called, settings.default_region) if sms.called else None
    session = db.session
    try:
        handled = handle_inbound_sms(
            session, settings, message_sid=sms.message_id, from_phone=sender, body=sms.text,
            capabilities=get_carrier().capabilities, called=called,
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("database unavailable for SMS %s from %s", sms.message_id, sender)
        # A 5xx makes the carrier retry; the message id keeps the retry from counting twice.
        return Response("database unavailable", status=503)
    dispatch_from_request(queues.queue, handled.work(settings))
    return Response(twiml.empty_messaging_reply(), mimetype="application/xml")
