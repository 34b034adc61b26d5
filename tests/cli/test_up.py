"""``hotline up``: the whole service from one command, ready fast, stopped cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    buffer = ""
    while time.monotonic() < deadline:
        chunk = process.stdout.read()
        if chunk:
            buffer += chunk.decode("utf-8", errors="replace")
            *complete, buffer = buffer.split("\n")
            lines += complete
            if any(needle in line for line in lines):
                return lines
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not printed within {timeout} s; got:\n" + "\n".join([*lines, buffer]))


def test_up_runs_everything_on_embedded_defaults_and_stops_cleanly(tmp_path):
    port, simulator_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(HOTLINE_INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline", "up", "--port", str(port), "--simulator-port", str(simulator_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        # A bound on a hang, not a speed check: the banner reports the start-up time, printed below.
        lines = _wait_for_line(process, "hotline 已启动", timeout=90)
        ready_after = time.monotonic() - started
        banner = "\n".join(lines)
        assert "已创建示例派出所" in banner
        assert "示例登录：  demo / demo-password" in banner
        assert "按 Ctrl-C 停止" in banner
        reported = float(next(line for line in lines if "hotline 已启动" in line).split("用时 ")[1].split(" 秒")[0])
        print(f"hotline up reported ready in {reported:.1f} s (wall {ready_after:.1f} s)")

        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.json() == {"database": "ok", "redis": "ok", "status": "ok"}
        assert requests.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{simulator_port}/sim/healthz", timeout=5).status_code == 200

        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 3  # web, worker, simulator (and their own children)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=40)
        time.sleep(0.5)
        alive = [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
        assert alive == [], f"orphans left running: {alive}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
