"""Twilio's error codes and statuses, mapped to the project's words.

This is the one place that knows what Twilio's numbers mean. The carrier
simulator plays Twilio's part, so it answers with the same codes.
"""

from __future__ import annotations

from hotline.carriers.base import DeliveryStatus, FailureReason

OPTED_OUT = 21610  # the recipient replied STOP

_REASONS: dict[int, FailureReason] = {
    20429: FailureReason.THROTTLED,  # too many requests
    21611: FailureReason.THROTTLED,  # the sender's queue is full
    21211: FailureReason.INVALID_NUMBER,  # invalid To
    21214: FailureReason.INVALID_NUMBER,  # To cannot be reached (not a valid phone number)
    21217: FailureReason.INVALID_NUMBER,  # not a valid phone number
    21606: FailureReason.REJECTED,  # the From number cannot send to this number
    21408: FailureReason.BLOCKED,  # no permission for the region
    21610: FailureReason.OPTED_OUT,
    21612: FailureReason.UNREACHABLE,  # no route to the number
    21614: FailureReason.NOT_TEXTABLE,  # not a mobile number
    21660: FailureReason.REJECTED,  # the From number is not the account's
    30003: FailureReason.UNREACHABLE,  # handset off or out of coverage
    30004: FailureReason.BLOCKED,  # message blocked
    30005: FailureReason.INVALID_NUMBER,  # unknown destination handset
    30006: FailureReason.NOT_TEXTABLE,  # landline or unreachable carrier
    30007: FailureReason.BLOCKED,  # filtered as spam by the carrier
    30008: FailureReason.UNKNOWN,  # unknown error
}


def failure_reason(code: int | None, http_status: int | None) -> FailureReason:
    """What a Twilio refusal or failed delivery means.

    Known codes decide, whatever the HTTP status says. Without one, a timeout
    or dropped connection (no HTTP status), 429 and 5xx are worth retrying.
    """
    if code is not None and code in _REASONS:
        return _REASONS[code]
    if http_status is None:
        return FailureReason.CARRIER_ERROR
    if http_status == 429:
        return FailureReason.THROTTLED
    if http_status >= 500:
        return FailureReason.CARRIER_ERROR
    return FailureReason.REJECTED


def delivery_failure(code: int | None) -> FailureReason:
    """Why a message or call that Twilio took could not be delivered."""
    return _REASONS.get(code, FailureReason.UNKNOWN) if code is not None else FailureReason.UNKNOWN


def delivery_status(raw: str) -> DeliveryStatus | None:
    """A status Twilio reports for a message or call leg, or None if unknown."""
    try:
        return DeliveryStatus(raw)
    except ValueError:
        return None
