"""The RQ jobs: in-process, and through a real RQ worker on real Redis.

The carrier is outside the project, so a fake one stands in for it: it records
every request and fails the ones a test asks it to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import select

from hotline.carriers import Capabilities, CarrierError, OutboundSms, Submitted
from hotline.carriers.base import CallPrompt
from hotline.carriers.twilio.codes import failure_reason
from hotline.extensions import get_settings, queues, use_carrier
from hotline.models import Incident, IncidentStatus, Member, Notification, Role, TimelineEvent, utcnow
from hotline.services.incidents import open_incident
from hotline.services.outbox import RETRY_INTERVALS, dispatch, schedule_escalation
from tests.factories import make_group, message_sid
from workers import jobs, runtime
from workers.jobs import check_escalation, place_call, send_sms


def refusal(message: str, *, code: int | None = None, http_status: int | None = None) -> CarrierError:
    """A refusal as the Twilio carrier raises it: its code mapped to the project's reason."""
    return CarrierError(message, reason=failure_reason(code, http_status), code=code, http_status=http_status)


EVERY_CAPABILITY = Capabilities(ring_group=True, keypress_calls=True, free_text=True)


@dataclass
class FakeCarrier:
    """Implements :class:`hotline.carriers.Carrier`; ``fail_next`` queues refusals."""

    name: str = "fake"
    capabilities: Capabilities = EVERY_CAPABILITY
    attempts: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    refusals: list[CarrierError] = field(default_factory=list)

    def fail_next(self, *errors: CarrierError) -> None:
        self.refusals.extend(errors)

    def _submit(self, kind: str, prefix: str, **request) -> Submitted:
        request["kind"] = kind
        self.attempts.append(request)
        if self.refusals:
            raise self.refusals.pop(0)
        submitted = Submitted(sid=prefix + secrets.token_hex(16), status="queued")
        self.sent.append(dict(request, sid=submitted.sid))
        return submitted

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        return self._submit("sms", "SM", to=message.to, body=message.text, reference=reference)

    def place_call(self, *, to: str, reference: int, timeout: int, prompt: CallPrompt | None = None) -> Submitted:
        return self._submit("call", "CA", to=to, reference=reference, timeout=timeout)


@dataclass
class StubJob:
    """What ``_record_failure`` asks of the current RQ job."""

    should_retry: bool


@pytest.fixture
def carrier(app, monkeypatch) -> FakeCarrier:
    fake = FakeCarrier()
    use_carrier(app, fake)
    runtime.use_app(app)
    return fake


@pytest.fixture
def settings(app):
    return get_settings(app)


@pytest.fixture
def queue(redis_conn) -> Queue:
    return Queue("alerts", connection=redis_conn)


def _fresh(session) -> None:
    session.commit()
    session.expire_all()


def _sms_incident(session, settings, *, opened_ago: float = 0.0):
    """An incident opened by SMS: alert SMS to everyone else and REST calls to ring them."""
    group = make_group(session)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    opened = open_incident(
        session, settings, caller_phone=caller.phone, source="sms", message_sid=message_sid(),
        now=utcnow() - timedelta(seconds=opened_ago),
    )
    session.commit()
    assert opened.sms_ids and opened.call_ids
    return opened


def _row(session, notification_id: int) -> Notification:
    _fresh(session)
    return session.get(Notification, notification_id)


def _events(session, notification_id: int) -> list[TimelineEvent]:
    _fresh(session)
    return list(
        session.scalars(
            select(TimelineEvent).where(TimelineEvent.notification_id == notification_id).order_by(TimelineEvent.id)
        )
    )


