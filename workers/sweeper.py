"""The sweeper: the database is the record, so anything Redis lost is found again.

Every few seconds (``HOTLINE_SWEEP_INTERVAL``) it releases rows ``claimed``
by a worker that died mid-send (``HOTLINE_CLAIM_TIMEOUT``), re-enqueues
outbox rows that are still ``pending`` with no job that will run them (Redis
was down when the webhook tried, a job was lost, or its worker died), runs
escalation checks that are overdue (the scheduled check was lost, or no
scheduler is running), re-schedules checks that went missing, and records
calls that arrived while the database was down. A row's own job, or a due
check, gets ``HOTLINE_SWEEP_GRACE`` seconds before the sweeper steps in.

The sweeps form a chain, each scheduling the next. The chain's lock lives
for three intervals only, so when a killed worker takes the chain (or the
RQ scheduler) with it, the next maintenance pass of any worker starts it
again within seconds.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.utils import utcparse
from rq.worker import Worker
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from hotline.db import rows_changed
from hotline.extensions import queues
from hotline.models import EventKind, Incident, IncidentStatus, Notification, utcnow
from hotline.parked_calls import parked_calls, unpark
from hotline.services.escalation import next_check
from hotline.services.incidents import open_incident
from hotline.services.outbox import (
    BROADCAST,
    batch_jobs,
    dispatch_work,
    enqueue_send,
    escalation_job_id,
    forget_batch,
    schedule_escalation,
    send_job_id,
    send_queue_name,
)
from hotline.services.timeline import record_event
from workers.broadcasts import enqueue_broadcast_upkeep
from workers.drills import enqueue_due_drills
from workers.handed import forget, kept, record_submitted
from workers.runtime import JobContext, job_context

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 10  # seconds between sweeps, unless HOTLINE_SWEEP_INTERVAL says otherwise
LOCK_KEY = "hotline:sweeper"
SWEEP_TAG = "-sweep"  # tells the sweeper's own escalation checks from the scheduled ones
# A worker silent this long is taken for dead, and the broadcast batch it was running is sent by others.
WORKER_SILENCE = timedelta(seconds=30)


def lock_ttl(interval: int) -> int:
    """How long the chain's lock outlives its last sweep: long enough for the next
    link to run, short enough that a dead chain is restarted within seconds."""
    return interval * 3 + 1


def _will_run(connection: Redis, job_id: str, now: datetime, grace: timedelta) -> bool:
    """Whether RQ will run job ``job_id`` without the sweeper's help.

    A deferred job will, and a queued one that is still in its queue. One
    marked queued but gone from its queue was taken by a worker that died
    before starting it (RQ marks it started only once its thread begins). A
    scheduled one will unless its time is more than ``grace`` past: then no
    scheduler is moving it (the one holding RQ's lock died). A started one
    will not once it started more than ``grace`` ago: a job claims its row as
    soon as the sending rate lets it, so a row still pending under a job that
    old most likely lost its worker. If it did not, the row's claim still lets
    only one of the two jobs send it.
    """
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.DEFERRED:
        return True
    if status == JobStatus.QUEUED:
        if connection.lpos(Queue(job.origin, connection=connection).key, job_id) is not None:
            return True
        # A retried job keeps the start of its last try; it was taken after its latest enqueue.
        times = [at for at in (job.started_at, job.enqueued_at) if at is not None]
        return bool(times) and max(times) > now - grace
    if status == JobStatus.SCHEDULED:
        try:
            at = ScheduledJobRegistry(job.origin, connection=connection).get_scheduled_time(job_id)
        except NoSuchJobError:
            return False
        return at > now - grace
    if status == JobStatus.STARTED:
        return job.started_at is not None and job.started_at > now - grace
    return False


def _batch_will_run(connection: Redis, job_id: str, now: datetime) -> bool:
    """Whether a broadcast batch will still send its rows: it waits in a queue, or a live worker runs it.

    A batch runs for as long as its rows take, so its age says nothing; the
    heartbeat of the worker running it does (a live worker records one at
    least every ten seconds).
    """
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return True
    if status != JobStatus.STARTED or not job.worker_name:
        return False
    beat = connection.hget(Worker.redis_worker_namespace_prefix + job.worker_name, "last_heartbeat")
    if beat is None:
        return False
    return utcparse(beat.decode() if isinstance(beat, bytes) else str(beat)) > now - WORKER_SILENCE


def ensure_sweeping(queue: Queue, interval: int = SWEEP_INTERVAL) -> bool:
    """Start the sweep chain unless one is already running; returns True if started."""
    if not queue.connection.set(LOCK_KEY, "1", nx=True, ex=lock_ttl(interval)):
        return False
    queue.enqueue(sweep_outbox, job_id=f"sweep-{time.time_ns()}")
    return True


def _release_stale_claims(ctx: JobContext, connection: Redis, claimed_before: datetime) -> int:
    """Release rows claimed before ``claimed_before`` and never recorded as sent; returns how many.

    A row whose job handed it to the carrier and then lost the database has
    the carrier's answer kept in Redis (:mod:`workers.handed`): that answer is
    recorded instead, so the row is not sent twice.
    """
    stale = ctx.session.scalars(
        select(Notification.id).where(
            Notification.status == "claimed",
            Notification.provider_sid.is_(None),
            Notification.claimed_at < claimed_before,
        )
    ).all()
    ctx.session.commit()
    answers = kept(connection, stale)
    for notification_id, submitted in answers.items():
        record_submitted(ctx, ctx.session.get_one(Notification, notification_id), submitted, just_taken=False)
        log.info("notification %s: recorded as %s, which the carrier took before the database failed",
                 notification_id, submitted.sid)
    forget(connection, answers)
    unsent = [notification_id for notification_id in stale if notification_id not in answers]
    if not unsent:
        return 0
    released = rows_changed(
        ctx.session,
        update(Notification)
        .where(
            Notification.id.in_(unsent),
            Notification.status == "claimed",
            Notification.provider_sid.is_(None),
        )
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    ctx.session.commit()
    return released


def sweep_outbox() -> str:
    """One sweep, then schedule the next.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable; the chain restarts
            from the next worker maintenance pass once it is back.
        sqlalchemy.exc.SQLAlchemyError: The database failed; likewise.
    """
    with job_context() as ctx:
        settings = ctx.settings
        interval = settings.sweep_interval
        grace = timedelta(seconds=settings.sweep_grace)
        now = utcnow()
        connection = queues.connection
        queue = queues.queue()
        released = _release_stale_claims(ctx, connection, now - timedelta(seconds=settings.claim_timeout))

        stranded = ctx.session.execute(
            select(Notification.id, Notification.channel, Notification.sender).where(
                Notification.status == "pending",
                Notification.via_dial.is_(False),
                Notification.created_at < now - grace,
            )
        ).all()
        # A broadcast's rows wait their turn in their batch, possibly for an hour: leave them to a batch that will run.
        in_batch = batch_jobs(connection, [row.id for row in stranded if row.sender == BROADCAST])
        live_batches: dict[str, bool] = {}
        requeued = 0
        for notification_id, channel, sender in stranded:
            batch = in_batch.get(notification_id)
            if batch is not None:
                if batch not in live_batches:
                    live_batches[batch] = _batch_will_run(connection, batch, now)
                if live_batches[batch]:
                    continue
            if _will_run(connection, send_job_id(channel, notification_id), now, grace):
                continue
            enqueue_send(queues.queue(send_queue_name(sender)), channel, notification_id)
            if batch is not None:
                forget_batch(connection, [notification_id])
            requeued += 1

        overdue = rescheduled = 0
        open_incidents = ctx.session.scalars(
            # A caller in no group escalates to the station's duty line too (next_check says when).
            select(Incident).where(Incident.status == IncidentStatus.OPEN)
        ).all()
        for incident in open_incidents:
            check = next_check(settings, incident)
            if check is None:
                continue
            if now < check.due:
                # Lost with Redis, or never enqueued because Redis was down: put it back on time.
                if not Job.exists(escalation_job_id(incident.id, check.level), connection=connection):
                    schedule_escalation(queue, incident.id, check.level, (check.due - now).total_seconds())
                    rescheduled += 1
                continue
            if now < check.due + grace or _will_run(
                connection, escalation_job_id(incident.id, check.level, SWEEP_TAG), now, grace
            ):
                continue
            # Run now rather than scheduled: the scheduler may be what is missing.
            schedule_escalation(queue, incident.id, check.level, 0, tag=SWEEP_TAG)
            overdue += 1

        recorded = record_parked_calls(ctx)

        connection.set(LOCK_KEY, "1", ex=lock_ttl(interval))
        queue.enqueue_in(timedelta(seconds=interval), sweep_outbox, job_id=f"sweep-{time.time_ns()}")
        # Scheduled drills start in a job of their own, so a drill's failure never stops the sweeps.
        enqueue_due_drills(ctx.session, queue, now)
        enqueue_broadcast_upkeep(ctx.session, queue, now)
        if released or requeued or overdue or rescheduled or recorded:
            log.warning(
                "sweeper: released %d stuck claims, re-enqueued %d rows, ran %d overdue escalation checks, "
                "re-scheduled %d missing ones, recorded %d parked calls",
                released, requeued, overdue, rescheduled, recorded,
            )
        return (
            f"released {released}, requeued {requeued}, escalations {overdue}, "
            f"rescheduled {rescheduled}, parked calls {recorded}"
        )


def record_parked_calls(ctx: JobContext) -> int:
    """Open the incidents of calls the database could not take when they came in.

    Stops at the first database failure and leaves the rest parked.
    """
    connection = queues.connection
    recorded = 0
    for call in parked_calls(connection):
        try:
            opened = open_incident(
                ctx.session, ctx.settings, caller_phone=call.caller, source="call",
                call_sid=call.call_sid, now=call.received_at, capabilities=ctx.carrier.capabilities,
            )
            if opened.created:
                record_event(
                    ctx.session, opened.incident.id, EventKind.RECORDED_AFTER_OUTAGE,
                    received_at=call.received_at.isoformat(),
                )
            ctx.session.commit()
        except SQLAlchemyError as exc:
            ctx.session.rollback()
            log.warning("parked calls wait: the database still fails (%s)", exc)
            break
        if opened.created:
            dispatch_work(queues.queue(), opened.work(ctx.settings))
            recorded += 1
        unpark(connection, call)
    return recorded
