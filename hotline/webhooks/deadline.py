"""Answering a call on time when the database is slow, hung or down.

Twilio waits 15 s for TwiML; a caller in trouble should not wait at all. The
database work of the voice webhook runs in a helper thread with a deadline.
If the deadline passes or the database fails, the caller is sent to the duty
line at once and the call is parked in Redis; the sweeper records it once the
database answers again (:mod:`hotline.parked_calls`). A helper thread that
finishes late records it too, and opening an incident is idempotent on the
call's id, so both paths agree.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from flask import Flask
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

T = TypeVar("T")

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