def _work(queue: Queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _release_scheduled(queue: Queue) -> list[str]:
    """Enqueue every scheduled job now, as the scheduler would once they fall due."""
    registry = queue.scheduled_job_registry
    released = registry.get_job_ids()
    for job_id in released:
        job = Job.fetch(job_id, connection=queue.connection)
        registry.remove(job)
        queue.enqueue_job(job)
    return released


TRANSIENT = [
    pytest.param(lambda: refusal("too many requests", code=20429, http_status=429), id="20429"),
    pytest.param(lambda: refusal("too many requests", http_status=429), id="429"),
    pytest.param(lambda: refusal("bad gateway", http_status=502), id="502"),
    pytest.param(lambda: refusal("timed out"), id="timeout"),
]


# --- in-process ----------------------------------------------------------------------------------


def test_send_sms_stores_the_sid_and_status(session, settings, carrier):
    opened = _sms_incident(session, settings)
    notification_id = opened.sms_ids[0]
    expected = session.get(Notification, notification_id)

    sid = send_sms(notification_id)

    [request] = carrier.sent
    assert request["sid"] == sid and sid.startswith("SM")
    assert (request["to"], request["body"]) == (expected.phone, expected.body)
    assert request["reference"] == notification_id
    row = _row(session, notification_id)
    assert (row.status, row.provider_sid, row.attempts) == ("queued", sid, 1)
    assert row.sent_at is not None and row.claimed_at is not None and row.error_code is None
    [event] = _events(session, notification_id)
    assert event.kind == "sms_queued" and event.incident_id == opened.incident.id
    assert event.detail["sid"] == sid and event.member_id == row.member_id


def test_place_call_screens_the_answerer(session, settings, carrier):
    opened = _sms_incident(session, settings)
    notification_id = opened.call_ids[0]

    sid = place_call(notification_id)

    [request] = carrier.sent
    assert request["sid"] == sid and sid.startswith("CA")
    assert request["to"] == session.get(Notification, notification_id).phone
    assert request["reference"] == notification_id
    assert request["timeout"] == settings.ring_timeout
    row = _row(session, notification_id)
    assert (row.status, row.provider_sid) == ("queued", sid)
    assert [e.kind for e in _events(session, notification_id)] == ["call_queued"]


def test_running_a_job_twice_sends_once(session, settings, carrier):
    opened = _sms_incident(session, settings)
    sms_id, call_id = opened.sms_ids[0], opened.call_ids[0]
    first = send_sms(sms_id)
    assert send_sms(sms_id) == "skipped: not pending"
    place_call(call_id)
    assert place_call(call_id) == "skipped: not pending"
    assert [r["kind"] for r in carrier.attempts] == ["sms", "call"]
    row = _row(session, sms_id)
    assert (row.provider_sid, row.attempts) == (first, 1)
    assert len(_events(session, sms_id)) == 1


def test_a_status_callback_that_beat_the_job_is_not_moved_back(session, settings, carrier, client):
    from tests.factories import signed_post

    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]

    def fast_carrier(message, *, reference):
        submitted = Submitted(sid="SM" + secrets.token_hex(16), status="queued")
        delivered = {"MessageSid": submitted.sid, "MessageStatus": "delivered"}
        signed_post(client, f"/twilio/sms-status?n={sms_id}", delivered)
        return submitted

    carrier.send_sms = fast_carrier  # type: ignore[method-assign]
    sid = send_sms(sms_id)
    row = _row(session, sms_id)
    assert (row.status, row.provider_sid) == ("delivered", sid)


@pytest.mark.parametrize("error", TRANSIENT)
def test_transient_error_is_raised_while_retries_remain(session, settings, carrier, monkeypatch, error):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    refusal = error()
    assert refusal.transient
    carrier.fail_next(refusal)
    monkeypatch.setattr(jobs, "get_current_job", lambda: StubJob(should_retry=True))

    with pytest.raises(CarrierError) as raised:
        send_sms(sms_id)
    assert raised.value is refusal

    row = _row(session, sms_id)
    assert (row.status, row.provider_sid, row.attempts) == ("pending", None, 1)
    assert row.error_code == refusal.code
    assert _events(session, sms_id) == []

    sid = send_sms(sms_id)
    row = _row(session, sms_id)
    assert (row.status, row.provider_sid, row.attempts) == ("queued", sid, 2)
    assert len(carrier.attempts) == 2 and len(carrier.sent) == 1


