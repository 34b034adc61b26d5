"""Twilio's webhooks: checking their signature and reading their fields.

Everything a Twilio webhook carries is read here and handed on in the
project's words (:mod:`hotline.carriers.webhook_events`). A field that is
missing or malformed raises :class:`~hotline.carriers.webhook_events.BadWebhook`,
which the webhook blueprint answers with 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Request

from hotline.carriers.base import DeliveryStatus
from hotline.carriers.twilio.codes import delivery_failure, delivery_status
from hotline.carriers.webhook_events import (
    BadWebhook,
    CallEnded,
    DeliveryReport,
    DialOutcome,
    IncomingCall,
    IncomingSms,
    KeyPress,
)

SIGNATURE_HEADER = "X-Twilio-Signature"

# Matched whole (fullmatch): "$" alone would let a trailing newline through.
CALL_SID = re.compile(r"CA[0-9a-f]{32}")
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
PHONE = re.compile(r"[+0-9A-Za-z:_.-]{1,64}")
DIGITS = re.compile(r"[0-9*#]{0,20}")
STATUS = re.compile(r"[a-z-]{3,20}")
_ERROR_CODE = re.compile(r"[0-9]{1,9}")
MAX_SMS_TEXT = 1600
CALL_ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def signed_url(request: Request, public_url: str) -> str:
    """The URL Twilio signed: the configured public base plus the path as sent.

    Behind a TLS-terminating proxy ``request.url`` says http://; Twilio
    signed the public https:// URL, so that is what is checked. The query
    string is taken as received, never re-encoded.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path_and_query = raw
    else:
        path_and_query = quote(request.path)
        if request.query_string:
            path_and_query += "?" + request.query_string.decode("latin-1")
    return public_url + path_and_query


def signature_is_valid(tokens: tuple[str, ...], url: str, params: Mapping[str, str], signature: str) -> bool:
    """True if any of ``tokens`` (old and new, during a rotation) signed the request."""
    if not signature:
        return False
    return any(RequestValidator(token).validate(url, dict(params), signature) for token in tokens)


def is_signed(request: Request, *, tokens: tuple[str, ...], public_url: str) -> bool:
    """Whether ``request`` carries a valid Twilio signature by one of ``tokens``."""
    return signature_is_valid(
        tokens,
        signed_url(request, public_url),
        request.form.to_dict(flat=True),
        request.headers.get(SIGNATURE_HEADER, ""),
    )


def _field(form: Mapping[str, str], name: str, pattern: re.Pattern[str], *, required: bool = True) -> str:
    value = form.get(name, "")
    if not value:
        if required:
            raise BadWebhook(f"missing {name}")
        return ""
    if not pattern.fullmatch(value):
        raise BadWebhook(f"malformed {name}")
    return value


def _carrier_code(form: Mapping[str, str]) -> int | None:
    raw = form.get("ErrorCode", "")
    return int(raw) if _ERROR_CODE.fullmatch(raw) else None


def incoming_call(form: Mapping[str, str]) -> IncomingCall:
    """A call to the hotline number.

    Raises:
        BadWebhook: CallSid or From is missing or malformed.
    """
    return IncomingCall(
        call_id=_field(form, "CallSid", CALL_SID),
        caller=_field(form, "From", PHONE),
        called=_field(form, "To", PHONE, required=False),
    )


def incoming_sms(form: Mapping[str, str]) -> IncomingSms:
    """An SMS to the hotline number; the text loses NUL characters (PostgreSQL cannot store them).

    Raises:
        BadWebhook: MessageSid, From or Body is missing or malformed.
    """
    message_id = _field(form, "MessageSid", MESSAGE_SID)
    sender = _field(form, "From", PHONE)
    body = form.get("Body")
    if body is None:
        raise BadWebhook("missing Body")
    return IncomingSms(
        message_id=message_id, sender=sender, text=body.replace("\x00", "")[:MAX_SMS_TEXT],
        called=_field(form, "To", PHONE, required=False),
    )


def sms_report(form: Mapping[str, str]) -> DeliveryReport:
    """A delivery report for an SMS hotline sent.

    Raises:
        BadWebhook: MessageSid or the status is missing or malformed.
    """
    sid = _field(form, "MessageSid", MESSAGE_SID)
    raw = _field(form, "MessageStatus", STATUS, required=False) or _field(form, "SmsStatus", STATUS)
    return _report(form, sid, raw)


def call_report(form: Mapping[str, str]) -> DeliveryReport:
    """A progress report for a call leg hotline placed or rang.

    Raises:
        BadWebhook: CallSid or CallStatus is missing or malformed.
    """
    sid = _field(form, "CallSid", CALL_SID)
    return _report(form, sid, _field(form, "CallStatus", STATUS))


def _report(form: Mapping[str, str], sid: str, raw: str) -> DeliveryReport:
    code = _carrier_code(form)
    status = delivery_status(raw)
    failed = status in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED)
    return DeliveryReport(
        provider_id=sid,
        status=status,
        reason=delivery_failure(code) if failed else None,
        carrier_code=code,
    )


def key_press(form: Mapping[str, str]) -> KeyPress:
    """The keys a screened member pressed (empty when they pressed none).

    Raises:
        BadWebhook: CallSid or Digits is missing or malformed.
    """
    return KeyPress(call_id=_field(form, "CallSid", CALL_SID), digits=_field(form, "Digits", DIGITS, required=False))


def answered_call(form: Mapping[str, str]) -> str:
    """The id of a call leg that asks what to play (screening pages).

    Raises:
        BadWebhook: CallSid is missing or malformed.
    """
    return _field(form, "CallSid", CALL_SID)


def dial_outcome(form: Mapping[str, str]) -> DialOutcome:
    """How a ring-group (``<Dial>``) ended: did anybody pick up and stay on?

    Raises:
        BadWebhook: CallSid is missing or malformed.
    """
    _field(form, "CallSid", CALL_SID)
    return DialOutcome(connected=_field(form, "DialCallStatus", STATUS, required=False) in ("completed", "answered"))


def caller_status(form: Mapping[str, str]) -> CallEnded:
    """The caller's own call changed state.

    Raises:
        BadWebhook: CallSid or CallStatus is missing or malformed.
    """
    call_id = _field(form, "CallSid", CALL_SID)
    status = _field(form, "CallStatus", PHONE)
    duration = _field(form, "CallDuration", DIGITS, required=False)
    return CallEnded(
        call_id=call_id,
        ended=status in CALL_ENDED,
        status=status,
        duration=int(duration or 0) if duration.isdigit() else 0,
    )
