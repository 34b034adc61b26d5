"""A sending rate shared by every worker: at most ``limit`` sends in any one second, emergencies first.

Each sender (a channel of one sending number or account) has a log in Redis:
a sorted set of the times its recent sends were let through. A send is let
through only while fewer than ``limit`` sends sit in the last second (plus a
small margin, below). The check and the entry are one Lua script, timed by
Redis's own clock, so processes on several hosts cannot both take the last
slot or disagree about when a window ends.

A send's slot is taken before its row is claimed and counted again from the
moment its request leaves (:meth:`SendRate.stamp`), so what happens in
between cannot push two seconds' sends into one at the carrier.

Priorities: an alert or escalation send (:attr:`Priority.URGENT`) may use the
whole limit, all at once. A bulk send (:attr:`Priority.BULK`, broadcasts) takes
nothing while an urgent send is waiting: a refused urgent send raises a flag
that stops every bulk send until it lapses. Otherwise bulk sends keep to their
share of the limit, leaving the rest free for an emergency's texts, where
that rest holds a group's alert (:data:`GROUP_TEXTS`; at 50 texts a second
and a share of 0.8, 10 are free). Where it cannot (at 10 a second, 2 free
slots would not let a group's 9 texts go at once anyway), a broadcast uses the
whole limit while no emergency is under way, so a bulletin takes no longer
than the rate needs; from an urgent send until ``emergency_hold`` seconds after
the last one, it keeps to its share, so that the rest of an emergency
(acceptances, escalations) leaves at once. The first alert of a quiet spell
then waits at most one bulk spacing per text: the broadcast stops for it, and
a slot leaves the window every ``window / limit``.

Bulk sends are also spaced evenly (one every ``window / limit``), not let
through in bursts: requests sent in a burst leave a process less evenly than
one at a time (each waits for the others' share of the processor), and a
backlog let through in bursts would repeat its burst every window.

Why not the ``limits`` package (installed with Flask-Limiter): its moving
window is timed by each client's clock, lasts whole seconds, and has no notion
of one caller going before another.
"""

from __future__ import annotations

import enum
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

# A slot is stamped just before its request leaves, but the carrier sees the
# request a little later: about 2 ms as a rule, up to 10 ms at p99, and up to
# about 35 ms for the first burst of sends, which opens fresh connections while
# a dozen threads contend (measured at a fake carrier on 127.0.0.1), and over
# 60 ms for a freshly started worker's first burst on a busy two-core machine.
# Counting a longer window covers that, so every one-second window as the
# carrier measures it stays within the limit; it costs under 10 % of the rate
# when a backlog keeps the window full, nothing to an alert that finds it free.
WINDOW_MARGIN = 0.1
# Waiting senders wake at slightly different times, so they do not all ask at once.
WAKE_JITTER = 0.005
# The longest a refused sender sleeps before asking again.
MAX_PAUSE = 1.0
# A waiting urgent sender's flag outlives its wait by this much, time for its thread to come back for the slot.
URGENT_GRACE = 0.2
# After an urgent send, bulk sends keep to their share this long: an emergency's
# acceptances, escalations and calls again follow within a minute or two.
EMERGENCY_HOLD = 120.0
# Bulk sends are spaced a little wider than the window allows: a send that leaves late after its
# stamp (a cold connection, a busy processor: up to about 100 ms on the embedded defaults under
# load) then still cannot land in one carrier-second with ten others. It costs a broadcast 6 %.
BULK_SLACK = 1.06
# The texts one group's alert sends at once: its members (a ring group holds at most 10) and the caller.
GROUP_TEXTS = 10

_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local urgent = ARGV[3] == '1'
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if not urgent then
    local flagged = redis.call('PTTL', KEYS[2])
    if flagged > 0 then
        return flagged * 1000
    end
    if ARGV[8] == '1' or redis.call('EXISTS', KEYS[4]) == 1 then
        limit = tonumber(ARGV[4])
    end
end
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
    if urgent then
        redis.call('SET', KEYS[4], '1', 'PX', tonumber(ARGV[7]))
    else
        local spacing = math.floor(window * tonumber(ARGV[9]) / limit)
        local last = tonumber(redis.call('GET', KEYS[3]) or '0')
        if now - last < spacing then
            return last + spacing - now
        end
        redis.call('SET', KEYS[3], now, 'PX', math.ceil(window / 1000) + 1000)
    end
    redis.call('ZADD', KEYS[1], now, ARGV[5])
    redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
    return 0
end
local leaving = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local wait = math.max(tonumber(leaving[2]) + window - now, 1)
if urgent then
    redis.call('SET', KEYS[2], '1', 'PX', math.ceil(wait / 1000) + tonumber(ARGV[6]))
