"""RQ jobs: send one SMS, place one call, send a broadcast's batch, check one escalation level.

Every send is paced first (the number's own limits, then the sending rate
shared by every worker: :mod:`workers.pacing`), then claims its row with a
conditional update, so a job that runs twice sends once. Transient carrier
failures are re-raised for RQ to retry; permanent ones are recorded on the
row and not retried. A send that a number's limit puts off is re-scheduled
for when it is allowed, never dropped.

The worker runs send jobs side by side in threads (:mod:`workers.worker`), so
an alert's texts reach the carrier together; a broadcast's batch keeps its
own few sends in flight, at the back of the rate.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from redis.exceptions import RedisError
from rq import Queue, Retry, get_current_job
from sqlalchemy import select, update

from hotline.carriers import CarrierError, DeliveryStatus, FailureReason, OutboundSms, Submitted
from hotline.db import rows_changed
from hotline.extensions import get_settings, queues
from hotline.metrics import count_send
from hotline.models import Channel, EventKind, Incident, IncidentStatus, Notification, Purpose, utcnow
from hotline.queues import BROADCASTS
from hotline.services.backup import backup_after_failure, backup_work
from hotline.services.delivery import mark_opted_out
from hotline.services.escalation import run_check
from hotline.services.outbox import (
    defer_send,
    dispatch,
    dispatch_broadcast,
    dispatch_work,
    forget_batch,
    retry_send_later,
    schedule_escalation,
)
from hotline.services.prompts import call_prompt
from hotline.services.timeline import record_event
from workers.handed import record_or_keep
from workers.pacing import Go, Wait, pace, release
from workers.runtime import JobContext, job_context, stopping, worker_app

log = logging.getLogger(__name__)

# A send put off by a number's limit is re-scheduled as often as it takes (RQ counts each as a retry).
DEFER_RETRIES = 10_000
# What a broadcast's send says when the worker stopped before its turn: the row goes to a new batch.
HANDED_BACK = "handed back"

# A carrier request, built and ready to leave: hands the row to the carrier when called.
Request = Callable[[], Submitted]


def _claim(ctx: JobContext, notification_id: int) -> Notification | None:
    """Take the row from ``pending`` to ``claimed``; None if it is not pending."""
    claimed = rows_changed(
        ctx.session,
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == "pending")
        .values(status="claimed", claimed_at=utcnow(), attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    ctx.session.commit()
    if not claimed:
        return None
    return ctx.session.get(Notification, notification_id)


def _cancel_if_answered(ctx: JobContext, notification: Notification) -> bool:
    """Cancel an escalation whose incident someone accepted while it waited (in the queue or between retries)."""
    incident = notification.incident
    if notification.purpose != Purpose.ESCALATION or incident is None or incident.status == IncidentStatus.OPEN:
        return False
    notification.status = "canceled"
    notification.status_at = utcnow()
    record_event(
        ctx.session, incident.id, EventKind.delivery(notification.channel, DeliveryStatus.CANCELED),
        member_id=notification.member_id, notification_id=notification.id,
        phone=notification.phone, name=notification.recipient_name, purpose=str(notification.purpose),
        incident_status=str(incident.status),
    )
    ctx.session.commit()
    return True


def _record_failure(
    ctx: JobContext, notification: Notification, error: CarrierError, *, will_retry: bool
) -> tuple[str, bool]:
    """Record a carrier refusal and say what became of the row, and whether it is to be sent again.

    A row that will be retried goes back to ``pending``. A request that timed
    out may have been taken by the carrier after all: its status callback then
    moved the row on while the job waited. The row is left as the callback
    says and nothing is retried, or it would go out twice.
    """
    moved = rows_changed(
        ctx.session,
        update(Notification)
        .where(Notification.id == notification.id, Notification.status == "claimed")
        .values(
            status="pending" if will_retry else "failed",
            status_at=utcnow(),
            error_code=error.code,
            failure_reason=str(error.reason),
            error_message=str(error)[:500],
        )
        .execution_options(synchronize_session=False)
    )
    if not moved:
        ctx.session.commit()
        log.warning("notification %s: %s, but the carrier reported it sent; not retried", notification.id, error)
        count_send(notification.channel, "sent", str(error.reason))
        return f"sent: the carrier took it although the request failed ({error})", False
    backup_id = None
    if not will_retry:
        if notification.incident_id is not None:
            record_event(
                ctx.session, notification.incident_id, EventKind.delivery(notification.channel, DeliveryStatus.FAILED),
                member_id=notification.member_id, notification_id=notification.id,
                phone=notification.phone, name=notification.recipient_name,
                error_code=error.code, reason=str(error.reason), error=str(error)[:200],
                purpose=str(notification.purpose),
            )
        if error.reason == FailureReason.OPTED_OUT:
            mark_opted_out(ctx.session, notification.phone, True)
        # The update above went around the session: read the failure back before deciding on a backup.
        ctx.session.refresh(notification)
        backup_id = backup_after_failure(ctx.session, notification)
    ctx.session.commit()
    count_send(notification.channel, "retried" if will_retry else "failed", str(error.reason))
    if will_retry:
        return f"retried: {error}", True
    _enqueue_backup(notification, backup_id)
    return f"failed: {error}", False


def _enqueue_backup(notification: Notification, backup_id: int | None) -> None:
    """Enqueue the committed backup of a refused notification, if one was written.

    Redis failing here is logged, not raised: a retry of this job would find
    its row already failed and do nothing, while the sweeper sends the
    backup's pending row once Redis is back.
    """
    if backup_id is None:
        return
    try:
        dispatch_work(queues.queue(), backup_work(notification.channel, backup_id))
    except (RedisError, OSError) as exc:
        log.error(
            "could not enqueue backup %s of notification %s: %s; the sweeper will send it",
            backup_id, notification.id, exc,
        )


def _pending(ctx: JobContext, notification_id: int) -> tuple[str, str, str] | None:
    """The channel, number and sender of a row still to be sent, or None.

    Read before pacing, so a row already sent takes no slot of the rate. The
    transaction ends here: no database connection is held while waiting.
    """
    row = ctx.session.execute(
        select(Notification.channel, Notification.phone, Notification.sender)
        .where(Notification.id == notification_id, Notification.status == "pending")
    ).one_or_none()
    ctx.session.commit()
    return None if row is None else (str(row.channel), row.phone, row.sender)


def _hand_over(
    ctx: JobContext, notification_id: int, go: Go, prepare: Callable[[JobContext, Notification], Request]
) -> tuple[Notification, Request] | str:
    """Claim a paced row and check it is still wanted; the row and its request, ready to leave, or what became of it.

    The request is built (with whatever it reads from the database) before
    the slot is stamped, so that only the request itself lies between the
    stamp and the carrier: the window the rate counts is the carrier's.
    """
    notification = _claim(ctx, notification_id)
    if notification is None:
        release(go.reservation)
        return "skipped: not pending"
    if _cancel_if_answered(ctx, notification):
        count_send(notification.channel, "canceled")
        return "canceled: incident already answered"
    request = prepare(ctx, notification)
    # End the transaction: no connection is held while the carrier answers.
    ctx.session.commit()
    go.leaving()
    return notification, request


def _request_for(ctx: JobContext, notification: Notification) -> Request:
    """The carrier request that hands a claimed row over on its channel."""
    return (_sms_request if notification.channel == Channel.SMS else _call_request)(ctx, notification)


def _deliver(notification_id: int, prepare: Callable[[JobContext, Notification], Request]) -> str | Retry:
    """Pace a row, claim it, hand it to the carrier with the request ``prepare`` builds, and record the outcome.

    Returns:
        The carrier's id, or what became of the row; a :class:`rq.Retry` for
        RQ to run the job again when a number's limit says to wait.

    Raises:
        CarrierError: A transient failure RQ will retry (the row is pending again).
    """
    with job_context() as ctx:
        row = _pending(ctx, notification_id)
        if row is None:
            return "skipped: not pending"
        channel, phone, sender = row
        paced = pace(ctx, channel, phone, sender)
        if isinstance(paced, Wait):
            count_send(channel, "deferred")
            log.info("notification %s: %s waits %.0f s for the carrier's limit per number",
                     notification_id, phone, paced.seconds)
            # RQ's scheduler keeps whole seconds and may run it up to one early: a second more,
            # or the number's limit would put it off once more.
            return Retry(max=DEFER_RETRIES, interval=math.ceil(paced.seconds) + 1)
        assert paced is not None  # nothing asked it to give up
        handed = _hand_over(ctx, notification_id, paced, prepare)
        if isinstance(handed, str):
            return handed
        notification, request = handed
        try:
            submitted = request()
        except CarrierError as error:
            job = get_current_job()
            will_retry = error.transient and job is not None and job.should_retry
            outcome, retrying = _record_failure(ctx, notification, error, will_retry=will_retry)
            if retrying:
                raise error from None
            return outcome
        record_or_keep(ctx, notification_id, submitted)
        return submitted.sid


def _deliver_in_batch(notification_id: int, queue: Queue) -> str:
    """Send one row of a broadcast's batch; what it fails for now is sent again on its own.

    Returns:
        ``sent``, ``failed``, ``retried`` (a send job will try again after the
        backoff), ``deferred`` (after the number's limit), ``skipped``,
        ``canceled``, or :data:`HANDED_BACK` when the worker is stopping.
    """
    with job_context() as ctx:
        row = _pending(ctx, notification_id)
        if row is None:
            return "skipped"
        channel, phone, sender = row
        paced = pace(ctx, channel, phone, sender, give_up=stopping.is_set)
        if paced is None:
            return HANDED_BACK
        if isinstance(paced, Wait):
            defer_send(queue, channel, notification_id, paced.seconds)
            count_send(channel, "deferred")
            return "deferred"
        handed = _hand_over(ctx, notification_id, paced, _request_for)
        if isinstance(handed, str):
            return handed.partition(":")[0]
        notification, request = handed
        try:
            submitted = request()
        except CarrierError as error:
            outcome, retrying = _record_failure(ctx, notification, error, will_retry=error.transient)
            if retrying:
                retry_send_later(queue, notification.channel, notification.id)
            return outcome.partition(":")[0]
        record_or_keep(ctx, notification_id, submitted)
        return "sent"


def _sms_request(ctx: JobContext, notification: Notification) -> Request:
    message = OutboundSms(
        to=notification.phone, text=notification.body,
        template=notification.template, params=dict(notification.template_params or {}),
        drill=notification.incident is not None and notification.incident.is_drill,
    )
    return partial(ctx.carrier.send_sms, message, reference=notification.id)


def _call_request(ctx: JobContext, notification: Notification) -> Request:
    call = partial(ctx.carrier.place_call, to=notification.phone, reference=notification.id,
                   timeout=ctx.settings.ring_timeout)
    if ctx.carrier.capabilities.free_text:
        return call
    # A carrier that speaks only registered prompts is told the prompt now; the others fetch it from the URL.
    return partial(call, prompt=call_prompt(ctx.settings, notification))


def send_sms(notification_id: int) -> str | Retry:
    """Send one outbox SMS.

    Returns:
        The message's id at the carrier, what became of the row, or an
        :class:`rq.Retry` when the number's limit puts it off.

    Raises:
        CarrierError: A transient failure (429/20429, 5xx, timeout) that RQ
            will retry with backoff. Permanent failures are recorded, not raised.
    """
    return _deliver(notification_id, _sms_request)


def place_call(notification_id: int) -> str | Retry:
    """Place one outbound call whose answerer is screened (press 1 to accept).

    Returns:
        The call's id at the carrier, what became of the row, or an
        :class:`rq.Retry` when the number's limit puts it off.

    Raises:
        CarrierError: A transient failure that RQ will retry. Permanent
            failures are recorded, not raised.
    """
    return _deliver(notification_id, _call_request)


def send_broadcast(notification_ids: list[int]) -> str:
    """Send a broadcast's batch of rows, a few at a time, at the back of the sending rate.

    The rows go out through ``HOTLINE_SEND_CONCURRENCY`` sends in flight, each
    waiting for a slot of the broadcast share of the rate, and none while an
    alert's send is waiting. A row the carrier fails for now, or a number's
    limit puts off, is sent again on its own later. If the worker is asked to
    stop, the rows not yet sent are enqueued again as a new batch.

    Raises:
        redis.exceptions.RedisError: Redis failed; RQ retries the batch, and
            the rows' claims keep what was sent from going twice.
    """
    app = worker_app()
    with app.app_context():
        queue = queues.queue(BROADCASTS)
        concurrency = get_settings(app).send_concurrency
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="broadcast") as pool:
        outcomes = list(pool.map(lambda notification_id: _deliver_in_batch(notification_id, queue), notification_ids))
    handed_back = [n for n, outcome in zip(notification_ids, outcomes, strict=True) if outcome == HANDED_BACK]
    if handed_back:
        dispatch_broadcast(queue, handed_back)
    forget_batch(queue.connection, [n for n in notification_ids if n not in set(handed_back)])
    tally = Counter(outcomes)
    return ", ".join(f"{outcome} {count}" for outcome, count in sorted(tally.items()))


def check_escalation(incident_id: int, level: int) -> str:
    """Fire escalation ``level`` of an incident if nobody has responded.

    Raises:
        redis.exceptions.RedisError: The follow-up work could not be
            enqueued; the job is retried, the fence stops a second firing,
            and the retry enqueues the level's unsent work.
    """
    with job_context() as ctx:
        incident = ctx.session.get(Incident, incident_id)
        if incident is None:
            return "skipped: no such incident"
        outcome, work = run_check(ctx.session, ctx.settings, incident, level)
        ctx.session.commit()
        queue = queues.queue()
        if work.sms_ids or work.call_ids:
            dispatch(queue, sms_ids=work.sms_ids, call_ids=work.call_ids)
        if work.escalation is not None:
            check = work.escalation
            schedule_escalation(queue, check.incident_id, check.level, check.delay, tag=check.tag)
        return f"level {level}: {outcome}"

