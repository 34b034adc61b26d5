"""Guarantee 9: start-up warns loudly about a Redis that could lose queued alerts.

Real ``redis-server`` processes are started with an eviction policy and no
append-only file (what a default or cache-tuned Redis has), and with the
settings production needs. ``hotline worker`` and ``hotline up`` (which
starts the web app under gunicorn) must warn about the first and stay
quiet about the second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.faults import (
    free_port,
    process_tree,
    redis_server,
    redis_server_binary,
    wait_until,
)
from tests.support.stack import ROOT

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed")

RISKY = {"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru", "appendonly": "no"}
SAFE = {"maxmemory-policy": "noeviction", "appendonly": "yes"}


def _env(tmp_path, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HOTLINE_TWILIO_ACCOUNT_SID", "HOTLINE_TWILIO_AUTH_TOKEN", "DATABASE_URL"):
        env.pop(name, None)
    env.update(
        REDIS_URL=redis_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'startup.sqlite3'}",
        HOTLINE_INSTANCE_PATH=str(tmp_path / "instance"),
        HOTLINE_SECRET_KEY="test-secret-key",
    )
    return env


def _worker_output(tmp_path, redis_url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hotline", "worker", "--burst", "--name", f"startup-{time.time_ns()}"],
        env=_env(tmp_path, redis_url), cwd=ROOT, capture_output=True, timeout=60, check=False,
    )
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def test_worker_warns_about_eviction_and_no_append_only_file(tmp_path):
    with redis_server(tmp_path / "risky", RISKY) as risky:
        output = _worker_output(tmp_path, risky.url)
    assert "WARNING: maxmemory-policy is 'allkeys-lru'" in output, output
    assert "WARNING: appendonly is off" in output, output


def test_worker_is_quiet_about_a_durable_redis(tmp_path):
    with redis_server(tmp_path / "safe", SAFE) as safe:
        output = _worker_output(tmp_path, safe.url)
    assert "maxmemory-policy" not in output and "appendonly" not in output, output


def test_hotline_up_and_the_web_server_warn_at_start(tmp_path):
    with redis_server(tmp_path / "risky", RISKY) as risky:
        web, simulator = free_port(), free_port()
        log = tmp_path / "up.log"
        with open(log, "wb") as out:
            up = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hotline",
                    "up",
                    "--port",
                    str(web),
                    "--simulator-port",
                    str(simulator),
                    "--no-seed",
                ],
                env=_env(tmp_path, risky.url),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(
                lambda: "hotline 已启动" in log.read_text(errors="replace") or up.poll() is not None,
                timeout=60,
                what="hotline up",
                diagnosis=lambda: log.read_text(errors="replace"),
            )
            output = log.read_text(errors="replace")
            assert up.poll() is None, output
        finally:
            tree = process_tree(up.pid)
            up.send_signal(signal.SIGINT)
            try:
                up.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            for pid in tree:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        output = log.read_text(errors="replace")
    # hotline up checks before it starts anything, so its own warnings come before any child's output.
    before_children = output.split("运营商模拟器已在")[0].split("Worker ")[0]
    up_warnings = [line for line in before_children.splitlines() if line.startswith("WARNING: ")]
    assert any("allkeys-lru" in line for line in up_warnings), output
    assert any("appendonly is off" in line for line in up_warnings), output
    web_warnings = [line for line in output.splitlines() if "[WARNING]" in line and "Redis" in line]
    assert any("allkeys-lru" in line for line in web_warnings), f"gunicorn did not warn:\n{output}"
