"""Answering a call on time when the database is slow, hung or down.

Twilio waits 15 s for TwiML; a caller in trouble should not wait at all. The
database work of the voice webhook runs in a helper thread with a deadline.
If the deadline passes or the database fails, the caller is sent to the duty
line at once and the call is parked in Redis; the sweeper records it once the
database answers again. A helper thread that finishes late records it too,
and opening an incident is idempotent on CallSid, so both paths agree.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from typing import TypeVar

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFERRED_CALLS = "hotline:deferred-calls"

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


class Late(Exception):
    """The database did not finish within the webhook's deadline."""


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-db")
        return _executor


def run_before(app: Flask, deadline: float, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in its own app context, waiting at most ``deadline`` seconds.

    Raises:
        Late: The deadline passed; ``work`` goes on in the background.
        Exception: Whatever ``work`` raised, e.g. SQLAlchemyError.
    """

    def task() -> T:
        from hotline.extensions import db

        with app.app_context():
            return work(db.session)

    future = _pool().submit(task)
    try:
        return future.result(timeout=deadline)
    except FutureTimeout:
        raise Late(f"database work did not finish within {deadline} s") from None


def park_call(connection: Redis, call_sid: str, caller: str, received_at: datetime) -> bool:
    """Keep a call the database could not take, for the sweeper; False if Redis is down too."""
    entry = json.dumps({"call_sid": call_sid, "caller": caller, "received_at": received_at.isoformat()})
    try:
        connection.rpush(DEFERRED_CALLS, entry)
    except (RedisError, OSError) as exc:
        log.error("call %s from %s reached neither the database nor Redis: %s", call_sid, caller, exc)
        return False
    return True


def parked_calls(connection: Redis) -> list[tuple[str, dict[str, str]]]:
    """The parked calls, as ``(raw entry, fields)`` pairs."""
    raw = connection.lrange(DEFERRED_CALLS, 0, -1)
    return [(entry.decode() if isinstance(entry, bytes) else entry, json.loads(entry)) for entry in raw]


def unpark(connection: Redis, raw: str) -> None:
    connection.lrem(DEFERRED_CALLS, 1, raw)
