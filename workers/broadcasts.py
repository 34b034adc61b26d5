"""The periodic job that starts planned broadcasts, lets calls go after quiet hours, and marks broadcasts done.

Each sweep of the sweep chain (:mod:`workers.sweeper`) calls
:func:`enqueue_broadcast_upkeep`, which enqueues :func:`broadcast_upkeep`
when a broadcast is due, has calls waiting for quiet hours to end, or is
sending, and no such job is waiting already; so a planned broadcast starts
within ``HOTLINE_SWEEP_INTERVAL`` seconds of its time on whichever worker is
alive. Two workers may run it at once: each time is claimed by a conditional
update of the broadcast (:func:`hotline.services.broadcasts.start_due`).
"""

from __future__ import annotations

from datetime import datetime

from rq import Queue
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline.extensions import queues
from hotline.models import Broadcast, BroadcastStatus
from hotline.queues import BROADCASTS
from hotline.services.broadcasts import release_calls, settle, start_due
from hotline.services.outbox import dispatch_broadcast
from workers.runtime import job_context, job_waiting

BROADCAST_UPKEEP_JOB = "workers.broadcasts.broadcast_upkeep"
JOB_ID = "broadcasts-due"


def enqueue_broadcast_upkeep(session: Session, queue: Queue, now: datetime) -> bool:
    """Enqueue :func:`broadcast_upkeep` if a broadcast needs it and the job is not waiting already.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
        redis.exceptions.RedisError: Redis is unreachable.
    """
    needed = session.scalar(
        select(Broadcast.id).where(or_(
            (Broadcast.status == BroadcastStatus.SCHEDULED) & (Broadcast.next_run_at <= now),
            Broadcast.status == BroadcastStatus.SENDING,
        )).limit(1)
    )
    if needed is None or job_waiting(queue, JOB_ID):
        return False
    queue.enqueue(BROADCAST_UPKEEP_JOB, job_id=JOB_ID)
    return True


def broadcast_upkeep() -> str:
    """Start due broadcasts, release or hold calls by quiet hours, mark finished ones done; then enqueue the rows.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing changed,
            and the next sweep tries again.
        redis.exceptions.RedisError: The rows could not be enqueued; the
            sweeper sends the committed pending rows one by one.
    """
    with job_context() as ctx:
        started = start_due(ctx.session, ctx.settings)
        released = release_calls(ctx.session, ctx.settings)
        finished = settle(ctx.session)
        ctx.session.commit()
        if started or released:
            dispatch_broadcast(queues.queue(BROADCASTS), started + released)
        return f"started {len(started)} rows, released {len(released)} calls, finished {finished} broadcasts"