def test_transient_call_error_is_retried_too(session, settings, carrier, monkeypatch):
    opened = _sms_incident(session, settings)
    call_id = opened.call_ids[0]
    carrier.fail_next(refusal("service unavailable", http_status=503))
    monkeypatch.setattr(jobs, "get_current_job", lambda: StubJob(should_retry=True))
    with pytest.raises(CarrierError):
        place_call(call_id)
    assert _row(session, call_id).status == "pending"
    place_call(call_id)
    assert _row(session, call_id).status == "queued"


def test_transient_error_on_the_last_try_is_recorded_as_failed(session, settings, carrier, monkeypatch):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    carrier.fail_next(refusal("bad gateway", http_status=502))
    monkeypatch.setattr(jobs, "get_current_job", lambda: StubJob(should_retry=False))

    result = send_sms(sms_id)

    assert result.startswith("failed:")
    row = _row(session, sms_id)
    assert (row.status, row.error_code) == ("failed", None)
    assert "bad gateway" in row.error_message
    assert [e.kind for e in _events(session, sms_id)] == ["sms_failed"]


@pytest.mark.parametrize("job", [None, StubJob(should_retry=True)])
def test_permanent_error_is_recorded_and_not_raised(session, settings, carrier, monkeypatch, job):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    carrier.fail_next(refusal("The 'To' number is not a valid phone number.", code=21211, http_status=400))
    monkeypatch.setattr(jobs, "get_current_job", lambda: job)

    result = send_sms(sms_id)

    assert result.startswith("failed:") and "21211" in result
    row = _row(session, sms_id)
    assert (row.status, row.error_code, row.provider_sid, row.attempts) == ("failed", 21211, None, 1)
    assert "not a valid phone number" in row.error_message
    [event] = _events(session, sms_id)
    assert event.kind == "sms_failed" and event.detail["error_code"] == 21211
    # Failed for good: running it again does not send.
    assert send_sms(sms_id) == "skipped: not pending"
    assert len(carrier.attempts) == 1


def test_permanent_call_error_is_recorded(session, settings, carrier):
    opened = _sms_incident(session, settings)
    call_id = opened.call_ids[0]
    carrier.fail_next(refusal("unroutable", code=21612, http_status=400))
    assert place_call(call_id).startswith("failed:")
    row = _row(session, call_id)
    assert (row.status, row.error_code) == ("failed", 21612)
    assert [e.kind for e in _events(session, call_id)] == ["call_failed"]


def test_21610_marks_the_member_opted_out(session, settings, carrier):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    phone = session.get(Notification, sms_id).phone
    carrier.fail_next(refusal("Attempt to send to unsubscribed recipient", code=21610, http_status=400))

    send_sms(sms_id)

    row = _row(session, sms_id)
    assert (row.status, row.error_code) == ("failed", 21610)
    flags = session.scalars(select(Member.opted_out).where(Member.phone == phone)).all()
    assert flags == [True]
    others = session.scalars(select(Member.opted_out).where(Member.phone != phone)).all()
    assert not any(others)


def test_check_escalation_fires_enqueues_and_schedules_the_next_level(session, settings, carrier, queue):
    opened = _sms_incident(session, settings, opened_ago=61)
    incident_id = opened.incident.id

    assert check_escalation(incident_id, 1) == "level 1: fired"

    _fresh(session)
    incident = session.get(Incident, incident_id)
    assert incident.escalation_level == 1
    escalations = session.scalars(
        select(Notification).where(Notification.incident_id == incident_id, Notification.purpose == "escalation")
    ).all()
    assert len(escalations) == 4  # SMS and a call to the officer and to the assistant
    expected = {f"{n.channel}-{n.id}" for n in escalations}
    assert expected <= set(queue.job_ids)
    registry = queue.scheduled_job_registry
    assert registry.get_job_ids() == [f"escalation-{incident_id}-2"]
    due = registry.get_scheduled_time(f"escalation-{incident_id}-2")
    assert abs((due - (incident.opened_at + timedelta(seconds=240))).total_seconds()) < 5
    assert carrier.attempts == []  # the job enqueues; it sends nothing itself

    assert check_escalation(incident_id, 1) == "level 1: not fired"
    _fresh(session)
    assert len(session.scalars(select(Notification).where(Notification.purpose == "escalation")).all()) == 4


