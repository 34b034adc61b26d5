"""``hotline up``: the whole service on one machine, stopped cleanly with Ctrl-C.

One process tree: the web app on gunicorn, an RQ worker with its scheduler,
the embedded Redis when ``REDIS_URL`` is unset, SQLite when ``DATABASE_URL``
is unset, and the carrier simulator when no Twilio credentials are given.
With ``HOTLINE_CARRIER=aliyun`` and no Aliyun account, the simulator plays
Aliyun: the carrier's SDK endpoints point at it, with stand-in credentials,
sign name, calling number, templates file and receipt token for the run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import click
import requests
from flask import current_app
from flask.cli import ScriptInfo

from hotline.extensions import get_settings

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
# How the banner names the processes it started.
_PART = {"web": "网页服务", "worker": "后台任务进程", "simulator": "运营商模拟器"}


@dataclass
class ProcessTree:
    """Child processes started together and stopped together."""

    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], output: IO[bytes] | int | None = None) -> None:
        """Start a child; ``output`` takes its stdout and stderr (None: this terminal)."""
        if output is None:
            self.children.append((name, subprocess.Popen(argv, env=env)))
        else:
            self.children.append((name, subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)))

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        """SIGTERM everyone (a worker finishes its job first), then SIGKILL stragglers."""
        for _, process in self.children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"{_PART.get(name, name)}未能按时停止，已强制结束", err=True)
                process.kill()
                process.wait()


def _wait_until_ready(url: str, tree: ProcessTree) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        exited = tree.first_exited()
        if exited:
            raise click.ClickException(f"{exited[0]} exited with code {exited[1]} during start-up")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise click.ClickException(f"{url} did not answer within {READY_TIMEOUT:.0f} s")


def stand_in_for_aliyun(environ: Mapping[str, str], simulator_port: int, folder: Path) -> dict[str, str]:
    """The settings that let an Aliyun carrier with no account run against the simulator; empty otherwise.

    Only for ``HOTLINE_CARRIER=aliyun`` without ``HOTLINE_ALIYUN_ACCESS_KEY_ID``:
    a filled templates file is written into ``folder`` and the SDKs' endpoints
    point at the simulator. A setting already given is kept.
    """
    from hotline.carriers.aliyun.templates import filled_example

    if environ.get("HOTLINE_CARRIER") != "aliyun" or environ.get("HOTLINE_ALIYUN_ACCESS_KEY_ID"):
        return {}
    templates = folder / "aliyun-templates.toml"
    templates.write_text(filled_example(environ.get("HOTLINE_LANGUAGE") or "zh"), encoding="utf-8")
    simulator = f"http://127.0.0.1:{simulator_port}"
    stand_ins = {
        "HOTLINE_ALIYUN_ACCESS_KEY_ID": "simulator",
        "HOTLINE_ALIYUN_ACCESS_KEY_SECRET": secrets.token_urlsafe(24),
        "HOTLINE_ALIYUN_SIGN_NAME": "联防求助",
        "HOTLINE_ALIYUN_CALLER_NUMBER": "057188880000",
        "HOTLINE_ALIYUN_TEMPLATES": str(templates),
        "HOTLINE_ALIYUN_RECEIPT_TOKEN": secrets.token_urlsafe(24),
        "HOTLINE_ALIYUN_SMS_ENDPOINT": simulator,
        "HOTLINE_ALIYUN_VOICE_ENDPOINT": simulator,
    }
    return {name: value for name, value in stand_ins.items() if not environ.get(name)}


def _fresh_metrics_folder(path: str) -> str:
    """Create the folder processes share their metrics in, emptied of a previous run's files."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
    return path


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="网页服务监听的地址。")
@click.option("--port", default=5000, show_default=True, help="网页服务的端口。")
@click.option("--simulator-port", default=5050, show_default=True, help="运营商模拟器的端口。")
@click.option("--no-seed", is_flag=True, help="首次运行时不创建示例派出所。")
@click.option("--verbose", is_flag=True, help="在这里显示后台任务进程的日志（每个任务一行）。")
@click.option(
    "--worker-log", type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="把后台任务进程的完整日志追加到这个文件。",
)
@click.pass_context
def up_command(
    ctx: click.Context,
    host: str, port: int, simulator_port: int, no_seed: bool, verbose: bool, worker_log: Path | None,
) -> None:
    """启动网页服务、后台任务进程和（没有运营商账号时）运营商模拟器，按 Ctrl-C 停止。

    \b
    启动后保持安静：后台任务进程只显示警告和错误，控制台地址和登录信息留在屏幕上；
    --verbose 或 --worker-log FILE 可看到它的每一行日志。
    """
    with tempfile.TemporaryDirectory(prefix="hotline-up-") as scratch:
        # Filled in before the app reads its settings, so that they pass the checks.
        stand_ins = stand_in_for_aliyun(os.environ, simulator_port, Path(scratch))
        os.environ.update(stand_ins)
        with ctx.ensure_object(ScriptInfo).load_app().app_context():
            _run(host, port, simulator_port, no_seed, verbose, worker_log, aliyun_simulated=bool(stand_ins))


