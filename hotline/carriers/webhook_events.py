"""What carriers' webhooks say, in the project's words.

Each carrier reads its own webhooks (field names, signatures, status values)
and hands the webhook blueprints these; the services see nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.carriers.base import DeliveryStatus, FailureReason


class BadWebhook(ValueError):
    """A webhook whose fields are missing or malformed: answered with 400."""


@dataclass(frozen=True)
class IncomingCall:
    """Somebody dialled the hotline."""

    call_id: str
    caller: str  # as the carrier wrote it; normalised to E.164 by the caller of the parser
    called: str = ""


@dataclass(frozen=True)
class IncomingSms:
    """Somebody texted the hotline."""

    message_id: str
    sender: str
    text: str
    called: str = ""  # the number texted, as the carrier wrote it; it selects a station with its own number


@dataclass(frozen=True)
class DeliveryReport:
    """A carrier's news about one SMS or call leg it took from hotline.

    Attributes:
        provider_id: The carrier's id for the message or call.
        status: The new status, or None when the carrier said something
            hotline does not track (the report is then ignored).
        reason: Why it failed, for a failed or undelivered one.
        carrier_code: The carrier's own error code, kept for the record.
    """

    provider_id: str
    status: DeliveryStatus | None
    reason: FailureReason | None = None
    carrier_code: int | None = None


@dataclass(frozen=True)
class KeyPress:
    """Keys pressed on a call leg hotline placed or rang."""

    call_id: str
    digits: str


@dataclass(frozen=True)
class DialOutcome:
    """How ringing a group (or a transfer) ended for the caller."""

    connected: bool


@dataclass(frozen=True)
class CallEnded:
    """The caller's own call changed state."""

    call_id: str
    ended: bool
    status: str
    duration: int = 0


@dataclass(frozen=True)
class Receipt:
    """A carrier's receipt for one SMS or call it took from hotline, naming the outbox row it claims.

    Receipts that arrive unsigned (China's carriers push them by plain HTTP)
    name the row through a reference the service wrote when it sent; the
    carrier's module verifies it against the row before anything is applied.

    Attributes:
        reference: What the service gave the carrier to send back (Aliyun's ``OutId``).
        report: The delivery news, with the carrier's id for the message or call.
        key_press: Keys pressed on the call, if the receipt carries any.
        phone: The recipient, as the carrier wrote it, when the receipt says.
    """

    reference: str
    report: DeliveryReport
    key_press: KeyPress | None = None
    phone: str = ""
