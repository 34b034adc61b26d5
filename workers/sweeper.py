"""The sweeper: the database is the record, so anything Redis lost is found again.

Every few seconds it re-enqueues outbox rows that are still ``pending`` with
no job carrying them (Redis was down when the webhook tried, or a job was
lost), releases rows ``claimed`` by a worker that died mid-send, runs
escalation checks that are overdue (the scheduled check was lost), and
records calls that arrived while the database was down.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from hotline.extensions import queues
from hotline.models import Incident, IncidentStatus, Notification, utcnow
from hotline.services.escalation import DUTY_LINE, due_at, escalation_delays
from hotline.services.incidents import open_incident
from hotline.services.timeline import record_event
from hotline.webhooks.deadline import parked_calls, unpark
from workers.dispatch import dispatch, enqueue_call, enqueue_sms, schedule_escalation
from workers.runtime import JobContext, job_context

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 10  # seconds between sweeps
PENDING_GRACE = timedelta(seconds=15)  # a new row's own job gets this long to start
CLAIM_TIMEOUT = timedelta(seconds=30)  # a claimed row with no SID after this was orphaned
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

        recorded = record_parked_calls(ctx)

        connection.set(LOCK_KEY, "1", ex=SWEEP_INTERVAL * 6)
        queue.enqueue_in(timedelta(seconds=SWEEP_INTERVAL), sweep_outbox, job_id=f"sweep-{time.time_ns()}")
        if released or requeued or overdue or recorded:
            log.warning(
                "sweeper: released %d stuck claims, re-enqueued %d rows, re-ran %d escalation checks, "
                "recorded %d parked calls", released, requeued, overdue, recorded,
            )
        return f"released {released}, requeued {requeued}, escalations {overdue}, parked calls {recorded}"


def record_parked_calls(ctx: JobContext) -> int:
    """Open the incidents of calls the database could not take when they came in.

    Stops at the first database failure and leaves the rest parked.
    """
    connection = queues.connection
    recorded = 0
    for raw, fields in parked_calls(connection):
        received_at = datetime.fromisoformat(fields["received_at"])
        try:
            opened = open_incident(
                ctx.session, ctx.settings, caller_phone=fields["caller"], source="call",
                call_sid=fields["call_sid"], now=received_at,
            )
            if opened.created:
                record_event(ctx.session, opened.incident.id, "recorded_after_outage", received_at=fields["received_at"])
            ctx.session.commit()
        except SQLAlchemyError as exc:
            ctx.session.rollback()
            log.warning("parked calls wait: the database still fails (%s)", exc)
            break
        if opened.created:
            incident = opened.incident
            escalation = None
            if not incident.unregistered:
                delays = escalation_delays(ctx.settings, incident)
                escalation = (incident.id, 1, max(0.0, (due_at(incident, delays, 1) - utcnow()).total_seconds()))
            dispatch(queues.queue(), sms_ids=opened.sms_ids, call_ids=opened.call_ids, escalation=escalation)
            recorded += 1
        unpark(connection, raw)
    return recorded
