"""Putting work on the queues, only ever after the rows it names are committed.

Job ids are deterministic, so enqueuing the same notification twice is
harmless; the real guard against double sending is the notification's status
in the database, which every job claims atomically.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from datetime import timedelta

from redis.exceptions import RedisError
from rq import Queue, Retry

log = logging.getLogger(__name__)

# Seconds between retries of a transient carrier failure (429, 5xx, timeouts).
RETRY_INTERVALS = [2, 5, 15, 30, 60, 120, 300]


def retry_policy() -> Retry:
    """Backoff with jitter, so a burst of throttled sends does not retry in lockstep.

    Intervals keep a tenth of a second: rounded to whole seconds, the first
    (2 s ± 25 %) would always come out as exactly 2 s for every job.
    """
    return Retry(
        max=len(RETRY_INTERVALS),
        interval=[max(1.0, round(seconds * random.uniform(0.75, 1.25), 1)) for seconds in RETRY_INTERVALS],
    )


def enqueue_sms(queue: Queue, notification_id: int) -> None:
    from workers.jobs import send_sms

    queue.enqueue(
        send_sms, notification_id, job_id=f"sms-{notification_id}",
        retry=retry_policy(), failure_ttl=7 * 24 * 3600,
    )


def enqueue_call(queue: Queue, notification_id: int) -> None:
    from workers.jobs import place_call

    queue.enqueue(
        place_call, notification_id, job_id=f"call-{notification_id}",
        retry=retry_policy(), failure_ttl=7 * 24 * 3600,
    )


def schedule_escalation(queue: Queue, incident_id: int, level: int, delay: float, *, retry_tag: str = "") -> None:
    """Check ``level`` of ``incident_id`` after ``delay`` seconds.

    A check that is already due is enqueued at once: ``enqueue_in`` with no
    delay would still wait for RQ's scheduler, which may be the thing that is
    missing. Later checks need a worker running the scheduler.

    ``retry_tag`` distinguishes a re-check of the same level from the first one.
    """
    from workers.jobs import check_escalation

    options = {
        "job_id": f"escalation-{incident_id}-{level}{retry_tag}",
        "retry": retry_policy(),
        "failure_ttl": 7 * 24 * 3600,
    }
    if delay <= 0:
        queue.enqueue(check_escalation, incident_id, level, **options)
    else:
        queue.enqueue_in(timedelta(seconds=delay), check_escalation, incident_id, level, **options)


def dispatch(
    queue: Queue,
    *,
    sms_ids: Iterable[int] = (),
    call_ids: Iterable[int] = (),
    escalation: tuple[int, int, float] | None = None,
) -> None:
    """Enqueue committed work: SMS, calls and an escalation check.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable. The rows stay
            ``pending`` in the database, where the sweeper finds them.
    """
    for notification_id in call_ids:
        enqueue_call(queue, notification_id)
    for notification_id in sms_ids:
        enqueue_sms(queue, notification_id)
    if escalation is not None:
        schedule_escalation(queue, *escalation)


def dispatch_from_request(queue_factory, **work) -> bool:
    """Like :func:`dispatch`, but never fails a webhook: Twilio must get its TwiML.

    Returns False (and logs) when Redis is unreachable; the committed outbox
    rows are re-enqueued by the sweeper once Redis is back.
    """
    try:
        dispatch(queue_factory(), **work)
    except (RedisError, OSError) as exc:
        log.error("could not enqueue %s: %s; the sweeper will retry", work, exc)
        return False
    return True
