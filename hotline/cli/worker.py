"""``hotline worker``: the RQ worker, with its scheduler, for alerts before broadcasts."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

# A killed worker's job is noticed when its heartbeat lapses and a maintenance
# pass runs; RQ's default pass every 10 minutes is far too slow for alerts.
MAINTENANCE_INTERVAL = 15


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queues are empty (for tests and scripts).")
@click.option("--name", default=None, help="Worker name, unique per process.")
@with_appcontext
def worker_command(burst: bool, name: str | None) -> None:
    """Run an RQ worker on the alerts and broadcasts queues, with the scheduler."""
    from hotline.extensions import queues
    from hotline.queues import QUEUE_NAMES
    from workers.runtime import use_app
    from workers.worker import HotlineWorker

    use_app(current_app._get_current_object())  # type: ignore[attr-defined]
    worker = HotlineWorker(
        [queues.queue(queue_name) for queue_name in QUEUE_NAMES],
        connection=queues.connection,
        name=name,
        maintenance_interval=MAINTENANCE_INTERVAL,
    )
    from hotline.redis_checks import warn_about_durability

    for problem in warn_about_durability(queues.connection):
        click.secho(f"WARNING: {problem}", fg="red", err=True)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


def register(app: Flask) -> None:
    app.cli.add_command(worker_command)
