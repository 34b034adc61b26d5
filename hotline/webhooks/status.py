"""Delivery reports for the SMS and calls hotline placed."""

from __future__ import annotations

from flask import Response

from hotline.carriers.twilio import webhooks as twilio
from hotline.carriers.webhook_events import DeliveryReport
from hotline.extensions import db, queues
from hotline.models import Channel, Notification
from hotline.services.backup import FAILED_CALL, FAILED_SMS, backup_after_failure, backup_work
from hotline.services.delivery import apply_report
from hotline.services.outbox import dispatch_from_request
from hotline.webhooks import bp
from hotline.webhooks.params import parsed, query_id
from hotline.webhooks.signature import twilio_signed


def _apply(report: DeliveryReport) -> Response:
    notification_id = query_id("n")
    if report.status is None:
        return Response("", status=204)
    moved = apply_report(
        db.session, sid=report.provider_id, notification_id=notification_id, status=report.status,
        error_code=report.carrier_code, reason=report.reason,
    )
    if moved is None:
        return Response("", status=204)
    # Only the report that moved the row to a failure can start a backup: a repeated one changed
    # nothing, and a success needs no look at the member. Only then is the row loaded whole.
    backup_id = None
    if report.status in (FAILED_SMS if moved.channel == Channel.SMS else FAILED_CALL):
        notification = db.session.get(Notification, moved.id)
        assert notification is not None  # the UPDATE just returned it, in this transaction
        backup_id = backup_after_failure(db.session, notification)
    db.session.commit()
    dispatch_from_request(queues.queue, backup_work(moved.channel, backup_id))
    return Response("", status=204)


@bp.post("/sms-status")
@twilio_signed
def sms_status() -> Response:
    return _apply(parsed(twilio.sms_report))


@bp.post("/call-status")
@twilio_signed
def call_status() -> Response:
    return _apply(parsed(twilio.call_report))
