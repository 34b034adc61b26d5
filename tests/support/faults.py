"""Real faults for the fault-injection tests: servers that stop, workers that die, carriers that fail.

Everything here starts real processes on 127.0.0.1 and injects the fault for
real: a ``redis-server`` of the tests' own that is shut down and started
again, a throwaway PostgreSQL cluster that is stopped or frozen with SIGSTOP,
``hotline worker`` subprocesses that are SIGKILLed or sent SIGTERM, and the
carrier simulator scripted to refuse, time out or answer slowly. Every helper
cleans up after itself, killing whole process groups, so a failed test leaves
nothing running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.serving import make_server

from hotline.app import create_app
from simulator import Simulator, serve_simulator
from tests.factories import sign
from tests.support.stack import HOTLINE_NUMBER, ROOT, SIM_TOKEN, free_port, rows

T = TypeVar("T")

# Sweeper timings for tests: sweeps every second, a row's own job gets two
# seconds before the sweeper steps in, and a claim is presumed orphaned after
# the shortest timeout the settings allow (it must outlive the carrier's own).
FAST_SWEEPS = {"HOTLINE_SWEEP_INTERVAL": "1", "HOTLINE_SWEEP_GRACE": "2", "HOTLINE_CLAIM_TIMEOUT": "15"}


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    diagnosis: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy.

    Raises:
        AssertionError: ``timeout`` seconds passed first; the message names
            ``what`` and includes ``diagnosis()`` if given.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{diagnosis()}" if diagnosis else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def _kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, read from /proc (Linux).

    RQ puts each work horse in a process group of its own, so signalling the
    worker's group would miss it; a machine that dies, or systemd stopping a
    unit, reaches every process all the same.
    """
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after the last ')' do not.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def signal_tree(pid: int, sig: int) -> list[int]:
    """Send ``sig`` to ``pid`` and every descendant at once; returns the pids signalled."""
    tree = process_tree(pid)
    for member in tree:
        try:
            os.kill(member, sig)
        except ProcessLookupError:
            pass
    return tree


def _stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if process.poll() is None:
        _kill_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    # Children may outlive a leader that exited; the group is killed either way.
    _kill_group(process, signal.SIGKILL)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


