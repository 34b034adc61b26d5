"""What the service measures, for Prometheus: the series, and where the timeline feeds them.

Every process (web workers, ``hotline worker``) records into these metrics.
Under gunicorn and beside a worker, ``PROMETHEUS_MULTIPROC_DIR`` names a
folder they all write to (``hotline up`` makes one; see the Procfile notes),
and ``/metrics`` adds them up. It must be set before the process starts.

Acknowledgements and escalations are counted from the timeline events the
services already write (:func:`watch_timeline`), after their transaction
commits, so no service needs to know about metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import event
from sqlalchemy.orm import Session

from hotline.models import EventKind, Incident, TimelineEvent

# Seconds: a webhook should answer in milliseconds; Twilio gives up at 15.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
# Seconds from a villager's call: the first carrier acceptance should take one round trip; people take minutes.
_ALERT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

REQUEST_SECONDS = Histogram(
    "hotline_request_seconds", "Time to answer an HTTP request (carrier webhooks included), by route.",
    ["route"], buckets=_LATENCY_BUCKETS,
)
SENDS = Counter(
    "hotline_sends_total",
    "SMS and calls a worker finished with: sent (the carrier took it), failed, retried, deferred "
    "(a number's limit), canceled or skipped (already sent).",
    ["channel", "outcome", "reason"],
)
RATE_WAIT_SECONDS = Histogram(
    "hotline_rate_limit_wait_seconds", "Time a send waited for the shared sending rate, by channel and priority.",
    ["channel", "priority"], buckets=_WAIT_BUCKETS,
)
FIRST_ACCEPTANCE_SECONDS = Histogram(
    "hotline_call_to_first_carrier_acceptance_seconds",
    "From a villager's call (the incident opening) to the carrier taking the alert's first SMS or call.",
    buckets=_ALERT_BUCKETS,
)
FIRST_ACK_SECONDS = Histogram(
    "hotline_call_to_first_acknowledgement_seconds",
    "From a villager's call to the first member (or the duty line) accepting.",
    buckets=_ALERT_BUCKETS,
)
ESCALATIONS = Counter("hotline_escalations_total", "Escalation levels fired, by level.", ["level"])

_PENDING = "hotline.metrics.pending"


def count_send(channel: str, outcome: str, reason: str = "") -> None:
    """Count one send a worker finished with (:data:`SENDS`)."""
    SENDS.labels(channel=str(channel), outcome=outcome, reason=reason).inc()


def seconds_since(start: datetime, end: datetime) -> float:
    """Seconds from ``start`` to ``end``, never negative (clocks of two hosts may disagree)."""
    return max((end - start).total_seconds(), 0.0)


def _collect(session: Session, _context: Any) -> None:
    pending = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        if not isinstance(obj, TimelineEvent):
            continue
        if obj.kind == EventKind.ESCALATED:
            pending.append((ESCALATIONS.labels(level=str((obj.detail or {}).get("level", "?"))).inc, ()))
        elif obj.kind == EventKind.ACKNOWLEDGED:
            # The incident that was acknowledged is loaded in this session; no query in a flush.
            incident = session.identity_map.get(session.identity_key(Incident, obj.incident_id))
            if isinstance(incident, Incident) and incident.opened_at is not None and obj.at is not None:
                pending.append((FIRST_ACK_SECONDS.observe, (seconds_since(incident.opened_at, obj.at),)))


def _observe(session: Session) -> None:
    for record, args in session.info.pop(_PENDING, []):
        record(*args)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)


def watch_timeline() -> None:
    """Count escalations and time acknowledgements from the timeline events sessions commit.

    Safe to call more than once; every session in the process is watched.
    """
    if event.contains(Session, "after_flush", _collect):
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "after_commit", _observe)
    event.listen(Session, "after_rollback", _forget)
