"""Aliyun's per-number call limits, kept before a call is placed.

Aliyun refuses (and still counts) a call to a number called less than a
minute before, or more than 5 times an hour or 20 times a day. Every worker
reserves the number in Redis before it calls: a reservation that fails is a
throttled attempt the job retries later, so no second call to one number is
ever placed within the spacing, whichever worker places it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

SPACING_SECONDS = 60
PER_HOUR = 5
PER_DAY = 20
_PREFIX = "hotline:aliyun:calls"


class CallSpacing:
    """Reserves calls to one number within Aliyun's limits.

    Args:
        connection: Returns the Redis connection (the app's, on first use).
        spacing: Seconds between two calls to one number.
        per_hour: Calls to one number in a clock hour.
        per_day: Calls to one number in a day (UTC).
    """

    def __init__(
        self,
        connection: Callable[[], Redis],
        *,
        spacing: int = SPACING_SECONDS,
        per_hour: int = PER_HOUR,
        per_day: int = PER_DAY,
    ) -> None:
        self._connection = connection
        self.spacing = spacing
        self.per_hour = per_hour
        self.per_day = per_day

    def reserve(self, number: str, now: float | None = None) -> str | None:
        """Reserve one call to ``number``; None when it may be placed, else why not (for the record).

        The spacing key is set only if absent, so of two workers calling one
        number at once, one wins. A reserved call counts whether or not Aliyun
        then places it, as Aliyun counts failed calls too.

        Raises:
            redis.exceptions.RedisError: Redis could not be reached.
        """
        now = time.time() if now is None else now
        redis = self._connection()
        hour_key = f"{_PREFIX}:{number}:h{int(now // 3600)}"
        day_key = f"{_PREFIX}:{number}:d{int(now // 86400)}"
        hourly, daily = (int(value or 0) for value in redis.mget(hour_key, day_key))
        if hourly >= self.per_hour:
            return f"{self.per_hour} calls to {number} this hour already"
        if daily >= self.per_day:
            return f"{self.per_day} calls to {number} today already"
        if not redis.set(f"{_PREFIX}:{number}:last", int(now), nx=True, ex=self.spacing):
            return f"{number} was called less than {self.spacing} s ago"
        with redis.pipeline() as pipe:
            pipe.incr(hour_key)
            pipe.expire(hour_key, 3600)
            pipe.incr(day_key)
            pipe.expire(day_key, 86400)
            pipe.execute()
        return None
