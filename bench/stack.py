"""The processes a benchmark runs: workers and the web server as the Procfile starts them, on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
TWILIO_NUMBER = "+8657188880000"
AUTH_TOKEN = "fake-carrier-token"
ACCOUNT_SID = "AC" + "0" * 32


@dataclass(frozen=True)
class Places:
    """Where the benchmark's data lives, and where its logs go."""

    database_url: str  # years of history, for the console and the webhooks
    redis_url: str
    logs: Path
    delivery_url: str = ""  # a directory and nothing else, so that workers send only what is measured


def service_env(places: Places, carrier_url: str = "http://127.0.0.1:9", **settings: str) -> dict[str, str]:
    """The environment of the service's processes: Twilio's carrier pointed at the fake one.

    Escalation and calling again are put far off so that only the sends measured happen.
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=places.database_url,
        REDIS_URL=places.redis_url,
        HOTLINE_SECRET_KEY="bench-secret-key",
        HOTLINE_INSTANCE_PATH=str(places.logs / "instance"),
        HOTLINE_CARRIER="twilio",
        HOTLINE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        HOTLINE_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        HOTLINE_TWILIO_NUMBER=TWILIO_NUMBER,
        HOTLINE_TWILIO_API_BASE=carrier_url,
        HOTLINE_ESCALATION_DELAYS="3600,3600",
        HOTLINE_ESCALATION_REPEAT="0",
        HOTLINE_RECALL_ROUNDS="0",
        HOTLINE_PUBLIC_URL="http://127.0.0.1:5000",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def worker(env: dict[str, str], log: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ``hotline worker`` (the Procfile's worker line) until the block ends.

    Raises:
        RuntimeError: It did not start listening within 30 s; the message has its log.
    """
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline", "worker", "--name", f"{name}-{os.getpid()}"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while "Listening on" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield process
    finally:
        _stop(process)


@contextmanager
def web(env: dict[str, str], log: Path, app: str = "hotline.app:create_app()") -> Iterator[str]:
    """gunicorn with the Procfile's web settings (2 workers, 4 threads) on a free port of 127.0.0.1.

    Yields the base URL. ``HOTLINE_PUBLIC_URL`` is set to it, so signatures are checked against it.

    Raises:
        RuntimeError: It did not answer within 30 s; the message has its log.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "HOTLINE_PUBLIC_URL": url}
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:hotline.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
        "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--threads", "4", "--timeout", "20", app,
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=2).status_code in (200, 503):
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web server did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)
