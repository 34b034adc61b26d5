"""Calls the database could not take when they came in, kept in Redis until it can.

The voice webhook parks a call when its database work misses the deadline
or fails; the sweeper opens the incident of each parked call once the
database answers again. Opening an incident is idempotent on the call's id,
so a call recorded by both paths counts once.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PARKED_CALLS = "hotline:deferred-calls"


@dataclass(frozen=True)
class ParkedCall:
    """One parked call, with the raw entry that removes it from the store."""

    raw: str
    call_sid: str
    caller: str
    received_at: datetime


def park_call(connection: Redis, call_sid: str, caller: str, received_at: datetime) -> bool:
    """Keep a call the database could not take; False if Redis is down too (it is logged)."""
    entry = json.dumps({"call_sid": call_sid, "caller": caller, "received_at": received_at.isoformat()})
    try:
        connection.rpush(PARKED_CALLS, entry)
    except (RedisError, OSError) as exc:
        log.error("call %s from %s reached neither the database nor Redis: %s", call_sid, caller, exc)
        return False
    return True


def parked_calls(connection: Redis) -> list[ParkedCall]:
    """Every parked call, oldest first.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    calls = []
    for entry in connection.lrange(PARKED_CALLS, 0, -1):
        raw = entry.decode() if isinstance(entry, bytes) else str(entry)
        fields = json.loads(raw)
        calls.append(
            ParkedCall(
                raw=raw,
                call_sid=fields["call_sid"],
                caller=fields["caller"],
                received_at=datetime.fromisoformat(fields["received_at"]),
            )
        )
    return calls


def unpark(connection: Redis, call: ParkedCall) -> None:
    """Remove one recorded call from the store.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    connection.lrem(PARKED_CALLS, 1, call.raw)
