"""``hotline up`` stays quiet once up, so the console's address and login stay on screen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.cli.test_up import _wait_for_line
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


def _lines_after(process: subprocess.Popen, seconds: float) -> list[str]:
    """Whatever the process prints during the next ``seconds``."""
    deadline = time.monotonic() + seconds
    buffer = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.read()
        if chunk:
            buffer += chunk.decode("utf-8", errors="replace")
        time.sleep(0.1)
    return [line for line in buffer.splitlines() if line.strip()]


def test_up_is_quiet_by_default(tmp_path):
    port, simulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # The sweeper every second: today's worker would print two lines a second.
    env.update(HOTLINE_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1", HOTLINE_SWEEP_INTERVAL="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline", "up", "--port", str(port), "--simulator-port", str(simulator_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for_line(process, "按 Ctrl-C 停止", timeout=30)
        printed = _lines_after(process, 6)
        assert printed == [], "\n".join(printed)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=40)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
