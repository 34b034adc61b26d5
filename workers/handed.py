"""Recording what the carrier took, even when the database fails just after.

A send job claims its row, hands it to the carrier, then writes the
carrier's id on the row. When the database fails between the last two, the
carrier has the message while the row still says ``claimed`` with no id, and
the sweeper would release it to be sent again once the claim times out: a
second alert text to every member the outage caught. So the job keeps the
carrier's answer in Redis before it fails, and the sweeper writes that answer
on the row instead of releasing it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import case, update
from sqlalchemy.exc import SQLAlchemyError

from hotline.carriers import DeliveryStatus, Submitted
from hotline.extensions import queues
from hotline.metrics import FIRST_ACCEPTANCE_SECONDS, count_send, seconds_since
from hotline.models import EventKind, Notification, utcnow
from hotline.services.timeline import record_event
from workers.runtime import JobContext

log = logging.getLogger(__name__)

# Keeps the first carrier acceptance of each incident from being timed twice.
FIRST_ACCEPTED_KEY = "hotline:metrics:first-accepted:{}"
# The carrier's answer for a row the database could not take it for; kept well past any outage the
# sweeper could outlast (it needs the database to run at all).
HANDED_KEY = "hotline:handed:{}"
HANDED_TTL = 7 * 86400


def record_submitted(
    ctx: JobContext, notification: Notification, submitted: Submitted, *, just_taken: bool = True
) -> None:
    """Write the carrier's id and status on a claimed row and commit.

    ``just_taken`` says the carrier took it a moment ago, so the time to the
    incident's first acceptance is measured now; the sweeper, recording an
    answer kept from before an outage, leaves that figure alone.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    # A status callback may already have moved the row on; never move it back.
    ctx.session.execute(
        update(Notification)
        .where(Notification.id == notification.id)
        .values(
            provider_sid=submitted.sid,
            sent_at=utcnow(),
            error_code=None,
            error_message=None,
            status=case((Notification.status == "claimed", submitted.status), else_=Notification.status),
        )
        .execution_options(synchronize_session=False)
    )
    if notification.incident_id is not None:
        record_event(
            ctx.session, notification.incident_id, EventKind.delivery(notification.channel, DeliveryStatus.QUEUED),
            member_id=notification.member_id, notification_id=notification.id,
            phone=notification.phone, name=notification.recipient_name, purpose=str(notification.purpose),
            sid=submitted.sid,
        )
    ctx.session.commit()
    count_send(notification.channel, "sent")
    if just_taken and notification.incident_id is not None:
        _time_first_acceptance(notification)


def record_or_keep(ctx: JobContext, notification_id: int, submitted: Submitted) -> None:
    """Record what the carrier took for row ``notification_id``; if the database fails, keep it in Redis.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed. The carrier's
            answer is kept for the sweeper, which records it once the
            database is back rather than sending the row again.
        redis.exceptions.RedisError: Redis failed too while keeping it; the
            sweeper will then send the row again (twice is better than never).
    """
    try:
        # Loaded again: the claim's commit expired the object, so this is where the database is first asked.
        notification = ctx.session.get_one(Notification, notification_id)
        record_submitted(ctx, notification, submitted)
    except SQLAlchemyError:
        log.error("notification %s: the carrier took it as %s but the database failed; kept for the sweeper",
                  notification_id, submitted.sid)
        keep(queues.connection, notification_id, submitted)
        raise


def keep(connection: Redis, notification_id: int, submitted: Submitted) -> None:
    """Keep the carrier's answer for a row until the sweeper records it."""
    key = HANDED_KEY.format(notification_id)
    with connection.pipeline() as pipe:
        pipe.hset(key, mapping={"sid": submitted.sid, "status": submitted.status})
        pipe.expire(key, HANDED_TTL)
        pipe.execute()


def kept(connection: Redis, notification_ids: Iterable[int]) -> dict[int, Submitted]:
    """The carrier's answers kept for any of these rows."""
    ids = list(notification_ids)
    if not ids:
        return {}
    with connection.pipeline(transaction=False) as pipe:
        for notification_id in ids:
            pipe.hgetall(HANDED_KEY.format(notification_id))
        answers = pipe.execute()
    found = {}
    for notification_id, answer in zip(ids, answers, strict=True):
        if answer:
            found[notification_id] = Submitted(sid=answer[b"sid"].decode(), status=answer[b"status"].decode())
    return found


def forget(connection: Redis, notification_ids: Iterable[int]) -> None:
    """Drop the kept answers of rows now recorded."""
    keys = [HANDED_KEY.format(notification_id) for notification_id in notification_ids]
    if keys:
        connection.delete(*keys)


def _time_first_acceptance(notification: Notification) -> None:
    """Time the call to the carrier's first acceptance of its alert, once per incident; never fails a send."""
    try:
        first = queues.connection.set(FIRST_ACCEPTED_KEY.format(notification.incident_id), 1, nx=True, ex=86400)
        incident = notification.incident if first else None
    except (RedisError, OSError, SQLAlchemyError):
        return
    if incident is not None:
        FIRST_ACCEPTANCE_SECONDS.observe(seconds_since(incident.opened_at, utcnow()))