def test_early_check_is_rescheduled_under_a_new_id(session, settings, carrier, queue):
    opened = _sms_incident(session, settings, opened_ago=20)
    incident_id = opened.incident.id

    assert check_escalation(incident_id, 1) == "level 1: not fired"

    [job_id] = queue.scheduled_job_registry.get_job_ids()
    assert job_id.startswith(f"escalation-{incident_id}-1-at-")
    due = queue.scheduled_job_registry.get_scheduled_time(job_id)
    assert 25 < (due - utcnow()).total_seconds() <= 41
    assert queue.job_ids == []
    _fresh(session)
    assert session.get(Incident, incident_id).escalation_level == 0


def test_check_escalation_of_an_acknowledged_or_missing_incident(session, settings, carrier, queue):
    opened = _sms_incident(session, settings, opened_ago=600)
    opened.incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()
    assert check_escalation(opened.incident.id, 1) == "level 1: not fired"
    assert check_escalation(999999, 1) == "skipped: no such incident"
    assert queue.job_ids == [] and queue.scheduled_job_registry.get_job_ids() == []


@pytest.mark.parametrize("channel", ["sms", "call"])
def test_escalation_answered_while_it_waited_is_canceled(session, settings, carrier, monkeypatch, channel):
    from hotline.services.escalation import escalate
    from hotline.services.responses import record_response

    opened = _sms_incident(session, settings, opened_ago=61)
    result = escalate(session, settings, opened.incident, 1)
    session.commit()
    notification_id = (result.sms_ids if channel == "sms" else result.call_ids)[0]
    job = send_sms if channel == "sms" else place_call
    # The first try hits a rate limit and is retried later...
    carrier.fail_next(refusal("too many requests", code=20429, http_status=429))
    monkeypatch.setattr(jobs, "get_current_job", lambda: StubJob(should_retry=True))
    with pytest.raises(CarrierError):
        job(notification_id)
    # ...and meanwhile a member replies 1.
    responder = next(
        m for m in opened.incident.group.members if m.role == Role.HOUSEHOLD and m.phone != opened.incident.caller_phone
    )
    assert record_response(
        session,
        settings,
        opened.incident,
        phone=responder.phone,
        channel="sms",
        answer="accept",
        source_sid=message_sid(),
    ).acknowledged
    session.commit()

    assert job(notification_id).startswith("canceled")

    assert len(carrier.attempts) == 1 and carrier.sent == []
    row = _row(session, notification_id)
    assert row.status == "canceled"
    assert [e.kind for e in _events(session, notification_id)] == [f"{channel}_canceled"]
    # The "on the way" notices for the same incident still go out.
    notice = session.scalars(select(Notification).where(Notification.purpose == "ack_notice")).first()
    assert send_sms(notice.id).startswith("SM")


def test_alerts_are_still_sent_after_an_acknowledgement(session, settings, carrier):
    opened = _sms_incident(session, settings)
    opened.incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()
    assert send_sms(opened.sms_ids[0]).startswith("SM")
    assert place_call(opened.call_ids[0]).startswith("CA")


# --- through a real RQ worker on real Redis --------------------------------------------------


def test_worker_sends_every_enqueued_notification_once(session, settings, carrier, queue):
    opened = _sms_incident(session, settings)
    dispatch(queue, sms_ids=opened.sms_ids, call_ids=opened.call_ids)
    # Enqueued again (a sweeper, a retried webhook): the database claim keeps it to one send.
    dispatch(queue, sms_ids=opened.sms_ids, call_ids=opened.call_ids)

    _work(queue)

    assert sorted(r["kind"] for r in carrier.sent) == sorted(
        ["sms"] * len(opened.sms_ids) + ["call"] * len(opened.call_ids)
    )
    assert len(carrier.attempts) == len(carrier.sent)
    _fresh(session)
    rows = session.scalars(select(Notification).where(Notification.id.in_(opened.sms_ids + opened.call_ids))).all()
    assert all(row.status == "queued" and row.provider_sid for row in rows)
    assert {row.provider_sid for row in rows} == {r["sid"] for r in carrier.sent}
    job = Job.fetch(f"sms-{opened.sms_ids[0]}", connection=queue.connection)
    assert job.get_status() == JobStatus.FINISHED
    # The id was queued twice, so RQ ran it twice: the second run found nothing pending.
    assert job.return_value() == "skipped: not pending"
    assert queue.failed_job_registry.get_job_ids() == []


