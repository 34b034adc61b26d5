"""Reading Aliyun's pushed receipts: VoiceCallReport and VoiceReport, SmsReport, SmsUp.

Each push is a JSON array of receipts. Field names are Aliyun's
(``call_id``, ``status_code``, ``dtmf``, ``out_id``; ``biz_id``, ``success``,
``err_code``; ``phone_number``, ``content``, ``send_time``); what comes out is
in the project's words. Receipts are not signed: :func:`genuine` checks the
``OutId`` against the row it names before anything is applied.
"""

from __future__ import annotations

import hashlib
from typing import Any

from hotline.carriers.aliyun import codes, outid
from hotline.carriers.base import DeliveryStatus
from hotline.carriers.webhook_events import BadWebhook, DeliveryReport, IncomingSms, KeyPress, Receipt

# The most receipts one push may carry; Aliyun batches a few hundred at most.
MAX_BATCH = 1000


def _items(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise BadWebhook("expected a JSON array of receipts")
    if len(payload) > MAX_BATCH:
        raise BadWebhook(f"more than {MAX_BATCH} receipts in one push")
    return payload


def _text(item: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise BadWebhook(f"receipt without {name}")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise BadWebhook(f"malformed {name}")
    return str(value)[:200]


def call_receipts(payload: Any) -> list[Receipt]:
    """Receipts of calls (IvrCalls and voice notices alike): results, and key presses (``status_code`` 300000,
    or ``dtmf`` on a result).

    Raises:
        BadWebhook: The push is not an array of receipts, or one lacks ``call_id`` or ``status_code``.
    """
    receipts = []
    for item in _items(payload):
        call_id = _text(item, "call_id")
        code = _text(item, "status_code")
        status, reason = codes.call_status(code)
        digits = _text(item, "dtmf", required=False)
        receipts.append(
            Receipt(
                reference=_text(item, "out_id", required=False),
                report=DeliveryReport(
                    provider_id=call_id, status=status, reason=reason, carrier_code=codes.numeric(code)
                ),
                key_press=KeyPress(call_id=call_id, digits=digits) if digits else None,
                phone=_text(item, "callee", required=False),
            )
        )
    return receipts


def sms_receipts(payload: Any) -> list[Receipt]:
    """Delivery reports of texts.

    Raises:
        BadWebhook: Not an array of receipts, or one lacks ``biz_id`` or ``phone_number``.
    """
    receipts = []
    for item in _items(payload):
        success = item.get("success")
        if isinstance(success, str):
            success = success.strip().lower() == "true"
        if not isinstance(success, bool):
            raise BadWebhook("receipt without success")
        report = (
            DeliveryReport(provider_id=_text(item, "biz_id"), status=DeliveryStatus.DELIVERED)
            if success
            else DeliveryReport(
                provider_id=_text(item, "biz_id"),
                status=DeliveryStatus.UNDELIVERED,
                reason=codes.sms_failure(
                    _text(item, "err_code", required=False), _text(item, "err_msg", required=False)
                ),
            )
        )
        receipts.append(
            Receipt(reference=_text(item, "out_id", required=False), report=report, phone=_text(item, "phone_number"))
        )
    return receipts


def replies(payload: Any) -> list[IncomingSms]:
    """Texts sent to the service's number (SmsUp).

    SmsUp carries no message id: one is made from the sender, the time and
    the text (and Aliyun's ``sequence_id`` when present), so a receipt pushed
    twice is the same message.

    Raises:
        BadWebhook: Not an array, or a reply lacks ``phone_number`` or ``content``.
    """
    messages = []
    for item in _items(payload):
        sender = _text(item, "phone_number")
        content = item.get("content")
        if not isinstance(content, str):
            raise BadWebhook("reply without content")
        sent = _text(item, "send_time", required=False)
        sequence = _text(item, "sequence_id", required=False)
        digest = hashlib.sha256(f"{sender}\n{sent}\n{sequence}\n{content}".encode()).hexdigest()[:40]
        messages.append(IncomingSms(message_id=f"aliyun-up-{digest}", sender=sender, text=content[:1600]))
    return messages


def genuine(secret: str, receipt: Receipt, row_phone: str) -> bool:
    """Whether ``receipt``'s ``OutId`` was made by this service for the row it names, sent to ``row_phone``."""
    return outid.verify(secret, receipt.reference, row_phone) is not None
