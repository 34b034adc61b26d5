"""Pacing one send before it is claimed: the number's own limits, then the shared sending rate.

The order matters. A number that may not be called yet is put off before it
takes a slot of the rate. The rate is waited for before the row is claimed,
so a row never sits claimed for longer than a carrier request (the sweeper
would take a long claim for a dead worker's and send it again). The number's
send is recorded only once a slot is held, so its spacing counts from when
the send really goes; if the row then turns out to be sent already, the
record is undone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hotline.carriers import Capabilities
from hotline.extensions import queues
from hotline.metrics import RATE_WAIT_SECONDS
from hotline.models import Channel
from hotline.pacing import Priority, RecipientGuard, RecipientLimits, SendRate, Slot
from hotline.pacing.recipients import Reservation
from hotline.services.outbox import BROADCAST
from workers.runtime import JobContext

# How often a broadcast send waiting for its turn to ask for a slot checks whether the worker is stopping.
GATE_POLL = 0.5
# One lock per sender (channel and number): see _take_bulk_slot.
_bulk_gates: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class Go:
    """The send may go now: its slot of the sending rate, and its record against the number's limits, if any."""

    rate: SendRate
    slot: Slot
    reservation: Reservation | None = None
    priority: Priority = Priority.URGENT

    def leaving(self) -> None:
        """Count the send's slot from now, right before its request leaves for the carrier.

        A slot that lapsed while the row was claimed (a slow database) is
        replaced by a fresh one first, so the send still counts in its second.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        slot = self.slot
        while not self.rate.stamp(slot):
            fresh = self.rate.acquire(self.priority)
            assert fresh is not None  # nothing asked it to give up
            slot = fresh


@dataclass(frozen=True)
class Wait:
    """The number may not be sent to for ``seconds`` yet."""

    seconds: float


def priority_of(sender: str) -> Priority:
    """Broadcasts wait behind everything about an incident."""
    return Priority.BULK if sender == BROADCAST else Priority.URGENT


def recipient_limits(capabilities: Capabilities, channel: str) -> RecipientLimits:
    """The carrier's per-number limits on ``channel`` (none, for Twilio and the simulator)."""
    if channel == Channel.CALL:
        return RecipientLimits(
            capabilities.min_call_spacing, capabilities.max_calls_per_hour, capabilities.max_calls_per_day
        )
    return RecipientLimits(capabilities.min_sms_spacing, capabilities.max_sms_per_hour, capabilities.max_sms_per_day)


def send_rate(ctx: JobContext, channel: str) -> SendRate:
    """The shared rate of ``channel`` from this service's sending number on its carrier."""
    settings = ctx.settings
    limit = settings.calls_per_second if channel == Channel.CALL else settings.sms_per_second
    return SendRate(
        queues.connection, f"{channel}:{settings.carrier}:{settings.hotline_number}", limit,
        bulk_share=settings.broadcast_share,
    )


def _take_bulk_slot(rate: SendRate, give_up: Callable[[], bool] | None) -> Slot | None:
    """A broadcast send's slot, asked for by one thread of this process at a time.

    Bulk sends are spaced evenly, so a broadcast's many waiting threads
    would all wake at every interval to ask, one winning: hundreds of refused
    asks a second, whose processor time an alert's sends then waited for.
    The others wait on a lock instead, which costs nothing.
    """
    gate = _bulk_gates.setdefault(rate.name, threading.Lock())
    while not gate.acquire(timeout=GATE_POLL):
        if give_up is not None and give_up():
            return None
    try:
        return rate.acquire(Priority.BULK, give_up=give_up)
    finally:
        gate.release()


def pace(
    ctx: JobContext, channel: str, phone: str, sender: str, *, give_up: Callable[[], bool] | None = None
) -> Go | Wait | None:
    """Wait for the sending rate and hold a place within the number's limits.

    Returns:
        :class:`Go` when the send may go now, :class:`Wait` when the number
        must not be sent to yet, or None when ``give_up`` stopped the wait.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    limits = recipient_limits(ctx.carrier.capabilities, channel)
    guard = RecipientGuard(queues.connection)
    if limits and (wait := guard.wait(channel, phone, limits)) > 0:
        return Wait(wait)
    priority = priority_of(sender)
    rate = send_rate(ctx, channel)
    started = time.monotonic()
    slot = _take_bulk_slot(rate, give_up) if priority is Priority.BULK else rate.acquire(priority, give_up=give_up)
    if slot is None:
        return None
    RATE_WAIT_SECONDS.labels(channel=channel, priority=priority.value).observe(time.monotonic() - started)
    wait, reservation = guard.reserve(channel, phone, limits)
    if wait > 0:
        return Wait(wait)  # another worker took the number's turn meanwhile
    return Go(rate, slot, reservation, priority)


def release(reservation: Reservation | None) -> None:
    """Undo a number's record for a send that did not go.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    RecipientGuard(queues.connection).release(reservation)
