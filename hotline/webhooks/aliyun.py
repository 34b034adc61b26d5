"""Aliyun's pushed receipts under ``/aliyun/<token>/``: call results and key presses, SMS reports, replies.

Aliyun signs nothing it pushes, so three things stand in for a signature:
the secret path token (``HOTLINE_ALIYUN_RECEIPT_TOKEN``); the ``OutId`` MAC,
which must name the row the receipt is applied to; and the row's own carrier
id and number, which must be the ones the receipt speaks of. A receipt that
fails any of them changes nothing. Aliyun wants ``{"code":0,"msg":"接收成功"}``
within 700 ms, so only the database writes happen here; every text or call
that follows goes to the workers after commit.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from config.settings import Settings
from hotline.carriers.aliyun import outid, receipts
from hotline.carriers.webhook_events import BadWebhook, Receipt
from hotline.extensions import db, get_carrier, get_settings, queues
from hotline.models import Notification
from hotline.phones import normalise_incoming
from hotline.services.backup import backup_after_failure, backup_work
from hotline.services.delivery import record_status
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.services.key_presses import record_key_press
from hotline.services.outbox import Work, dispatch_from_request

log = logging.getLogger(__name__)

bp = Blueprint("aliyun", __name__, url_prefix="/aliyun/<token>")

RECEIVED = {"code": 0, "msg": "接收成功"}


@bp.url_value_preprocessor
def _check_token(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Answer 404 unless Aliyun is the carrier and the path carries its receipt token."""
    settings = get_settings()
    token = (values or {}).pop("token", "")
    expected = settings.aliyun_receipt_token if settings.carrier == "aliyun" else None
    if not expected or not hmac.compare_digest(str(token).encode(), expected.encode()):
        abort(404)


def _payload() -> Any:
    payload = request.get_json(silent=True)
    if payload is None:
        abort(400, description="expected a JSON array")
    return payload


def _answer(apply: Any) -> Response | tuple[Response, int]:
    """Run ``apply`` (which returns the work to enqueue), commit, enqueue, and answer as Aliyun expects."""
    try:
        work = apply()
        db.session.commit()
    except BadWebhook as exc:
        db.session.rollback()
        log.warning("bad Aliyun receipt to %s: %s", request.path, exc)
        abort(400, description=str(exc))
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("database unavailable for an Aliyun receipt to %s", request.path)
        # Anything but code 0 makes Aliyun push again (after 1, 5 and 10 minutes).
        return jsonify({"code": 1, "msg": "database unavailable"}), 503
    dispatch_from_request(queues.queue, work)
    return jsonify(RECEIVED)


def _row(settings: Settings, receipt: Receipt) -> Notification | None:
    """The outbox row a receipt is genuinely about, or None (and a warning) when it is not ours."""
    claimed = outid.row_id(receipt.reference)
    notification = db.session.get(Notification, claimed) if claimed is not None and claimed < 2**31 else None
    secret = settings.aliyun_access_key_secret or ""
    if notification is None or not receipts.genuine(secret, receipt, notification.phone):
        log.warning("Aliyun receipt for %s with an OutId that is not ours: ignored", receipt.report.provider_id)
        return None
    if notification.provider_sid != receipt.report.provider_id:
        log.warning(
            "Aliyun receipt for %s names row %s, sent as %s: ignored",
            receipt.report.provider_id, notification.id, notification.provider_sid,
        )
        return None
    if receipt.phone and normalise_incoming(receipt.phone, settings.default_region) != notification.phone:
        log.warning("Aliyun receipt for %s names another number: ignored", receipt.report.provider_id)
        return None
    return notification


def _apply(settings: Settings, batch: list[Receipt]) -> Work:
    work = Work()
    for receipt in batch:
        notification = _row(settings, receipt)
        if notification is None:
            continue
        report = receipt.report
        if report.status is not None and record_status(
            db.session, notification, status=report.status, sid=report.provider_id,
            error_code=report.carrier_code, reason=report.reason,
        ):
            # Only the receipt that moved the row can start a backup: a repeated one changed nothing.
            work = work + backup_work(notification.channel, backup_after_failure(db.session, notification))
        if receipt.key_press is not None:
            work = work + record_key_press(db.session, settings, notification, receipt.key_press)
    return work


@bp.post("/voice-report")
def voice_report() -> Response | tuple[Response, int]:
    """VoiceCallReport and VoiceReport: results of IvrCalls and voice notices (SingleCallByTts), and the keys
    members pressed."""
    settings = get_settings()
    return _answer(lambda: _apply(settings, receipts.call_receipts(_payload())))


@bp.post("/sms-report")
def sms_report() -> Response | tuple[Response, int]:
    """SmsReport: whether each text arrived."""
    settings = get_settings()
    return _answer(lambda: _apply(settings, receipts.sms_receipts(_payload())))


@bp.post("/sms-up")
def sms_up() -> Response | tuple[Response, int]:
    """SmsUp: texts to the service's number: replies, and silent calls for help."""
    settings = get_settings()

    def apply() -> Work:
        work = Work()
        for sms in receipts.replies(_payload()):
            handled = handle_inbound_sms(
                db.session, settings, message_sid=sms.message_id,
                from_phone=normalise_incoming(sms.sender, settings.default_region), body=sms.text,
                capabilities=get_carrier().capabilities, called=None,
            )
            work = work + handled.work(settings)
        return work

    return _answer(apply)
