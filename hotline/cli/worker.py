"""``hotline worker``: the RQ worker, with its scheduler, for alerts before broadcasts."""

from __future__ import annotations

import itertools
import logging
import signal
import time
from types import FrameType

import click
from flask import current_app
from flask.cli import with_appcontext
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# A killed worker's job is noticed when its heartbeat lapses and a maintenance
# pass runs; RQ's default pass every 10 minutes is far too slow for alerts.
MAINTENANCE_INTERVAL = 15
# An idle worker only runs its maintenance pass when its blocking dequeue times
# out, after worker_ttl - 15 s: with RQ's default (420 s) a worker that found
# the queues empty would not restart a lost sweeper, or take over the scheduler
# of a dead worker, for seven minutes.
WORKER_TTL = 20
# Between a worker that stopped unexpectedly and the next, so a fault that recurs at once cannot spin.
RESTART_PAUSE = 1.0


@click.command("worker")
@click.option("--burst", is_flag=True, help="队列清空后退出（用于测试和脚本）。")
@click.option("--name", default=None, help="进程名称，每个进程唯一。")
@click.option(
    "--log-level", default="INFO", show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="INFO 记录每个任务（包括每隔几秒的巡检）；WARNING 只记录需要处理的问题。",
)
@with_appcontext
def worker_command(burst: bool, name: str | None, log_level: str) -> None:
    """运行后台任务进程（RQ）：处理报警和群发队列，并负责定时任务。

    最多同时运行 HOTLINE_SEND_CONCURRENCY 个任务（线程）。

    \b
    任务进行中 Redis 断开时，RQ 的进程会退出；本命令会等 Redis 恢复后重新启动它，
    无需人工处理。只有收到 SIGTERM 或 Ctrl-C 时才真正停止。
    """
    from hotline.extensions import get_carrier, get_settings, queues
    from hotline.queues import QUEUE_NAMES
    from hotline.redis_checks import warn_about_durability
    from workers.runtime import use_app
    from workers.worker import HotlineWorker

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    use_app(app)
    # Jobs run in this process's threads: the carrier's client is loaded once, now, and not by the
    # first sends, which would reach the carrier later than the rate counted them.
    get_carrier(app)
    for problem in warn_about_durability(queues.connection):
        click.secho(f"WARNING: {problem}", fg="red", err=True)
    for attempt in itertools.count():
        worker = HotlineWorker(
            [queues.queue(queue_name) for queue_name in QUEUE_NAMES],
            connection=queues.connection,
            # The dead worker's registration may outlive it in Redis; a restart needs a name of its own.
            name=name if attempt == 0 or name is None else f"{name}.{attempt}",
            maintenance_interval=MAINTENANCE_INTERVAL,
            worker_ttl=WORKER_TTL,
            concurrency=get_settings(app).send_concurrency,
        )
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level=log_level.upper())
        except RedisError as exc:
            # Its teardown could not reach Redis either.
            log.error("worker %s stopped: Redis failed (%s)", worker.name, exc)
        if burst or worker.stop_requested:
            return
        if worker.pubsub_thread is not None:
            # Its teardown could not unsubscribe; without this the thread would retry Redis forever.
            worker.pubsub_thread.stop()
        # The dead worker's signal handlers would only note a stop request; nothing is in hand now.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _exit_now)
        _wait_for_redis(queues.connection)
        log.warning("worker %s stopped unexpectedly; starting a new worker", worker.name)
        time.sleep(RESTART_PAUSE)


def _exit_now(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _wait_for_redis(connection: Redis) -> None:
    """Block until Redis answers, checking every few seconds."""
    delay = 0.5
    while True:
        try:
            connection.ping()
            return
        except (RedisError, OSError) as exc:
            log.error("waiting for Redis: %s", exc)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(worker_command)