def test_worker_retries_a_transient_error_then_succeeds(session, settings, carrier, queue):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    carrier.fail_next(refusal("too many requests", code=20429, http_status=429))
    dispatch(queue, sms_ids=[sms_id])

    _work(queue)

    row = _row(session, sms_id)
    assert (row.status, row.error_code, row.provider_sid) == ("pending", 20429, None)
    job = Job.fetch(f"sms-{sms_id}", connection=queue.connection)
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == len(RETRY_INTERVALS) - 1
    assert queue.scheduled_job_registry.get_job_ids() == [f"sms-{sms_id}"]
    assert queue.failed_job_registry.get_job_ids() == []

    assert _release_scheduled(queue) == [f"sms-{sms_id}"]
    _work(queue)

    row = _row(session, sms_id)
    assert (row.status, row.attempts) == ("queued", 2)
    assert row.provider_sid == carrier.sent[0]["sid"]
    assert len(carrier.attempts) == 2 and len(carrier.sent) == 1
    job = Job.fetch(f"sms-{sms_id}", connection=queue.connection)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == row.provider_sid


def test_worker_gives_up_after_the_last_retry(session, settings, carrier, queue):
    opened = _sms_incident(session, settings)
    call_id = opened.call_ids[0]
    carrier.fail_next(*[refusal("bad gateway", http_status=502) for _ in range(len(RETRY_INTERVALS) + 1)])
    dispatch(queue, call_ids=[call_id])

    _work(queue)
    for _ in RETRY_INTERVALS:
        assert _row(session, call_id).status == "pending"
        _release_scheduled(queue)
        _work(queue)

    row = _row(session, call_id)
    assert (row.status, row.attempts) == ("failed", len(RETRY_INTERVALS) + 1)
    assert [e.kind for e in _events(session, call_id)] == ["call_failed"]
    assert queue.scheduled_job_registry.get_job_ids() == []
    assert carrier.sent == []


def test_worker_records_a_permanent_error_without_failing_the_job(session, settings, carrier, queue):
    opened = _sms_incident(session, settings)
    sms_id = opened.sms_ids[0]
    carrier.fail_next(refusal("invalid To", code=21211, http_status=400))
    dispatch(queue, sms_ids=[sms_id])

    _work(queue)

    row = _row(session, sms_id)
    assert (row.status, row.error_code) == ("failed", 21211)
    job = Job.fetch(f"sms-{sms_id}", connection=queue.connection)
    assert job.get_status() == JobStatus.FINISHED
    assert queue.scheduled_job_registry.get_job_ids() == [] and queue.failed_job_registry.get_job_ids() == []


def test_worker_runs_escalation_checks_and_their_notifications(session, settings, carrier, queue):
    opened = _sms_incident(session, settings, opened_ago=300)
    incident_id = opened.incident.id
    schedule_escalation(queue, incident_id, 1, 0)
    # A check already due is enqueued at once, not left for RQ's scheduler.
    assert queue.job_ids == [f"escalation-{incident_id}-1"] and _release_scheduled(queue) == []

    _work(queue)  # the check fires level 1 and sends its SMS and calls; level 2 was already due, so it runs too

    officers = {m.phone for m in opened.incident.group.members if m.role in (Role.OFFICER, Role.ASSISTANT)}
    duty = "+861088880000"
    caller = opened.incident.caller_phone
    assert {(r["kind"], r["to"]) for r in carrier.sent if r["to"] not in (duty, caller)} == {
        (k, p) for k in ("sms", "call") for p in officers
    }
    assert [(r["kind"], r["to"]) for r in carrier.sent if r["to"] == duty] == [("call", duty), ("sms", duty)]
    # The caller is told when the station's duty line has their alert.
    assert [(r["kind"], r["to"]) for r in carrier.sent if r["to"] == caller] == [("sms", caller)]
    _fresh(session)
    incident = session.get(Incident, incident_id)
    assert incident.escalation_level == 2
    escalations = session.scalars(select(Notification).where(Notification.purpose == "escalation")).all()
    assert len(escalations) == 6 and all(n.status == "queued" for n in escalations)
    # Never silent: past the duty line, the officers and the duty line are called again later.
    assert queue.scheduled_job_registry.get_job_ids() == [f"escalation-{incident_id}-3"]


