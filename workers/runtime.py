"""The app a worker process runs jobs in, built once per process.

RQ's forking worker runs each job in a child process. Pooled database
connections must not cross a ``fork()``, so the first job in each child drops
the pool it inherited (without closing the parent's sockets).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers import Carrier, build_carrier

_app: Flask | None = None
_pid: int | None = None
_carrier: Carrier | None = None


def use_app(app: Flask) -> None:
    """Make ``app`` the one jobs in this process (and its children) run in."""
    global _app, _pid, _carrier
    _app, _pid, _carrier = app, os.getpid(), None


def worker_app() -> Flask:
    """The process's app, created from the environment on first use."""
    global _pid
    if _app is None:
        from hotline.app import create_app

        use_app(create_app())
    assert _app is not None
    if _pid != os.getpid():
        from hotline.extensions import db

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
        global _carrier
        if _carrier is None:
            _carrier = build_carrier(self.settings)
        return _carrier


@contextmanager
def job_context() -> Iterator[JobContext]:
    """An app context with a database session that is closed afterwards."""
    app = worker_app()
    with app.app_context():
        from hotline.extensions import get_settings
        from hotline.extensions import db

        yield JobContext(app=app, session=db.session, settings=get_settings(app))
