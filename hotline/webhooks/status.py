"""Status callbacks for the SMS and calls hotline placed."""

from __future__ import annotations

from flask import Response

from hotline.extensions import db
from hotline.services.delivery import find_notification, record_status
from hotline.webhooks import bp
from hotline.webhooks.params import CALL_SID, MESSAGE_SID, STATUS, error_code, form, query_id
from hotline.webhooks.signature import twilio_signed


@bp.post("/sms-status")
@twilio_signed
def sms_status() -> Response:
    sid = form("MessageSid", MESSAGE_SID)
    status = form("MessageStatus", STATUS, required=False) or form("SmsStatus", STATUS)
    notification = find_notification(db.session, query_id("n"), sid)
    if notification is not None and record_status(
        db.session, notification, status=status, sid=sid, error_code=error_code()
    ):
        db.session.commit()
    return Response("", status=204)


@bp.post("/call-status")
@twilio_signed
def call_status() -> Response:
    sid = form("CallSid", CALL_SID)
    status = form("CallStatus", STATUS)
    notification = find_notification(db.session, query_id("n"), sid)
    if notification is not None and record_status(
        db.session, notification, status=status, sid=sid, error_code=error_code()
    ):
        db.session.commit()
    return Response("", status=204)
