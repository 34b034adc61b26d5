"""What can happen on an incident's timeline: the kinds of :class:`TimelineEvent`.

``TimelineEvent.kind`` is stored as a plain string. :class:`EventKind` names
every value the service records, so code compares and builds kinds by name
rather than by spelling; being a ``StrEnum``, a member equals its string and
stored rows need no migration.

Kinds fall in two groups. The key steps tell an incident's story (the call
for help, the alert, every answer, escalations, transfers, closing). The
delivery log holds one row per status change of every SMS and call the
service sent; an alert to ten people writes dozens of them.
"""

from __future__ import annotations

import enum

from hotline.models.incidents import Channel

# Every status a notification can reach, as the carriers and the outbox spell
# them (hotline/services/delivery.py ranks the same lists). A kind's value
# replaces the hyphen: "no-answer" is recorded as "call_no_answer".
SMS_STATUSES = (
    "pending",
    "claimed",
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "canceled",
    "read",
)
CALL_STATUSES = (
    "pending",
    "claimed",
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "answered",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
_STATUSES = {Channel.SMS: SMS_STATUSES, Channel.CALL: CALL_STATUSES}


class EventKind(enum.StrEnum):
    """Every kind of timeline event, with the string stored in the database."""

    # --- key steps: the incident's story ---------------------------------------
    CALL_RECEIVED = "call_received"  # a call for help came in
    SMS_RECEIVED = "sms_received"  # an SMS for help came in
    RECORDED_AFTER_OUTAGE = "recorded_after_outage"  # taken while the database was down, recorded later
    FAN_OUT = "fan_out"  # the group's phones rung and texted
    CALL_ACCEPTED = "call_accepted"  # a keypad answer on a call: 1 or 2 (detail["answer"] says which)
    SMS_REPLY = "sms_reply"  # an answer by SMS: 1 or 2
    SMS_UNRECOGNISED = "sms_unrecognised"  # a reply that was neither 1 nor 2
    ACKNOWLEDGED = "acknowledged"  # the first acceptance, or the duty line took the call
    ESCALATED = "escalated"  # nobody accepted in time: officers, then the duty line, alerted
    TRANSFERRED = "transferred"  # the caller's call passed on to officers or the duty line
    CALLER_CONNECTED = "caller_connected"  # the caller talked with someone
    CALLER_TOLD_NOBODY_ANSWERED = "caller_told_nobody_answered"
    CALLER_HUNG_UP = "caller_hung_up"  # the caller's own call ended
    CALLER_SMS = "caller_sms"  # the caller texted the hotline while the incident was open
    BACKUP_NOTIFIED = "backup_notified"  # a member's own number failed: their backup number rung or texted
    CLOSED = "closed"  # station staff reviewed and closed it
    ACCEPTANCE_COUNTED = "acceptance_counted"  # one more responder, the group needs more before it is covered
    TAKEN = "taken"  # a member of station staff took the incident in hand from the console
    MEMBERS_RECALLED = "members_recalled"  # members who had not answered were called again
    CALLER_CALLED_BACK = "caller_called_back"  # the caller's call dropped: the service calls them back
    CALLER_CANCELLED = "caller_cancelled"  # the caller pressed 9: a misdial, everyone told
    CALLER_STILL_NEEDS_HELP = "caller_still_needs_help"  # the caller pressed 1 when called back
    DRILL_STARTED = "drill_started"  # a drill raised the alert for one of the group's households
    TRIGGER_RAISED = "trigger_raised"  # an alarm button or another system raised the alert (POST /api/alerts)

    # --- delivery log: one row per status change of a notification -------------
    SMS_PENDING = "sms_pending"
    SMS_CLAIMED = "sms_claimed"
    SMS_ACCEPTED = "sms_accepted"
    SMS_SCHEDULED = "sms_scheduled"
    SMS_QUEUED = "sms_queued"
    SMS_SENDING = "sms_sending"
    SMS_SENT = "sms_sent"
    SMS_DELIVERED = "sms_delivered"
    SMS_UNDELIVERED = "sms_undelivered"
    SMS_FAILED = "sms_failed"
    SMS_CANCELED = "sms_canceled"
    SMS_READ = "sms_read"
    CALL_PENDING = "call_pending"
    CALL_CLAIMED = "call_claimed"
    CALL_QUEUED = "call_queued"
    CALL_INITIATED = "call_initiated"
    CALL_RINGING = "call_ringing"
    CALL_IN_PROGRESS = "call_in_progress"
    CALL_ANSWERED = "call_answered"
    CALL_COMPLETED = "call_completed"
    CALL_BUSY = "call_busy"
    CALL_FAILED = "call_failed"
    CALL_NO_ANSWER = "call_no_answer"
    CALL_CANCELED = "call_canceled"

    @classmethod
    def delivery(cls, channel: Channel | str, status: str) -> EventKind:
        """The kind recorded when a notification on ``channel`` reaches ``status``.

        Raises:
            ValueError: ``channel`` is not sms or call, or ``status`` is not a
                status that channel has (see :data:`SMS_STATUSES` and
                :data:`CALL_STATUSES`); such an event would have no label and
                no place in the delivery log.
        """
        try:
            statuses = _STATUSES[Channel(channel)]
        except ValueError:
            raise ValueError(f"no delivery events for channel {channel!r}") from None
        if status not in statuses:
            raise ValueError(f"{channel} has no status {status!r}")
        return cls(_delivery_value(str(Channel(channel)), status))

    @classmethod
    def parse(cls, kind: str) -> EventKind | None:
        """The member for a stored ``kind``; None for a kind this code does not know."""
        try:
            return cls(kind)
        except ValueError:
            return None

    @property
    def is_delivery(self) -> bool:
        """True for the delivery log's per-message statuses."""
        return self in DELIVERY_KINDS

    @property
    def is_key_step(self) -> bool:
        """True for the steps that tell the incident's story."""
        return self not in DELIVERY_KINDS

    @property
    def channel(self) -> Channel | None:
        """The channel of a delivery kind; None for a key step."""
        found = _DELIVERY_PARTS.get(self)
        return found[0] if found else None

    @property
    def status(self) -> str | None:
        """The notification status of a delivery kind as stored on it (``no-answer``); None for a key step."""
        found = _DELIVERY_PARTS.get(self)
        return found[1] if found else None


def _delivery_value(channel: str, status: str) -> str:
    return f"{channel}_{status}".replace("-", "_")


_DELIVERY_PARTS: dict[EventKind, tuple[Channel, str]] = {
    EventKind(_delivery_value(str(channel), status)): (channel, status)
    for channel, statuses in _STATUSES.items()
    for status in statuses
}
DELIVERY_KINDS = frozenset(_DELIVERY_PARTS)
KEY_STEPS = frozenset(kind for kind in EventKind if kind not in DELIVERY_KINDS)


def is_key_step(kind: str) -> bool:
    """Whether a stored ``kind`` belongs with the key steps.

    A kind this code does not know counts as a key step, so that nothing new
    is hidden from the default view of a timeline.
    """
    known = EventKind.parse(kind)
    return known is None or known.is_key_step
