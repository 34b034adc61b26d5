"""Delivery reports for the SMS and calls hotline placed."""

from __future__ import annotations

from flask import Response

from hotline.carriers.twilio import webhooks as twilio
from hotline.carriers.webhook_events import DeliveryReport
from hotline.extensions import db, queues
from hotline.models import Channel
from hotline.services.backup import FAILED_CALL, FAILED_SMS, backup_after_failure, backup_work
from hotline.services.delivery import find_notification, record_status
from hotline.services.outbox import dispatch_from_request
from hotline.webhooks import bp
from hotline.webhooks.params import parsed, query_id
from hotline.webhooks.signature import twilio_signed


def _apply(report: DeliveryReport) -> Response:
    notification = find_notification(db.session, query_id("n"), report.provider_id)
    if notification is not None and report.status is not None and record_status(
        db.session, notification, status=report.status, sid=report.provider_id,
        error_code=report.carrier_code, reason=report.reason,
    ):
        # Only the report that moved the row to a failure can start a backup: a repeated one changed
        # nothing, and a success needs no look at the member.
        failures = FAILED_SMS if notification.channel == Channel.SMS else FAILED_CALL
        backup_id = backup_after_failure(db.session, notification) if report.status in failures else None
        db.session.commit()
        dispatch_from_request(queues.queue, backup_work(notification.channel, backup_id))
    return Response("", status=204)


@bp.post("/sms-status")
@twilio_signed
def sms_status() -> Response:
    return _apply(parsed(twilio.sms_report))


@bp.post("/call-status")
@twilio_signed
def call_status() -> Response:
    return _apply(parsed(twilio.call_report))
