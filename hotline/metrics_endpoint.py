"""``GET /metrics`` for Prometheus, behind a bearer token, and the timing of every request.

The endpoint exists only when ``HOTLINE_METRICS_TOKEN`` is set (404
otherwise), and answers 401 unless the request carries ``Authorization:
Bearer <token>``: the numbers say how busy each village's hotline is, so they
are not public.

With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn's workers and ``hotline
worker`` on one machine), it adds up what every process recorded there;
without it, it shows this process alone. Queue depth and age are read from
Redis at each scrape.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from hotline.extensions import get_settings, queues
from hotline.metrics import REQUEST_SECONDS, watch_timeline
from hotline.queues import QUEUE_NAMES

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


class QueueCollector(Collector):
    """How many jobs wait in each RQ queue, and how long the oldest has waited."""

    def __init__(self, connection: Redis) -> None:
        self.connection = connection

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("hotline_queue_depth", "Jobs waiting in each queue.", labels=["queue"])
        age = GaugeMetricFamily(
            "hotline_queue_oldest_seconds", "How long the job at the head of each queue has waited.", labels=["queue"]
        )
        try:
            for name in QUEUE_NAMES:
                queue = Queue(name, connection=self.connection)
                depth.add_metric([name], queue.count)
                head = queue.get_jobs(0, 1)
                waited = 0.0
                if head and head[0].enqueued_at is not None:
                    waited = max(time.time() - head[0].enqueued_at.timestamp(), 0.0)
                age.add_metric([name], waited)
        except (RedisError, OSError) as exc:
            log.warning("metrics: queues not measured, Redis failed (%s)", exc)
            return
        yield depth
        yield age


def _authorized(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics() -> Response:
    """The Prometheus exposition of every series.

    Raises:
        werkzeug.exceptions.NotFound: No token is configured.
    """
    token = get_settings().metrics_token
    if not token:
        abort(404)
    if not _authorized(token):
        return Response("bearer token required\n", status=401, headers={"WWW-Authenticate": "Bearer"},
                        mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        recorded = CollectorRegistry()
        multiprocess.MultiProcessCollector(recorded)
    else:
        recorded = REGISTRY
    live = CollectorRegistry()
    live.register(QueueCollector(queues.connection))
    body = generate_latest(recorded) + generate_latest(live)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(_exc: BaseException | None) -> None:
    started = g.pop("request_started", None)
    if started is None or request.endpoint == "metrics.metrics":
        return
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUEST_SECONDS.labels(route=route).observe(time.perf_counter() - started)


def init_app(app: Flask) -> None:
    """Serve ``/metrics``, time every request by route, and count what the timeline records."""
    app.register_blueprint(bp)
    app.before_request(_start_timer)
    app.teardown_request(_observe)
    watch_timeline()
