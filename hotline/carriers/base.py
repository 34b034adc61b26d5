"""The carrier seam: what hotline needs from a phone network, in the project's own words.

Every carrier (Twilio, the development simulator, a China carrier) implements
:class:`Carrier`. Whatever a carrier calls its statuses and error codes, it
maps them here, inside its own module, to :class:`DeliveryStatus` and
:class:`FailureReason`; services never see a carrier's field names or codes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class DeliveryStatus(enum.StrEnum):
    """Where one SMS or call stands, from the outbox to its end.

    ``pending`` and ``claimed`` are the outbox's own; the rest are reported
    by carriers, mapped to these words.
    """

    PENDING = "pending"  # written, not yet handed to a carrier
    CLAIMED = "claimed"  # a worker is handing it to the carrier
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    INITIATED = "initiated"
    SENDING = "sending"
    SENT = "sent"
    RINGING = "ringing"
    ANSWERED = "answered"
    IN_PROGRESS = "in-progress"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    READ = "read"


class FailureReason(enum.StrEnum):
    """Why a carrier refused or could not deliver, in the project's words."""

    INVALID_NUMBER = "invalid_number"  # not a number at all, or not in service
    OPTED_OUT = "opted_out"  # the recipient asked to receive nothing (STOP)
    NOT_TEXTABLE = "not_textable"  # a landline, or a number that cannot take SMS
    UNREACHABLE = "unreachable"  # switched off, out of coverage, carrier filtering
    BLOCKED = "blocked"  # blacklisted or suspended by the carrier, or no permission for the region
    THROTTLED = "throttled"  # too many requests: try again later
    CARRIER_ERROR = "carrier_error"  # the carrier failed (5xx), or could not be reached
    REJECTED = "rejected"  # refused for another reason retrying cannot fix
    UNKNOWN = "unknown"


# Reasons that a later attempt may overcome.
TRANSIENT_REASONS = frozenset({FailureReason.THROTTLED, FailureReason.CARRIER_ERROR})
# Reasons that say the number itself cannot be reached this way: shown in group health.
UNREACHABLE_NUMBER_REASONS = frozenset(
    {FailureReason.INVALID_NUMBER, FailureReason.NOT_TEXTABLE, FailureReason.UNREACHABLE, FailureReason.BLOCKED}
)


@dataclass(frozen=True)
class Capabilities:
    """What a carrier can do; the services choose how to alert from these.

    Attributes:
        ring_group: Ring several numbers in one call and bridge the first to
            accept (Twilio's ``<Dial>`` with several ``<Number>`` nouns).
        keypress_calls: Place a call that reports a key press back.
        free_text: Send any SMS text and speak any prompt; False when only
            pre-registered templates may be sent (China's carriers): calls
            are then placed with a :class:`CallPrompt`.
        max_ring_group: The most numbers one ring-group call may hold.
        min_call_spacing: Seconds the carrier requires between two calls to
            one number (China's carriers: about 60); 0 for none.
        max_calls_per_hour: Calls the carrier allows to one number in any
            hour (China's carriers: 5); 0 for no cap.
        max_calls_per_day: Calls to one number in any day (China's
            carriers: 20); 0 for no cap.
        min_sms_spacing: Seconds between two SMS to one number; 0 for none.
        max_sms_per_hour: SMS to one number in any hour; 0 for no cap.
        max_sms_per_day: SMS to one number in any day; 0 for no cap.
    """

    ring_group: bool
    keypress_calls: bool
    free_text: bool
    max_ring_group: int = 10
    min_call_spacing: int = 0
    max_calls_per_hour: int = 0
    max_calls_per_day: int = 0
    min_sms_spacing: int = 0
    max_sms_per_hour: int = 0
    max_sms_per_day: int = 0


@dataclass(frozen=True)
class OutboundSms:
    """One SMS as hotline hands it to a carrier.

    Attributes:
        to: The recipient in E.164.
        text: The rendered text, for carriers that send free text.
        template: The project's template key (e.g. ``sms_alert``), for carriers
            that only send registered templates.
        params: The template's values, by the project's placeholder names.
        drill: Part of a drill: ``text`` starts by saying so, and a carrier of
            registered templates sends the template's drill variant.
    """

    to: str
    text: str
    template: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    drill: bool = False


@dataclass(frozen=True)
class CallPrompt:
    """What a called member hears, as a template key and values, for carriers that speak only registered prompts.

    Carriers that fetch their call flow from a URL (Twilio, the simulator)
    ignore it.

    Attributes:
        template: The project's prompt key (e.g. ``voice_screen``).
        params: The values of every prompt the call may play, by the project's placeholder names.
        replies: The prompt played after each key (``{"1": "voice_screen_ack_only", "2": "voice_goodbye"}``);
            none for a notice that is only read out (a spoken broadcast).
        drill: Part of a drill: every prompt is played in its drill variant,
            which starts by saying it is a drill.
    """

    template: str
    params: Mapping[str, str] = field(default_factory=dict)
    replies: Mapping[str, str] = field(default_factory=dict)
    drill: bool = False


@dataclass(frozen=True)
class Submitted:
    """The carrier accepted a message or call for delivery."""

    sid: str
    status: str


class CarrierError(Exception):
    """The carrier refused or failed a request.

    Attributes:
        reason: Why, in the project's words.
        transient: True when the same request may succeed later (throttling,
            the carrier's own failures, timeouts); False when retrying cannot help.
        code: The carrier's own error code, kept for the record only.
        http_status: The HTTP status of the refusal, if any; ``None`` for a
            timeout or a connection that never completed.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: FailureReason = FailureReason.UNKNOWN,
        transient: bool | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.reason = reason
        self.transient = reason in TRANSIENT_REASONS if transient is None else transient
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return " / ".join(parts)


class Carrier(Protocol):
    """Sends SMS and places calls. Implementations must be safe to use from a worker."""

    name: str
    capabilities: Capabilities

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        """Hand one SMS to the carrier.

        ``reference`` is the outbox row's id: the carrier's receipts carry it
        back (in a callback address, or a signed ``OutId``), so a receipt
        finds its row even before the carrier's id is recorded.

        Raises:
            CarrierError: The carrier refused it, or could not be reached.
        """
        ...

    def place_call(self, *, to: str, reference: int, timeout: int, prompt: CallPrompt | None = None) -> Submitted:
        """Start one outbound call for outbox row ``reference``, ringing ``timeout`` seconds.

        A carrier with ``capabilities.free_text`` fetches the call flow from
        the service when answered; one without it plays ``prompt``.

        Raises:
            CarrierError: The carrier refused it, or could not be reached.
        """
        ...

    def message_problems(self, template: str, params: Mapping[str, str], channel: str) -> list[str]:
        """Why the message ``template`` with ``params`` would not go out on ``channel`` (``sms`` or ``call``)
        word for word, in Chinese for the sender; empty when nothing stands in the way.

        Asked before a broadcast is sent, whose words must not be cut: a carrier
        that sends free text has nothing to say; one that sends only registered
        templates names a template not registered, or a value longer than its
        variables may be.
        """
        ...
