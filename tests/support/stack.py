"""The whole service on 127.0.0.1 for end-to-end tests.

The web app is served over real HTTP, an RQ worker with its scheduler runs
as a subprocess (the same ``hotline worker`` a deployment runs), and the
carrier simulator plays Twilio's part: it dials in, runs the TwiML it gets
back and posts signed status callbacks.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from werkzeug.serving import make_server

from hotline.app import create_app
from simulator import Simulator, serve_simulator

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
SIM_TOKEN = "hotline-simulator"
HOTLINE_NUMBER = "+8657188880000"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Stack:
    app: Flask
    sim: Simulator
    base_url: str
    env: dict[str, str]
    worker_log: Path

    def wait_for(self, check: Callable[[], T], *, timeout: float = 20.0, what: str = "condition") -> T:
        """Poll ``check`` until it returns something truthy; fail with the worker's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """The worker's log, the queues and the outbox, for a failed wait."""
        from redis import Redis
        from rq import Queue
        from sqlalchemy import select

        from hotline.models import Notification

        tail = self.worker_log.read_text(errors="replace")[-3000:] if self.worker_log.exists() else ""
        connection = Redis.from_url(self.env["REDIS_URL"])
        queue = Queue("alerts", connection=connection)
        jobs = (
            f"queued {queue.job_ids}, scheduled {queue.scheduled_job_registry.get_job_ids()}, "
            f"failed {queue.failed_job_registry.get_job_ids()}, started {queue.started_job_registry.get_job_ids()}"
        )
        outbox = rows(
            self.app,
            lambda s: [
                (n.id, n.channel, n.purpose, n.phone, n.status, n.error_code)
                for n in s.scalars(select(Notification).order_by(Notification.id))
            ],
        )
        errors = [e for e in self.sim.events() if "error" in e["kind"]][-10:]
        return (
            f"--- worker log ---\n{tail}\n--- queues ---\n{jobs}\n--- outbox ---\n{outbox}\n"
            f"--- simulator errors ---\n{errors}"
        )


@contextmanager
def running_stack(environ: dict[str, str], tmp_path: Path, *, time_scale: float = 0.2) -> Iterator[Stack]:
    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    sim = Simulator(service_url=base_url, auth_token=SIM_TOKEN, hotline_number=HOTLINE_NUMBER, time_scale=time_scale)
    sim_server, _sim_thread, sim_url = serve_simulator(sim, host="127.0.0.1", port=0)

    env = dict(os.environ)
    env.update(environ)
    env.update(HOTLINE_PUBLIC_URL=base_url, HOTLINE_SIMULATOR_URL=sim_url)
    for name in ("HOTLINE_TWILIO_ACCOUNT_SID", "HOTLINE_TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    with serving(env, sim, sim_server, web_port, tmp_path, "e2e") as stack:
        yield stack


@contextmanager
def serving(
    env: dict[str, str], sim: Simulator, sim_server: Any, web_port: int, tmp_path: Path, name: str
) -> Iterator[Stack]:
    """Serve the web app on ``web_port`` and run a ``hotline worker`` beside a started simulator; then stop all."""
    app = create_app(env)
    web = make_server("127.0.0.1", web_port, app, threaded=True)
    web_thread = threading.Thread(target=web.serve_forever, name=f"{name}-web", daemon=True)
    web_thread.start()

    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "hotline", "worker", "--name", f"{name}-{web_port}"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # A test's first call must not race the worker's start-up (about 5 s of imports and
        # connections): jobs queued meanwhile would all run at once, escalation checks among them.
        _wait_listening(worker, worker_log)
        yield Stack(app=app, sim=sim, base_url=f"http://127.0.0.1:{web_port}", env=env, worker_log=worker_log)
    finally:
        sim.shutdown()
        sim_server.shutdown()
        web.shutdown()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        from hotline.extensions import db

        db.state(app).engine.dispose()


def _wait_listening(worker: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Wait until ``worker`` listens on its queues.

    Raises:
        AssertionError: It exited, or did not listen within ``timeout``; the message has its log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        if "Listening on" in text:
            return
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited at start:\n{text[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"the worker did not listen within {timeout:.0f} s:\n{text[-3000:]}")


def rows(app: Flask, query: Callable[[Any], T]) -> T:
    """Run ``query(session)`` in a fresh session, so the test sees committed rows only."""
    from hotline.extensions import db

    with db.state(app).sessionmaker() as session:
        return query(session)
