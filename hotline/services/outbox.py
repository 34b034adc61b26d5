"""The outbox: notification rows for any sender, and the jobs that deliver them.

The database is the record. A service adds notification rows (and the
timeline of whatever sends them) in the caller's transaction; only after that
transaction commits does the caller hand the ids to :func:`dispatch`, which
enqueues the jobs by name, so web code never imports the workers.

Job ids are deterministic, so enqueuing the same notification twice is
harmless; the real guard against sending twice is the row's status, which
every job claims atomically, and the unique dedupe key, which lets a retried
webhook add no second row.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue, Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import Channel, Incident, Member, Notification, Purpose
from hotline.queues import ALERTS, BROADCASTS
from hotline.services.messages import Message

log = logging.getLogger(__name__)

# The jobs, by name: the workers' module is imported by the worker, never here.
SEND_SMS_JOB = "workers.jobs.send_sms"
PLACE_CALL_JOB = "workers.jobs.place_call"
CHECK_ESCALATION_JOB = "workers.jobs.check_escalation"
RECALL_MEMBERS_JOB = "workers.followups.recall_members"
SEND_BROADCAST_JOB = "workers.jobs.send_broadcast"
CALL_BACK_CALLER_JOB = "workers.followups.call_back_caller"

# Seconds between retries of a transient carrier failure (throttling, the carrier's failures, timeouts).
RETRY_INTERVALS = [2, 5, 15, 30, 60, 120, 300]
# Failed jobs are kept a week, for a look at what went wrong.
FAILURE_TTL = 7 * 24 * 3600

INCIDENT = "incident"  # the sender kind of an alert's notifications
BROADCAST = "broadcast"  # bulk sends: on the broadcasts queue, at the back of the sending rate

# Broadcast rows per job: a job sends its rows a share of the rate at a time,
# and a worker runs at most a couple at once, so alerts always find it free.
BROADCAST_BATCH = 200
# Which broadcast job holds each pending row (notification id -> job id), for the sweeper.
BATCH_INDEX = "hotline:outbox:batch"


def dedupe_key(
    sender: str, sender_id: int, purpose: Purpose | str, channel: Channel | str, key: str, phone: str,
) -> str:
    """One row per sender, reason, channel, round (``key``) and number."""
    return f"{sender}-{sender_id}:{purpose}:{channel}:{key}:{phone}"


def send_job_id(channel: Channel | str, notification_id: int) -> str:
    """The id of the job that sends one notification."""
    return f"{'sms' if channel == Channel.SMS else 'call'}-{notification_id}"


def escalation_job_id(incident_id: int, level: int, tag: str = "") -> str:
    """The id of one escalation check; ``tag`` tells a re-check from the first."""
    return f"escalation-{incident_id}-{level}{tag}"


def add_notification(
    session: Session,
    incident: Incident,
    *,
    phone: str,
    channel: Channel,
    purpose: Purpose,
    key: str,
    member: Member | None = None,
    name: str = "",
    message: Message | None = None,
    level: int = 0,
    via_dial: bool = False,
) -> Notification:
    """Add one outbox row for an incident; ``key`` makes it unique within the incident.

    ``message`` is the SMS's text with its template; calls carry none (their
    prompts are rendered when the call is answered).
    """
    notification = Notification(
        sender=INCIDENT,
        incident_id=incident.id,
        member_id=member.id if member else None,
        phone=phone,
        recipient_name=member.name if member else name,
        channel=channel,
        purpose=purpose,
        escalation_level=level,
        via_dial=via_dial,
        body=message.text if message else "",
        template=message.template if message else "",
        template_params=dict(message.params) if message else {},
        status="pending",
        dedupe_key=dedupe_key(INCIDENT, incident.id, purpose, channel, key, phone),
    )
    session.add(notification)
    return notification


def text_everyone_alerted(
    session: Session,
    incident: Incident,
    *,
    purposes: Iterable[Purpose],
    purpose: Purpose,
    key: str,
    message: Message,
    skip: Callable[[Notification], bool] = lambda _: False,
) -> list[int]:
    """One SMS to every number the incident texted for ``purposes``, once per number; their ids.

    A member who texted STOP is left out, and so is any number ``skip``
    rejects (its first SMS row of the incident is what it sees).
    """
    texted = session.scalars(
        select(Notification).where(
            Notification.incident_id == incident.id,
            Notification.channel == Channel.SMS,
            Notification.purpose.in_(tuple(purposes)),
        ).order_by(Notification.id)
    ).all()
    first: dict[str, Notification] = {}
    for notification in texted:
        first.setdefault(notification.phone, notification)
    notices = [
        add_notification(
            session, incident, phone=phone, channel=Channel.SMS, purpose=purpose, key=key,
            member=source.member, name=source.recipient_name, message=message,
        )
        for phone, source in first.items()
        if not skip(source) and (source.member is None or not source.member.opted_out)
    ]
    session.flush()
    return [n.id for n in notices]


def find_by_dedupe_key(session: Session, key: str) -> Notification | None:
    """The row a dedupe key already names, if any."""
    return session.scalar(select(Notification).where(Notification.dedupe_key == key))


@dataclass(frozen=True)
class EscalationCheck:
    """Check ``level`` of an incident after ``delay`` seconds."""

    incident_id: int
    level: int
    delay: float
    tag: str = ""


@dataclass(frozen=True)
class Later:
    """A follow-up job to run after ``delay`` seconds, under a deterministic id."""

    job: str
    args: tuple[int, ...]
    delay: float
    job_id: str


@dataclass
class Work:
    """What to enqueue once the rows it names are committed."""

    sms_ids: list[int] = field(default_factory=list)
    call_ids: list[int] = field(default_factory=list)
    escalation: EscalationCheck | None = None
    later: list[Later] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sms_ids or self.call_ids or self.escalation or self.later)

    def __add__(self, other: Work) -> Work:
        return Work(
            sms_ids=self.sms_ids + other.sms_ids,
            call_ids=self.call_ids + other.call_ids,
            escalation=self.escalation or other.escalation,
            later=self.later + other.later,
        )


def recall_later(incident_id: int, round_: int, delay: float) -> Later:
    """Call the members who have not answered again, round ``round_``, after ``delay`` seconds."""
    return Later(RECALL_MEMBERS_JOB, (incident_id, round_), delay, f"recall-{incident_id}-{round_}")


def call_back_later(incident_id: int, delay: float) -> Later:
    """Call a caller whose call dropped back, once, after ``delay`` seconds."""
    return Later(CALL_BACK_CALLER_JOB, (incident_id,), delay, f"callback-{incident_id}")


def schedule_later(queue: Queue, later: Later, *, pipeline: Pipeline | None = None) -> None:
    """Enqueue a follow-up job to run after its delay (needs a worker running RQ's scheduler)."""
    options = _options(later.job_id)
    if later.delay <= 0:
        queue.enqueue(later.job, *later.args, pipeline=pipeline, **options)
    else:
        queue.enqueue_in(timedelta(seconds=later.delay), later.job, *later.args, pipeline=pipeline, **options)


def retry_policy() -> Retry:
    """Backoff with jitter, so a burst of throttled sends does not retry in lockstep.

    Intervals keep a tenth of a second: rounded to whole seconds, the first
    (2 s ± 25 %) would always come out as exactly 2 s for every job. RQ files
    a retry under the whole second it falls in, so a retry runs up to a second
    before its interval is over (or after, by the scheduler's poll); the
    fraction still spreads a burst of retries over neighbouring seconds.
    """
    intervals: list[Any] = [max(1.0, round(seconds * random.uniform(0.75, 1.25), 1)) for seconds in RETRY_INTERVALS]
    # RQ's annotation says whole seconds; fractions are accepted and move the second a retry is filed under.
    return Retry(max=len(RETRY_INTERVALS), interval=intervals)


def _options(job_id: str) -> dict[str, Any]:
    # Never a ttl: an expired alert job would be dropped silently.
    return {"job_id": job_id, "retry": retry_policy(), "failure_ttl": FAILURE_TTL}


def enqueue_send(
    queue: Queue, channel: Channel | str, notification_id: int, *, pipeline: Pipeline | None = None
) -> None:
    """Enqueue the job that sends one notification (on ``pipeline`` when given: sent when it executes)."""
    job = SEND_SMS_JOB if channel == Channel.SMS else PLACE_CALL_JOB
    queue.enqueue(job, notification_id, pipeline=pipeline, **_options(send_job_id(channel, notification_id)))


def schedule_escalation(
    queue: Queue, incident_id: int, level: int, delay: float, *, tag: str = "", pipeline: Pipeline | None = None
) -> None:
    """Enqueue the check of ``level`` of an incident to run after ``delay`` seconds.

    A check that is already due is enqueued at once: ``enqueue_in`` with no
    delay would still wait for RQ's scheduler, which may be the thing that is
    missing. Later checks need a worker running the scheduler.
    """
    options = _options(escalation_job_id(incident_id, level, tag))
    if delay <= 0:
        queue.enqueue(CHECK_ESCALATION_JOB, incident_id, level, pipeline=pipeline, **options)
    else:
        queue.enqueue_in(
            timedelta(seconds=delay), CHECK_ESCALATION_JOB, incident_id, level, pipeline=pipeline, **options
        )


def dispatch(
    queue: Queue,
    *,
    sms_ids: Iterable[int] = (),
    call_ids: Iterable[int] = (),
    escalation: EscalationCheck | None = None,
    later: Iterable[Later] = (),
) -> None:
    """Enqueue committed work: calls first (they take longest to ring), then SMS, a check, follow-ups.

    Every job goes to Redis in one pipelined transaction, one round trip
    however many members the group has: a webhook enqueuing a whole fan-out
    costs about as much as enqueuing one job.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable. Nothing was
            enqueued; the rows stay ``pending`` in the database, where the
            sweeper finds them.
    """
    with queue.connection.pipeline() as pipeline:
        # RQ puts its own commands in a transaction: start it before any of them is queued.
        pipeline.multi()
        for notification_id in call_ids:
            enqueue_send(queue, Channel.CALL, notification_id, pipeline=pipeline)
        for notification_id in sms_ids:
            enqueue_send(queue, Channel.SMS, notification_id, pipeline=pipeline)
        if escalation is not None:
            schedule_escalation(
                queue, escalation.incident_id, escalation.level, escalation.delay, tag=escalation.tag,
                pipeline=pipeline,
            )
        for follow_up in later:
            schedule_later(queue, follow_up, pipeline=pipeline)
        if pipeline.command_stack:
            pipeline.execute()


def dispatch_work(queue: Queue, work: Work) -> None:
    """:func:`dispatch` for a :class:`Work`.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable; the sweeper finds the rows.
    """
    dispatch(queue, sms_ids=work.sms_ids, call_ids=work.call_ids, escalation=work.escalation, later=work.later)


def dispatch_from_request(queue_factory: Callable[[], Queue], work: Work) -> bool:
    """Like :func:`dispatch_work`, but never fails a webhook: the carrier must get its answer.

    Returns False (and logs) when Redis is unreachable; the committed outbox
    rows are re-enqueued by the sweeper once Redis is back.
    """
    if not work:
        return True
    try:
        dispatch_work(queue_factory(), work)
    except (RedisError, OSError) as exc:
        log.error("could not enqueue %s: %s; the sweeper will retry", work, exc)
        return False
    return True


def send_queue_name(sender: str) -> str:
    """The queue a sender's notifications go out on: broadcasts on their own, behind every alert."""
    return BROADCASTS if sender == BROADCAST else ALERTS


def retry_send_later(queue: Queue, channel: Channel | str, notification_id: int) -> None:
    """Send a row again after the first backoff, with the rest of the retries to follow.

    For a row that a batch handed to the carrier and that failed for now:
    from here it is retried on its own, as any send job is.
    """
    first, *rest = retry_policy().intervals
    job = SEND_SMS_JOB if channel == Channel.SMS else PLACE_CALL_JOB
    options: dict[str, Any] = {"job_id": send_job_id(channel, notification_id), "failure_ttl": FAILURE_TTL}
    if rest:
        options["retry"] = Retry(max=len(rest), interval=rest)
    queue.enqueue_in(timedelta(seconds=first), job, notification_id, **options)


def defer_send(queue: Queue, channel: Channel | str, notification_id: int, delay: float) -> None:
    """Send a row on its own after ``delay`` seconds (a number's limit said to wait); never dropped."""
    job = SEND_SMS_JOB if channel == Channel.SMS else PLACE_CALL_JOB
    # RQ's scheduler keeps whole seconds and may run it up to one early.
    queue.enqueue_in(
        timedelta(seconds=math.ceil(delay) + 1), job, notification_id, **_options(send_job_id(channel, notification_id))
    )


def dispatch_broadcast(queue: Queue, notification_ids: Iterable[int], *, batch: int = BROADCAST_BATCH) -> list[str]:
    """Enqueue committed broadcast rows on ``queue`` (the broadcasts queue), ``batch`` rows a job.

    Each job sends its rows at the broadcast share of the sending rate, and
    only while no alert is waiting for it. The rows are indexed by job, so the
    sweeper leaves them to their job while it can still run.

    Returns:
        The jobs' ids (deterministic: the same rows enqueued again are the same jobs).

    Raises:
        redis.exceptions.RedisError: Redis is unreachable; the sweeper finds the pending rows.
    """
    ids = list(notification_ids)
    job_ids = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        job_id = f"broadcast-{chunk[0]}-{chunk[-1]}-{len(chunk)}"
        queue.connection.hset(BATCH_INDEX, mapping=dict.fromkeys(chunk, job_id))
        # A broadcast job paces itself for as long as its rows take: no timeout.
        queue.enqueue(SEND_BROADCAST_JOB, chunk, job_timeout=-1, **_options(job_id))
        job_ids.append(job_id)
    return job_ids


def batch_jobs(connection: Redis, notification_ids: Sequence[int]) -> dict[int, str]:
    """The broadcast job each of these rows was enqueued in, for those enqueued in one."""
    if not notification_ids:
        return {}
    found = connection.hmget(BATCH_INDEX, list(notification_ids))
    return {
        notification_id: job_id.decode() if isinstance(job_id, bytes) else str(job_id)
        for notification_id, job_id in zip(notification_ids, found, strict=True)
        if job_id is not None
    }


def forget_batch(connection: Redis, notification_ids: Sequence[int]) -> None:
    """Drop rows from the broadcast index (their job is done with them)."""
    if notification_ids:
        connection.hdel(BATCH_INDEX, *notification_ids)