# --- Redis -------------------------------------------------------------------


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    """A ``redis-server`` of the tests' own, on a free port of 127.0.0.1.

    By default it keeps nothing on disk (``--save "" --appendonly no``), so a
    restart comes back empty, as a Redis without persistence does after a crash.

    Args:
        directory: Where the server may write (it is told to write nothing by default).
        config: Extra ``--name value`` settings, e.g. ``{"maxmemory-policy": "allkeys-lru"}``.
    """

    def __init__(self, directory: Path, config: dict[str, str] | None = None) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = {"save": "", "appendonly": "no", **(config or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> None:
        """Start (or start again) on the same port and wait until it answers PING.

        Raises:
            RuntimeError: It did not answer within 10 s; the message has its log.
        """
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--protected-mode",
            "no",
            "--logfile",
            str(self.log_path),
        ]
        for name, value in self.config.items():
            argv += [f"--{name}", value]
        self.process = subprocess.Popen(
            argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.answers():
                return
            time.sleep(0.05)
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        raise RuntimeError(f"redis-server on port {self.port} did not start:\n{log[-2000:]}")

    def answers(self) -> bool:
        """True once the server answers PING (not while it is refusing or still loading)."""
        try:
            with self.client() as probe:
                return bool(probe.ping())
        except (RedisError, OSError):
            return False

    def stop(self) -> None:
        """Stop the server for real (SIGTERM; nothing is saved) and wait until the port is closed."""
        if self.process is not None:
            _stop_process(self.process)
            self.process = None

    def flush(self) -> None:
        with self.client() as connection:
            connection.flushall()


@contextmanager
def redis_server(directory: Path, config: dict[str, str] | None = None) -> Iterator[RedisServer]:
    server = RedisServer(directory, config)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL ----------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The directory of ``initdb`` and ``postgres``, if PostgreSQL's server binaries are installed."""
    candidates = []
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


def postgres_unavailable() -> str | None:
    """Why no throwaway PostgreSQL cluster can be started here, or None if one can."""
    if postgres_bindir() is None:
        return "PostgreSQL's server binaries (initdb, postgres) are not installed"
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as"
    return None


class PostgresCluster:
    """A throwaway PostgreSQL cluster of the tests' own, on a free port of 127.0.0.1.

    It is never the machine's shared server: it has its own data directory,
    port and socket directory, and is deleted afterwards. PostgreSQL refuses to
    run as root, so under root it runs as the ``postgres`` user.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hotline-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / "postgres.log"
        self.user: str | None = None
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            self.user = "postgres"
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def url(self, database: str = "hotline") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(argv, user=self.user, capture_output=True, cwd=self.root, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stdout.decode()[-1000:]}{result.stderr.decode()[-1000:]}")

    def init(self) -> None:
        """Create the cluster and its ``hotline`` database."""
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        self.start()
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as connection:
            connection.execute("CREATE DATABASE hotline")

    def start(self) -> None:
        """Start (or start again) on the same port and wait until it accepts connections.

        Raises:
            RuntimeError: It did not come up within 20 s; the message has its log.
        """
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "max_connections=60",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, user=self.user, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
            )
        import psycopg

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on port {self.port} did not start:\n{self.log_text()[-2000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the server for real with a fast shutdown (SIGINT): connections are cut, new ones refused."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _kill_group(self.process, signal.SIGKILL)
            self.process.wait()
        # Backends exit with the postmaster; none may be left holding the port.
        _kill_group(self.process, signal.SIGKILL)
        self.process = None

    def pause(self) -> None:
        """Freeze every process of the server (SIGSTOP): connections hang instead of failing."""
        assert self.process is not None
        _kill_group(self.process, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        _kill_group(self.process, signal.SIGCONT)

    def destroy(self) -> None:
        """Stop the server however it was left (frozen, running) and delete its files."""
        if self.process is not None:
            _kill_group(self.process, signal.SIGCONT)
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A started throwaway cluster with an empty ``hotline`` database.

    Raises:
        RuntimeError: No cluster can be started here (see :func:`postgres_unavailable`).
    """
    reason = postgres_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    bindir = postgres_bindir()
    assert bindir is not None
    cluster = PostgresCluster(bindir)
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


# --- Workers -----------------------------------------------------------------


class WorkerProcess:
    """One ``hotline worker`` subprocess (an RQ worker with its scheduler) in its own process group.

    The group holds the worker, its work horse and its scheduler, so
    :meth:`kill` takes them all down at once, as the OOM killer or a lost
    machine would.
    """

    def __init__(self, env: dict[str, str], log_path: Path, name: str) -> None:
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hotline", "worker", "--name", name],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the worker listens on its queues.

        Raises:
            AssertionError: It exited or did not listen in time; the message has its log.
        """
        wait_until(
            lambda: (
                self.process.poll() is not None
                or "Listening on" in self.log()
                or "*** Listening" in self.log()
                or "alerts,broadcasts" in self.log()
            ),
            timeout=timeout,
            what=f"worker {self.name} to start",
            diagnosis=self.log,
        )
        assert self.process.poll() is None, f"worker {self.name} exited at start:\n{self.log()[-3000:]}"

    def kill(self) -> list[int]:
        """SIGKILL the worker, its work horse and its scheduler at once; returns their pids."""
        killed = signal_tree(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in killed),
            timeout=10,
            what="every killed process to be gone",
        )
        return killed

    def terminate(self, *, every_process: bool = True) -> list[int]:
        """Send SIGTERM as a deploy does.

        ``every_process`` reaches the worker, its horse and its scheduler, as
        systemd (KillMode=control-group) and Heroku do; otherwise only the
        worker gets it, as Docker and Kubernetes do.
        """
        if every_process:
            return signal_tree(self.pid, signal.SIGTERM)
        self.process.send_signal(signal.SIGTERM)
        return [self.pid]

    def stop(self) -> None:
        tree = process_tree(self.pid) if self.process.poll() is None else []
        _stop_process(self.process, timeout=15)
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    """False for a process that is gone or a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2 :].split()[0] not in ("Z", "X")


# --- The whole service -----------------------------------------------------------


@dataclass
class FaultStack:
    """The web app over real HTTP, the carrier simulator, and worker subprocesses that tests may kill."""

    app: Flask
    sim: Simulator
    base_url: str
    env: dict[str, str]
    log_dir: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self, *, wait: bool = True) -> WorkerProcess:
        index = len(self.workers) + 1
        worker = WorkerProcess(
            self.env, self.log_dir / f"worker-{index}.log", f"faults-{os.getpid()}-{index}-{time.time_ns() % 10**6}"
        )
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def wait_for(self, check: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
        return wait_until(check, timeout=timeout, what=what, diagnosis=self.diagnosis)

    def rows(self, query: Callable[[Any], T]) -> T:
        return rows(self.app, query)

    def post(self, path: str, params: dict[str, str], *, timeout: float = 10.0) -> requests.Response:
        """POST ``params`` to ``path`` over HTTP, signed as the carrier signs its webhooks."""
        url = self.base_url + path
        return requests.post(url, data=params, headers={"X-Twilio-Signature": sign(url, params)}, timeout=timeout)

    def accepted_sms(self, phone: str) -> list[str]:
        """Bodies of the SMS the carrier accepted for ``phone`` (what will reach the handset)."""
        return [e["body"] for e in self.sim.events(kind="sms.queued") if e["phone"] == phone]

    def diagnosis(self) -> str:
        """Worker logs, queues and the outbox, for a failed wait."""
        from rq import Queue
        from sqlalchemy import select

        from hotline.models import Notification

        parts = []
        for worker in self.workers:
            parts.append(f"--- {worker.name} (exit {worker.process.poll()}) ---\n{worker.log()[-2500:]}")
        try:
            connection = Redis.from_url(self.env["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2)
            queue = Queue("alerts", connection=connection)
            parts.append(
                f"--- queues ---\nqueued {queue.job_ids}, scheduled {queue.scheduled_job_registry.get_job_ids()}, "
                f"failed {queue.failed_job_registry.get_job_ids()}, started {queue.started_job_registry.get_job_ids()}"
            )
        except Exception as exc:
            parts.append(f"--- queues ---\nunreadable: {exc}")
        try:
            outbox = self.rows(
                lambda s: [
                    (n.id, n.channel, n.purpose, n.phone, n.status, n.error_code, n.attempts)
                    for n in s.scalars(select(Notification).order_by(Notification.id))
                ]
            )
            parts.append(f"--- outbox ---\n{outbox}")
        except Exception as exc:
            parts.append(f"--- outbox ---\nunreadable: {exc}")
        errors = [e for e in self.sim.events() if "error" in e["kind"] or e["kind"] in ("sms.refused", "sms.api_slow")][
            -10:
        ]
        parts.append(f"--- simulator ---\n{errors}")
        return "\n".join(parts)


@contextmanager
def fault_stack(
    environ: dict[str, str],
    tmp_path: Path,
    *,
    redis_url: str,
    workers: int = 1,
    time_scale: float = 0.2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[FaultStack]:
    """The web app, the simulator and ``workers`` worker subprocesses, all on 127.0.0.1.

    ``redis_url`` is usually a :class:`RedisServer` of the test's own; the
    database is the one in ``environ`` (the suite's, or a throwaway cluster).
    """
    web_port = free_port()
    base_url = f"http://127.0.0.1:{web_port}"
    sim = Simulator(service_url=base_url, auth_token=SIM_TOKEN, hotline_number=HOTLINE_NUMBER, time_scale=time_scale)
    sim_server, _sim_thread, sim_url = serve_simulator(sim, host="127.0.0.1", port=0)

    env = dict(os.environ)
    env.update(environ)
    env.update(FAST_SWEEPS)
    env.update(extra_env or {})
    env.update(REDIS_URL=redis_url, HOTLINE_PUBLIC_URL=base_url, HOTLINE_SIMULATOR_URL=sim_url)
    for name in ("HOTLINE_TWILIO_ACCOUNT_SID", "HOTLINE_TWILIO_AUTH_TOKEN"):
        env.pop(name, None)
    app = create_app(env)
    web = make_server("127.0.0.1", web_port, app, threaded=True)
    web_thread = threading.Thread(
        target=web.serve_forever, kwargs={"poll_interval": 0.1}, name="faults-web", daemon=True
    )
    web_thread.start()
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    stack = FaultStack(app=app, sim=sim, base_url=base_url, env=env, log_dir=log_dir)
    try:
        for _ in range(workers):
            stack.start_worker()
        yield stack
    finally:
        for worker in stack.workers:
            worker.stop()
        sim.shutdown()
        sim_server.shutdown()
        web.shutdown()
        from hotline.extensions import db

        db.state(app).engine.dispose()


# --- Fixtures (import them into a test module to use them) ------------------------


@pytest.fixture(name="own_redis")
def own_redis_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """``own_redis``: a ``redis-server`` of the test's own that the test may stop and start."""
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed: fault tests need a Redis they can stop and start")
    with redis_server(tmp_path / "redis") as server:
        yield server


def people(group) -> tuple[Any, list[Any]]:
    """The group's first household (the caller) and everyone else."""
    from hotline.models import Role

    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    return caller, [m for m in group.members if m.phone != caller.phone]


ALERT_PREFIX = "【联防求助】"
ESCALATION_PREFIX = "【联防升级】"
