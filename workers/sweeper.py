"""The sweeper: the database is the record, so anything Redis lost is found again.

Every few seconds it re-enqueues outbox rows that are still ``pending`` with
no job carrying them (Redis was down when the webhook tried, or a job was
lost), releases rows ``claimed`` by a worker that died mid-send, and runs
escalation checks that are overdue (the scheduled check was lost).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select, update

from hotline.extensions import queues
from hotline.models import Incident, IncidentStatus, Notification, utcnow
from hotline.services.escalation import DUTY_LINE, due_at, escalation_delays
from workers.dispatch import enqueue_call, enqueue_sms, schedule_escalation
from workers.runtime import job_context

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 10  # seconds between sweeps
PENDING_GRACE = timedelta(seconds=15)  # a new row's own job gets this long to start
CLAIM_TIMEOUT = timedelta(seconds=120)  # a claimed row with no SID after this was orphaned
ESCALATION_GRACE = timedelta(seconds=20)  # an overdue check gets this long before it is re-run
LOCK_KEY = "hotline:sweeper"


def _has_live_job(connection: Redis, job_id: str) -> bool:
    job = Job.fetch(job_id, connection=connection) if Job.exists(job_id, connection=connection) else None
    return job is not None and job.get_status(refresh=False) not in ("finished", "failed", "stopped", "canceled")


def ensure_sweeping(queue: Queue) -> bool:
    """Start the sweep chain unless one is already running; returns True if started."""
    if not queue.connection.set(LOCK_KEY, "1", nx=True, ex=SWEEP_INTERVAL * 6):
        return False
    queue.enqueue(sweep_outbox, job_id=f"sweep-{time.time_ns()}")
    return True


def sweep_outbox() -> str:
    """One sweep, then schedule the next.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable; the chain restarts
            from the next worker maintenance pass once it is back.
    """
    with job_context() as ctx:
        now = utcnow()
        connection = queues.connection
        queue = queues.queue()
        released = ctx.session.execute(
            update(Notification)
            .where(
                Notification.status == "claimed",
                Notification.provider_sid.is_(None),
                Notification.claimed_at < now - CLAIM_TIMEOUT,
            )
            .values(status="pending")
            .execution_options(synchronize_session=False)
        ).rowcount
        ctx.session.commit()

        stranded = ctx.session.execute(
            select(Notification.id, Notification.channel).where(
                Notification.status == "pending",
                Notification.via_dial.is_(False),
                Notification.created_at < now - PENDING_GRACE,
            )
        ).all()
        requeued = 0
        for notification_id, channel in stranded:
            job_id = f"{'sms' if channel == 'sms' else 'call'}-{notification_id}"
            if _has_live_job(connection, job_id):
                continue
            (enqueue_sms if channel == "sms" else enqueue_call)(queue, notification_id)
            requeued += 1

        overdue = 0
        open_incidents = ctx.session.scalars(
            select(Incident).where(
                Incident.status == IncidentStatus.OPEN,
                Incident.unregistered.is_(False),
                Incident.escalation_level < DUTY_LINE,
            )
        ).all()
        for incident in open_incidents:
            delays = escalation_delays(ctx.settings, incident)
            level = incident.escalation_level + 1
            if level > len(delays) or now < due_at(incident, delays, level) + ESCALATION_GRACE:
                continue
            if _has_live_job(connection, f"escalation-{incident.id}-{level}"):
                continue
            schedule_escalation(queue, incident.id, level, 0, retry_tag=f"-sweep-{int(now.timestamp())}")
            overdue += 1

        connection.set(LOCK_KEY, "1", ex=SWEEP_INTERVAL * 6)
        queue.enqueue_in(timedelta(seconds=SWEEP_INTERVAL), sweep_outbox, job_id=f"sweep-{time.time_ns()}")
        if released or requeued or overdue:
            log.warning("sweeper: released %d stuck claims, re-enqueued %d rows, re-ran %d escalation checks",
                        released, requeued, overdue)
        return f"released {released}, requeued {requeued}, escalations {overdue}"