class RedisGoneOnce(Redis):
    """A Redis connection whose first pipelined write fails as if Redis went away; the ones after go through."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gone = True

    def pipeline(self, *args, **kwargs):
        if self.gone:
            self.gone = False
            raise RedisConnectionError("Redis went away")
        return super().pipeline(*args, **kwargs)


def test_escalation_check_retried_after_a_redis_failure_finishes_the_work(
    app, session, settings, carrier, queue, redis_url
):
    opened = _sms_incident(session, settings, opened_ago=61)
    incident_id = opened.incident.id
    # The app's own Redis connection, the one jobs enqueue their work through; the worker keeps its own.
    queues.state(app).connection = RedisGoneOnce.from_url(redis_url)
    schedule_escalation(queue, incident_id, 1, 0)
    _release_scheduled(queue)

    _work(queue)  # fires level 1 and commits, then cannot enqueue its work

    _fresh(session)
    assert session.get(Incident, incident_id).escalation_level == 1
    escalations = session.scalars(select(Notification).where(Notification.purpose == "escalation")).all()
    assert len(escalations) == 4 and all(n.status == "pending" for n in escalations)
    assert carrier.attempts == []
    assert queue.scheduled_job_registry.get_job_ids() == [f"escalation-{incident_id}-1"]  # RQ's retry

    _release_scheduled(queue)
    _work(queue)  # the retry enqueues what the first try could not, and the same burst sends it

    officers = {m.phone for m in opened.incident.group.members if m.role in (Role.OFFICER, Role.ASSISTANT)}
    assert sorted((r["kind"], r["to"]) for r in carrier.sent) == sorted(
        (k, p) for k in ("sms", "call") for p in officers
    )
    _fresh(session)
    assert len(session.scalars(select(Notification).where(Notification.purpose == "escalation")).all()) == 4
    assert [
        e.detail["level"] for e in session.scalars(select(TimelineEvent).where(TimelineEvent.kind == "escalated"))
    ] == [1]
    assert queue.scheduled_job_registry.get_job_ids() == [f"escalation-{incident_id}-2"]


def test_jobs_run_in_the_app_the_worker_was_given_last(app, environ):
    from hotline.app import create_app
    from hotline.extensions import db

    runtime.use_app(app)
    with runtime.job_context() as first:
        assert first.app is app
        first_carrier = first.carrier

    other = create_app(environ)
    try:
        runtime.use_app(other)
        with runtime.job_context() as second:
            assert second.app is other
            assert second.settings is get_settings(other)
            assert second.session.get_bind() is db.state(other).engine
            assert second.carrier is not first_carrier
            assert second.carrier is second.carrier  # built once, not per job
    finally:
        runtime.use_app(app)  # not left on an app whose database is closed
        db.state(other).engine.dispose()


def test_a_forked_worker_drops_the_database_pool_it_inherited_once(app, monkeypatch):
    import os

    from hotline.extensions import db

    disposed: list = []
    monkeypatch.setattr(db, "dispose", disposed.append)
    runtime.use_app(app)
    assert runtime.worker_app() is app
    assert disposed == []

    # What a child of the parent process sees. The process id is the process's, not the app's, so
    # the runtime's record of it is set by hand rather than forking the test run.
    monkeypatch.setattr(runtime, "_pid", os.getpid() + 1)

    assert runtime.worker_app() is app
    assert runtime.worker_app() is app
    assert disposed == [app]
