"""Aliyun's codes in the project's words: API refusals, call results, SMS reports.

Checked against Aliyun's documentation (Dysms and Dyvms 2017-05-25, call
status codes); a code not listed here is recorded as it came, with a reason
that neither retries nor marks the number.
"""

from __future__ import annotations

from hotline.carriers.base import DeliveryStatus, FailureReason

# Refusals of SendSms and IvrCall (the ``Code`` of the answer).
_API_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL": FailureReason.THROTTLED,  # a per-number or per-account frequency limit
    "isv.DAY_LIMIT_CONTROL": FailureReason.THROTTLED,
    "Throttling": FailureReason.THROTTLED,
    "Throttling.User": FailureReason.THROTTLED,
    "Throttling.Api": FailureReason.THROTTLED,
    "isv.MOBILE_NUMBER_ILLEGAL": FailureReason.INVALID_NUMBER,
    "isv.CALLED_NUMBER_ILLEGAL": FailureReason.INVALID_NUMBER,
    "isv.PHONENUMBER_BLACKLIST": FailureReason.BLOCKED,
    "isv.BLACKLIST": FailureReason.BLOCKED,
    "isp.SYSTEM_ERROR": FailureReason.CARRIER_ERROR,
    "isp.GATEWAY_ERROR": FailureReason.CARRIER_ERROR,
    "ServiceUnavailable": FailureReason.CARRIER_ERROR,
    "InternalError": FailureReason.CARRIER_ERROR,
}


def api_reason(code: str | None, http_status: int | None) -> FailureReason:
    """Why SendSms or IvrCall was refused (``code`` from the answer), or why it never answered (no code).

    Anything else (a bad template, a sign name not approved, no balance, a
    sender outside the mainland: ``isv.DENY_IP_RANGE``) is ``rejected``:
    retrying cannot fix it, and it says nothing about the number.
    """
    if code in _API_CODES:
        return _API_CODES[code]
    if code is None:
        return FailureReason.CARRIER_ERROR if http_status is None or http_status >= 500 else FailureReason.REJECTED
    if code.startswith("Throttling") or code.endswith("LIMIT_CONTROL"):
        return FailureReason.THROTTLED
    if http_status is not None and http_status >= 500:
        return FailureReason.CARRIER_ERROR
    return FailureReason.REJECTED


# The key press of an IvrCall arrives as its own VoiceCallReport.
KEY_PRESS = "300000"

# VoiceCallReport and VoiceReport ``status_code`` -> where the call stands, and why it failed.
_CALL_STATUS: dict[str, tuple[DeliveryStatus, FailureReason | None]] = {
    "200101": (DeliveryStatus.INITIATED, None),
    "200201": (DeliveryStatus.RINGING, None),
    "200102": (DeliveryStatus.IN_PROGRESS, None),
    "200100": (DeliveryStatus.COMPLETED, None),
    "200000": (DeliveryStatus.COMPLETED, None),  # heard to the end
    "200001": (DeliveryStatus.COMPLETED, None),  # hung up before the end
    "200008": (DeliveryStatus.COMPLETED, None),  # answered, no key pressed in time
    "200002": (DeliveryStatus.BUSY, None),
    "200003": (DeliveryStatus.NO_ANSWER, None),
    "200004": (DeliveryStatus.FAILED, FailureReason.INVALID_NUMBER),
    "482": (DeliveryStatus.FAILED, FailureReason.INVALID_NUMBER),
    "200005": (DeliveryStatus.FAILED, FailureReason.UNREACHABLE),  # rejected or not reachable
    "200007": (DeliveryStatus.FAILED, FailureReason.UNREACHABLE),  # out of coverage
    "200010": (DeliveryStatus.FAILED, FailureReason.UNREACHABLE),  # switched off
    "200011": (DeliveryStatus.FAILED, FailureReason.BLOCKED),  # suspended (停机)
    "200012": (DeliveryStatus.FAILED, FailureReason.BLOCKED),  # call restricted
    "200006": (DeliveryStatus.FAILED, FailureReason.REJECTED),  # the prompt could not be played
    "200117": (DeliveryStatus.FAILED, FailureReason.REJECTED),  # calling number not allowed
    "200118": (DeliveryStatus.FAILED, FailureReason.THROTTLED),  # the carrier's calling hours
    "200119": (DeliveryStatus.FAILED, FailureReason.THROTTLED),  # the carrier's frequency limit
    "200121": (DeliveryStatus.FAILED, FailureReason.THROTTLED),  # over the account's concurrency
    "400": (DeliveryStatus.FAILED, FailureReason.CARRIER_ERROR),
    "500": (DeliveryStatus.FAILED, FailureReason.CARRIER_ERROR),
    "999999": (DeliveryStatus.FAILED, FailureReason.CARRIER_ERROR),
}


def call_status(code: str) -> tuple[DeliveryStatus | None, FailureReason | None]:
    """A call result code in the project's words; ``(None, None)`` for a key press or a code not tracked."""
    return _CALL_STATUS.get(code, (None, None))


def numeric(code: str | None) -> int | None:
    """A numeric code as an int, for the record; None for the text codes."""
    return int(code) if code and code.isdigit() and len(code) <= 9 else None


# SmsReport ``err_code`` of a failed SMS. The carriers' own codes vary by carrier and are not
# published as a table; a code not listed is read from ``err_msg``'s wording instead.
_SMS_FAILURES = {
    "MOBILE_NUMBER_ILLEGAL": FailureReason.INVALID_NUMBER,
    "isv.MOBILE_NUMBER_ILLEGAL": FailureReason.INVALID_NUMBER,
}


def sms_failure(err_code: str, err_msg: str) -> FailureReason:
    """Why an SMS report says the text did not arrive."""
    if err_code in _SMS_FAILURES:
        return _SMS_FAILURES[err_code]
    if "空号" in err_msg:
        return FailureReason.INVALID_NUMBER
    if "黑名单" in err_msg or "停机" in err_msg:
        return FailureReason.BLOCKED
    if "关机" in err_msg:
        return FailureReason.UNREACHABLE
    return FailureReason.UNKNOWN