end
return wait
"""


# Moves a let-through send to the moment it really goes (never earlier), so the window counts from there;
# 0 when the slot already aged out of the log (taken more than a window ago): the send must take a new one.
_STAMP = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    return 0
end
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
return 1
"""


class Priority(enum.Enum):
    """Who goes first when the rate is used up."""

    URGENT = "urgent"  # alerts, escalations, notices about an incident
    BULK = "bulk"  # broadcasts: a share of the rate during an emergency, and never while an urgent send waits


@dataclass(frozen=True)
class Slot:
    """A send let through by a :class:`SendRate`, and how long it waited for it."""

    token: str
    waited: float


class SendRate:
    """The shared rate of one sender (say, SMS from one number).

    Args:
        connection: The Redis every worker shares.
        name: Names the sender, e.g. ``sms:simulator:+8657188880000``.
        limit: Sends allowed in any one second (at least 1).
        bulk_share: The part of ``limit`` bulk sends may use (0 to 1); at least
            one a second. Where the rest cannot hold a group's texts, it
            applies only while an emergency is under way.
        window: Seconds a send counts for; one second plus a margin.
        emergency_hold: Seconds after an urgent send that bulk sends keep to their share.
    """

    def __init__(
        self,
        connection: Redis,
        name: str,
        limit: int,
        *,
        bulk_share: float = 1.0,
        window: float = 1.0 + WINDOW_MARGIN,
        emergency_hold: float = EMERGENCY_HOLD,
    ) -> None:
        if limit < 1:
            raise ValueError("a rate limit must allow at least one send a second")
        self.name = name
        self.limit = limit
        self.bulk_limit = max(1, min(limit, int(limit * bulk_share)))
        self.window = window
        self.emergency_hold = emergency_hold
        # Keep the free part even with no emergency about only where it can carry a group's texts at once.
        self.keeps_share_alone = limit - self.bulk_limit >= GROUP_TEXTS
        self._log_key = f"hotline:rate:{name}"
        self._urgent_key = f"hotline:rate:{name}:urgent-waiting"
        self._bulk_key = f"hotline:rate:{name}:bulk-last"
        self._emergency_key = f"hotline:rate:{name}:emergency"
        self._script = connection.register_script(_ACQUIRE)
        self._stamp = connection.register_script(_STAMP)

    def try_acquire(self, priority: Priority = Priority.URGENT, token: str = "") -> float:
        """Take a slot if one is free for ``priority``.

        Args:
            priority: Urgent sends go before bulk ones.
            token: Names the slot (for :meth:`stamp`); a random one by default.

        Returns:
            0.0 when the send may go now (the slot is taken); otherwise the
            seconds until one may be free.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        urgent = priority is Priority.URGENT
        wait_us = self._script(
            keys=[self._log_key, self._urgent_key, self._bulk_key, self._emergency_key],
            args=[self.limit, int(self.window * 1_000_000), "1" if urgent else "0", self.bulk_limit,
                  token or secrets.token_hex(8), int(URGENT_GRACE * 1000), max(1, int(self.emergency_hold * 1000)),
                  "1" if self.keeps_share_alone else "0", str(BULK_SLACK)],
        )
        return int(wait_us) / 1_000_000

    def stamp(self, slot: Slot) -> bool:
        """Count ``slot`` from now: call it right before the request leaves.

        Between taking a slot and the request reaching the carrier, the row is
        claimed in the database and a thread may wait for the processor; the
        window is counted from the later moment, so the carrier never sees
        more than the limit in a second however long that took.

        Returns:
            False when that took longer than the window: the slot has lapsed
            (others may have taken its place), and the send must take a new one.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        return bool(self._stamp(keys=[self._log_key], args=[slot.token]))

    def acquire(
        self,
        priority: Priority = Priority.URGENT,
        *,
        sleep: Callable[[float], None] = time.sleep,
        give_up: Callable[[], bool] | None = None,
    ) -> Slot | None:
        """Wait until a slot is free for ``priority``, and take it.

        Args:
            priority: Urgent sends go before bulk ones.
            sleep: How to wait (tests pass a fake).
            give_up: Asked before each wait; True stops waiting without a slot.

        Returns:
            The slot, or None when ``give_up`` said to stop.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        token = secrets.token_hex(8)
        waited = 0.0
        while True:
            wait = self.try_acquire(priority, token)
            if wait <= 0:
                return Slot(token, waited)
            if give_up is not None and give_up():
                return None
            pause = min(wait, MAX_PAUSE) + random.uniform(0, WAKE_JITTER)
            sleep(pause)
            waited += pause
