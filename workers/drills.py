"""The periodic job that starts scheduled drills when they fall due.

Each sweep of the sweep chain (:mod:`workers.sweeper`) calls
:func:`enqueue_due_drills`, which enqueues :func:`start_due_drills` when a
schedule is due and no such job is waiting already; so drills start within
``HOTLINE_SWEEP_INTERVAL`` seconds of their time on whichever worker is
alive. Two workers may run the job at once: each occurrence is claimed by a
conditional update of its schedule (see
:func:`hotline.services.drills.start_due`), so it starts once.
"""

from __future__ import annotations

from datetime import datetime

from rq import Queue
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.extensions import queues
from hotline.models import DrillSchedule
from hotline.services.drills import start_due
from hotline.services.outbox import dispatch_work
from workers.runtime import job_context, job_waiting

START_DUE_DRILLS_JOB = "workers.drills.start_due_drills"
JOB_ID = "drills-due"


def enqueue_due_drills(session: Session, queue: Queue, now: datetime) -> bool:
    """Enqueue :func:`start_due_drills` if a schedule is due and the job is not waiting already.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
        redis.exceptions.RedisError: Redis is unreachable.
    """
    due = session.scalar(
        select(DrillSchedule.id)
        .where(DrillSchedule.next_run_at <= now, DrillSchedule.cancelled_at.is_(None))
        .limit(1)
    )
    if due is None or job_waiting(queue, JOB_ID):
        return False
    queue.enqueue(START_DUE_DRILLS_JOB, job_id=JOB_ID)
    return True


def start_due_drills() -> str:
    """Start the drills whose time has come; commit, then enqueue their texts, calls and checks.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing started,
            and the next sweep tries again.
        redis.exceptions.RedisError: The work could not be enqueued; the
            sweeper sends the committed rows and runs the missed checks.
    """
    with job_context() as ctx:
        started = start_due(ctx.session, ctx.settings, capabilities=ctx.carrier.capabilities)
        ctx.session.commit()
        queue = queues.queue()
        for work in started.work:
            dispatch_work(queue, work)
        return f"started {len(started.drills)} drills, left out {len(started.skipped)} groups"
