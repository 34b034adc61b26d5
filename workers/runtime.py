"""The app a worker process runs jobs in, built once per process.

RQ's forking worker runs each job in a child process. Pooled database
connections must not cross a ``fork()``, so the first job in each child drops
the pool it inherited (without closing the parent's sockets).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers import Carrier
from hotline.extensions import db, get_carrier, get_settings

_app: Flask | None = None
_pid: int | None = None

# Set when the worker is asked to stop: long jobs (a broadcast's batch) hand back what they have not started.
stopping = threading.Event()


def use_app(app: Flask) -> None:
    """Make ``app`` the one jobs in this process (and its children) run in.

    Its carrier is the one jobs send through (see :func:`hotline.extensions.use_carrier`).
    """
    global _app, _pid
    _app, _pid = app, os.getpid()


def worker_app() -> Flask:
    """The process's app, created from the environment on first use."""
    global _pid
    if _app is None:
        from hotline.app import create_app

        use_app(create_app())
    assert _app is not None
    if _pid != os.getpid():
        db.dispose(_app)
        _pid = os.getpid()
    return _app


@dataclass
class JobContext:
    app: Flask
    session: Session
    settings: Settings

    @property
    def carrier(self) -> Carrier:
        """The app's carrier, built on first use in this process."""
        return get_carrier(self.app)


@contextmanager
def job_context() -> Iterator[JobContext]:
    """An app context with a database session that is closed afterwards."""
    app = worker_app()
    with app.app_context():
        yield JobContext(app=app, session=db.session, settings=get_settings(app))


def job_waiting(queue: Queue, job_id: str) -> bool:
    """Whether job ``job_id`` is queued, deferred or scheduled: enqueuing it again would do nothing new.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable.
    """
    try:
        job = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
