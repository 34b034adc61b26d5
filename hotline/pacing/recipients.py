"""How often one number may be called or texted: a minimum spacing, and caps per hour and per day.

China's carriers refuse a call to a number called less than a minute ago, or
past five in an hour or twenty in a day, failed calls included. Sends are
counted when they are let through, before the carrier answers, so a failed
call counts as the carrier counts it.

Each (channel, number) has a sorted set in Redis of the times sends to it were
let through in the last day. Checking and recording are one Lua script on
Redis's clock, so two workers cannot both take a number's last call of the
hour. A send that would break a limit is told how long to wait, never refused:
the caller re-schedules it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from redis import Redis

HOUR = 3600
DAY = 24 * HOUR

_CHECK = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local spacing = tonumber(ARGV[1]) * 1000000
local per_hour = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
local hour = 3600 * 1000000
local day = 24 * hour
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - day)
local wait = 0
if spacing > 0 then
    local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
    if last[2] then
        wait = math.max(wait, tonumber(last[2]) + spacing - now)
    end
end
if per_hour > 0 then
    local sent = redis.call('ZCOUNT', KEYS[1], now - hour, '+inf')
    if sent >= per_hour then
        local leaving = redis.call(
            'ZRANGEBYSCORE', KEYS[1], now - hour, '+inf', 'WITHSCORES', 'LIMIT', sent - per_hour, 1)
        wait = math.max(wait, tonumber(leaving[2]) + hour - now)
    end
end
if per_day > 0 then
    local sent = redis.call('ZCARD', KEYS[1])
    if sent >= per_day then
        local leaving = redis.call('ZRANGE', KEYS[1], sent - per_day, sent - per_day, 'WITHSCORES')
        wait = math.max(wait, tonumber(leaving[2]) + day - now)
    end
end
if wait > 0 then
    return wait
end
if ARGV[4] ~= '' then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], day / 1000 + 1000)
end
return 0
"""


@dataclass(frozen=True)
class RecipientLimits:
    """What a carrier allows per number on one channel; 0 means no limit.

    Attributes:
        spacing: Seconds between two sends to one number.
        per_hour: Sends to one number in any hour.
        per_day: Sends to one number in any day.
    """

    spacing: int = 0
    per_hour: int = 0
    per_day: int = 0

    def __bool__(self) -> bool:
        return bool(self.spacing or self.per_hour or self.per_day)


@dataclass(frozen=True)
class Reservation:
    """A send to one number, recorded against its limits (and undone if it does not go)."""

    key: str
    token: str


class RecipientGuard:
    """Keeps sends to each number within a carrier's per-number limits.

    Args:
        connection: The Redis every worker shares.
    """

    def __init__(self, connection: Redis) -> None:
        self._connection = connection
        self._script = connection.register_script(_CHECK)

    @staticmethod
    def _key(channel: str, phone: str) -> str:
        return f"hotline:recipient:{channel}:{phone}"

    def wait(self, channel: str, phone: str, limits: RecipientLimits) -> float:
        """Seconds until a send to ``phone`` on ``channel`` is allowed (0.0: now); records nothing.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        if not limits:
            return 0.0
        return self._run(self._key(channel, phone), limits, "") / 1_000_000

    def reserve(self, channel: str, phone: str, limits: RecipientLimits) -> tuple[float, Reservation | None]:
        """Record a send to ``phone`` on ``channel`` if it is allowed now.

        Returns:
            ``(0.0, reservation)`` when it may go (undo with :meth:`release`
            if it then does not), or ``(seconds to wait, None)``.

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        if not limits:
            return 0.0, None
        key, token = self._key(channel, phone), secrets.token_hex(8)
        wait_us = self._run(key, limits, token)
        if wait_us > 0:
            return wait_us / 1_000_000, None
        return 0.0, Reservation(key, token)

    def release(self, reservation: Reservation | None) -> None:
        """Forget a reserved send that did not go (another worker had sent the row).

        Raises:
            redis.exceptions.RedisError: Redis is unreachable.
        """
        if reservation is not None:
            self._connection.zrem(reservation.key, reservation.token)

    def _run(self, key: str, limits: RecipientLimits, token: str) -> int:
        return int(self._script(keys=[key], args=[limits.spacing, limits.per_hour, limits.per_day, token]))
