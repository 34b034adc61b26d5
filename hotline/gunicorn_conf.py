"""gunicorn settings for the web process (``gunicorn --config python:hotline.gunicorn_conf``).

A start-up hook, one for each web worker once it has loaded the app, and one
for metrics when a web worker exits. The web app
never connects at import or creation time, so the Redis check runs once in
gunicorn's master when the server is ready.
"""

from __future__ import annotations

from typing import Any


def when_ready(server: Any) -> None:
    """Warn in gunicorn's log when the configured Redis could lose queued alerts.

    An unreachable Redis is logged and does not stop the server: webhooks
    still answer, and the outbox waits in the database.
    """
    from redis import Redis

    from config.settings import SettingsError, load_settings
    from hotline.redis_checks import warn_about_durability

    try:
        settings = load_settings()
    except SettingsError:
        return  # create_app reports it, naming the variable
    if not settings.redis_url:
        return  # the embedded Redis is started with noeviction and an append-only file
    with Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2) as connection:
        for problem in warn_about_durability(connection):
            server.log.warning("Redis could lose queued alerts: %s", problem)


def post_worker_init(worker: Any) -> None:
    """Leave the loaded app out of Python's garbage collection.

    Everything loaded so far (the app, its templates, SQLAlchemy's mappers)
    lives as long as the worker; left in the collector's care, each full
    collection walks it all again, a pause of about 150 ms every few large
    pages that made the statistics page's p99. Frozen, a pause is 10-25 ms.
    """
    import gc

    gc.collect()
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    """Tell the metrics shared between processes (``PROMETHEUS_MULTIPROC_DIR``) that a web worker is gone."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
