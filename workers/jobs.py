"""RQ jobs: send one SMS, place one call, check one escalation level.

A job claims its row with a conditional update, so a job that runs twice
sends once. Transient carrier failures are re-raised for RQ to retry;
permanent ones are recorded on the row and not retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import RedisError
from rq import get_current_job
from sqlalchemy import case, update

from hotline.carriers import CarrierError, DeliveryStatus, FailureReason, OutboundSms, Submitted
from hotline.db import rows_changed
from hotline.extensions import queues
from hotline.models import EventKind, Incident, IncidentStatus, Notification, Purpose, utcnow
from hotline.services.backup import backup_after_failure, backup_work
from hotline.services.delivery import mark_opted_out
from hotline.services.escalation import run_check
from hotline.services.outbox import dispatch, dispatch_work, schedule_escalation
from hotline.services.prompts import call_prompt
from hotline.services.timeline import record_event
from hotline.urls import callback_url
from workers.runtime import JobContext, job_context

log = logging.getLogger(__name__)


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


def _record_submitted(ctx: JobContext, notification: Notification, submitted: Submitted) -> None:
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


def _record_failure(ctx: JobContext, notification: Notification, error: CarrierError) -> str:
    """Record a carrier refusal and say what became of the row; re-raise it if RQ will retry.

    A request that timed out may have been taken by the carrier after all: its
    status callback then moved the row on while the job waited. The row is
    left as the callback says and nothing is retried, or it would go out twice.
    """
    job = get_current_job()
    will_retry = error.transient and job is not None and job.should_retry
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
        return f"sent: the carrier took it although the request failed ({error})"
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
    if will_retry:
        raise error
    _enqueue_backup(notification, backup_id)
    return f"failed: {error}"


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


def _deliver(notification_id: int, submit: Callable[[JobContext, Notification], Submitted]) -> str:
    """Claim a row, hand it to the carrier with ``submit``, and record the outcome."""
    with job_context() as ctx:
        notification = _claim(ctx, notification_id)
        if notification is None:
            return "skipped: not pending"
        if _cancel_if_answered(ctx, notification):
            return "canceled: incident already answered"
        try:
            submitted = submit(ctx, notification)
        except CarrierError as error:
            return _record_failure(ctx, notification, error)
        _record_submitted(ctx, notification, submitted)
        return submitted.sid


def _submit_sms(ctx: JobContext, notification: Notification) -> Submitted:
    message = OutboundSms(
        to=notification.phone, text=notification.body,
        template=notification.template, params=dict(notification.template_params or {}),
    )
    return ctx.carrier.send_sms(
        message, status_callback=callback_url(ctx.settings, "/twilio/sms-status", n=notification.id)
    )


def _submit_call(ctx: JobContext, notification: Notification) -> Submitted:
    url = callback_url(ctx.settings, "/twilio/voice/screen", n=notification.id)
    status_callback = callback_url(ctx.settings, "/twilio/call-status", n=notification.id)
    timeout = ctx.settings.ring_timeout
    if ctx.carrier.capabilities.free_text:
        return ctx.carrier.place_call(to=notification.phone, url=url, status_callback=status_callback, timeout=timeout)
    # A carrier that speaks only registered prompts is told the prompt now; the others fetch it from the URL.
    prompt = call_prompt(ctx.settings, notification)
    return ctx.carrier.place_call(
        to=notification.phone, url=url, status_callback=status_callback, timeout=timeout, prompt=prompt
    )


def send_sms(notification_id: int) -> str:
    """Send one outbox SMS.

    Raises:
        CarrierError: A transient failure (429/20429, 5xx, timeout) that RQ
            will retry with backoff. Permanent failures are recorded, not raised.
    """
    return _deliver(notification_id, _submit_sms)


def place_call(notification_id: int) -> str:
    """Place one outbound call whose answerer is screened (press 1 to accept).

    Raises:
        CarrierError: A transient failure that RQ will retry. Permanent
            failures are recorded, not raised.
    """
    return _deliver(notification_id, _submit_call)


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