def _run(
    host: str, port: int, simulator_port: int, no_seed: bool, verbose: bool, worker_log: Path | None,
    *, aliyun_simulated: bool,
) -> None:
    from hotline.extensions import db, queues
    from hotline.migrate import upgrade
    from hotline.queues import embedded_redis_url, start_embedded_redis
    from hotline.redis_checks import warn_about_durability

    started = time.monotonic()
    settings = get_settings(current_app)
    # The simulator plays the carrier: Twilio's part, or Aliyun's when there is no Aliyun account.
    simulated = settings.carrier == "simulator" or aliyun_simulated
    env = dict(os.environ)
    env["HOTLINE_INSTANCE_PATH"] = current_app.instance_path
    env.setdefault("HOTLINE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    env.setdefault("HOTLINE_SIMULATOR_URL", f"http://127.0.0.1:{simulator_port}")
    env.setdefault("HOTLINE_SECRET_KEY", current_app.config["SECRET_KEY"])
    # The web workers and the worker write their metrics here; /metrics adds them up.
    env["PROMETHEUS_MULTIPROC_DIR"] = _fresh_metrics_folder(
        env.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(current_app.instance_path, "metrics")
    )
    embedded = None
    if not settings.redis_url:
        embedded = start_embedded_redis(os.path.join(current_app.instance_path, "redis"))
        env["REDIS_URL"] = embedded_redis_url(embedded)
    for problem in warn_about_durability(embedded if embedded is not None else queues.connection):
        click.secho(f"WARNING: {problem}", fg="red", err=True)

    upgrade(db.engine)
    if not no_seed:
        from hotline.demo import seed_demo

        seeded = seed_demo(db.session, settings, simulated=simulated)
        db.session.commit()
        if seeded:
            click.echo(f"已创建示例派出所：{seeded.name}")
    from hotline.demo import demo_login_hint

    demo_login = demo_login_hint(db.session)
    db.session.close()
    db.dispose(current_app._get_current_object())  # type: ignore[attr-defined]

    python = sys.executable
    tree = ProcessTree()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping = False

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    for sig in previous:
        signal.signal(sig, _request_stop)
    try:
        if simulated:
            tree.start("simulator", [python, "-m", "hotline", "simulator", "serve", "--port", str(simulator_port)], env)
        tree.start(
            "web",
            [python, "-m", "gunicorn", "--config", "python:hotline.gunicorn_conf", "--bind", f"{host}:{port}",
             "--workers", "2", "--threads", "4", "--timeout", "20", "--graceful-timeout", "10",
             "--log-level", "warning", "hotline.app:create_app()"],
            env,
        )
        worker_output = _open_worker_log(worker_log)
        # The sweeper runs every few seconds; its INFO lines would scroll the banner away.
        level = "INFO" if verbose or worker_output is not None else "WARNING"
        tree.start("worker", [python, "-m", "hotline", "worker", "--log-level", level], env, worker_output)
        _wait_until_ready(f"http://127.0.0.1:{port}/healthz", tree)
        if simulated:
            _wait_until_ready(f"http://127.0.0.1:{simulator_port}/sim/healthz", tree)
        click.echo(f"hotline 已启动，用时 {time.monotonic() - started:.1f} 秒")
        click.echo(f"  控制台：    http://127.0.0.1:{port}/")
        if demo_login and simulated:
            click.echo(f"  示例登录：  {demo_login}")
        elif demo_login:
            # Left from a run on the simulator: anyone who read the README could sign in.
            carrier = {"twilio": "Twilio", "aliyun": "阿里云"}.get(settings.carrier, settings.carrier)
            click.secho(
                f"警告：示例登录 {demo_login} 仍然有效，而运营商已是 {carrier}。"
                "请运行 hotline users disable demo 或 hotline users remove demo。",
                fg="red", err=True,
            )
        click.echo(f"  健康检查：  http://127.0.0.1:{port}/healthz")
        if aliyun_simulated:
            click.echo(f"  模拟运营商：http://127.0.0.1:{simulator_port}/  （运营商：阿里云，由模拟器扮演）")
            click.echo("  模拟来信：  hotline simulate sms --from 13900001001 救命  （模拟手机页只用于 Twilio）")
        elif simulated:
            click.echo(f"  模拟运营商：http://127.0.0.1:{simulator_port}/  （运营商：模拟器）")
            click.echo(f"  模拟手机：  http://127.0.0.1:{port}/phone/  （扮演村民求助，或接听小组成员的电话）")
        click.echo("按 Ctrl-C 停止。")
        while not stopping:
            exited = tree.first_exited()
            if exited:
                click.echo(f"{_PART.get(exited[0], exited[0])}已退出（退出码 {exited[1]}），正在停止", err=True)
                break
            time.sleep(0.2)
    finally:
        click.echo("正在停止……")
        tree.stop()
        if embedded is not None:
            embedded.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("已停止")


def _open_worker_log(path: Path | None) -> IO[bytes] | None:
    """The worker's log file, opened for appending; None when none was asked for.

    Raises:
        click.ClickException: The file cannot be opened for writing.
    """
    if path is None:
        return None
    try:
        return path.open("ab")
    except OSError as exc:
        raise click.ClickException(f"无法写入工作进程日志 {path}：{exc.strerror or exc}") from None


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(up_command)
