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
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from rq import Queue, Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import Channel, Incident, Member, Notification, Purpose
from hotline.services.messages import Message

log = logging.getLogger(__name__)

# The jobs, by name: the workers' module is imported by the worker, never here.
SEND_SMS_JOB = "workers.jobs.send_sms"
PLACE_CALL_JOB = "workers.jobs.place_call"
CHECK_ESCALATION_JOB = "workers.jobs.check_escalation"
RECALL_MEMBERS_JOB = "workers.followups.recall_members"
CALL_BACK_CALLER_JOB = "workers.followups.call_back_caller"

# Seconds between retries of a transient carrier failure (throttling, the carrier's failures, timeouts).
RETRY_INTERVALS = [2, 5, 15, 30, 60, 120, 300]
# Failed jobs are kept a week, for a look at what went wrong.
FAILURE_TTL = 7 * 24 * 3600

INCIDENT = "incident"  # the sender kind of an alert's notifications


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


def schedule_later(queue: Queue, later: Later) -> None:
    """Enqueue a follow-up job to run after its delay (needs a worker running RQ's scheduler)."""
    options = _options(later.job_id)
    if later.delay <= 0:
        queue.enqueue(later.job, *later.args, **options)
    else:
        queue.enqueue_in(timedelta(seconds=later.delay), later.job, *later.args, **options)


def retry_policy() -> Retry:
    """Backoff with jitter, so a burst of throttled sends does not retry in lockstep.

    Intervals keep a tenth of a second: rounded to whole seconds, the first
    (2 s ± 25 %) would always come out as exactly 2 s for every job.
    """
    intervals: list[Any] = [max(1.0, round(seconds * random.uniform(0.75, 1.25), 1)) for seconds in RETRY_INTERVALS]
    # RQ's annotation says whole seconds, but its scheduler takes fractions as they are.
    return Retry(max=len(RETRY_INTERVALS), interval=intervals)


def _options(job_id: str) -> dict[str, Any]:
    # Never a ttl: an expired alert job would be dropped silently.
    return {"job_id": job_id, "retry": retry_policy(), "failure_ttl": FAILURE_TTL}


def enqueue_send(queue: Queue, channel: Channel | str, notification_id: int) -> None:
    """Enqueue the job that sends one notification."""
    job = SEND_SMS_JOB if channel == Channel.SMS else PLACE_CALL_JOB
    queue.enqueue(job, notification_id, **_options(send_job_id(channel, notification_id)))


def schedule_escalation(queue: Queue, incident_id: int, level: int, delay: float, *, tag: str = "") -> None:
    """Enqueue the check of ``level`` of an incident to run after ``delay`` seconds.

    A check that is already due is enqueued at once: ``enqueue_in`` with no
    delay would still wait for RQ's scheduler, which may be the thing that is
    missing. Later checks need a worker running the scheduler.
    """
    options = _options(escalation_job_id(incident_id, level, tag))
    if delay <= 0:
        queue.enqueue(CHECK_ESCALATION_JOB, incident_id, level, **options)
    else:
        queue.enqueue_in(timedelta(seconds=delay), CHECK_ESCALATION_JOB, incident_id, level, **options)


def dispatch(
    queue: Queue,
    *,
    sms_ids: Iterable[int] = (),
    call_ids: Iterable[int] = (),
    escalation: EscalationCheck | None = None,
) -> None:
    """Enqueue committed work: calls first (they take longest to ring), then SMS, then a check.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable. The rows stay
            ``pending`` in the database, where the sweeper finds them.
    """
    for notification_id in call_ids:
        enqueue_send(queue, Channel.CALL, notification_id)
    for notification_id in sms_ids:
        enqueue_send(queue, Channel.SMS, notification_id)
    if escalation is not None:
        schedule_escalation(queue, escalation.incident_id, escalation.level, escalation.delay, tag=escalation.tag)


def dispatch_work(queue: Queue, work: Work) -> None:
    """:func:`dispatch` for a :class:`Work`.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable; the sweeper finds the rows.
    """
    dispatch(queue, sms_ids=work.sms_ids, call_ids=work.call_ids, escalation=work.escalation)
    for later in work.later:
        schedule_later(queue, later)


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
