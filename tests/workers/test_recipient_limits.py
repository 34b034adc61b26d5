"""A carrier's limits per number (China's: a call a minute, five an hour, twenty a day): sends wait, never drop.

Through a real RQ worker on real Redis, with a fake carrier that declares the
limits on its capabilities.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import select

from hotline.carriers import Capabilities
from hotline.extensions import use_carrier
from hotline.models import Notification, utcnow
from hotline.services.outbox import dispatch
from tests.workers.test_jobs import FakeCarrier
from workers import runtime
from workers.sweeper import sweep_outbox


def _limited(**limits: int) -> FakeCarrier:
    return FakeCarrier(capabilities=Capabilities(ring_group=True, keypress_calls=True, free_text=True, **limits))


@pytest.fixture
def queue(redis_conn) -> Queue:
    return Queue("alerts", connection=redis_conn)


def _calls_to_one_number(session, count: int, *, age: float = 0.0) -> list[int]:
    rows = [
        Notification(
            sender="incident", incident_id=None, phone="+8613900000042", channel="call", purpose="recall",
            status="pending", dedupe_key=f"limits-test:{i}", created_at=utcnow() - timedelta(seconds=age),
        )
        for i in range(count)
    ]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def _work(queue: Queue) -> None:
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _status(session, notification_id: int) -> str:
    session.expire_all()
    status = session.scalar(select(Notification.status).where(Notification.id == notification_id))
    session.commit()
    return status


def _scheduled_in(queue: Queue, job_id: str) -> float:
    at = queue.scheduled_job_registry.get_scheduled_time(job_id)
    return (at - utcnow()).total_seconds()


def test_a_call_too_soon_after_the_last_waits_for_the_spacing_then_goes(app, session, queue):
    carrier = _limited(min_call_spacing=2)
    use_carrier(app, carrier)
    runtime.use_app(app)
    first, second = _calls_to_one_number(session, 2)
    dispatch(queue, call_ids=[first, second])

    _work(queue)

    assert [r["to"] for r in carrier.sent] == ["+8613900000042"], "only the first call went"
    assert _status(session, second) == "pending"
    job = Job.fetch(f"call-{second}", connection=queue.connection)
    assert job.get_status() == JobStatus.SCHEDULED
    assert 0 < _scheduled_in(queue, f"call-{second}") <= 4

    # RQ keeps scheduled times in whole seconds: wait for the one it names to pass.
    time.sleep(max(_scheduled_in(queue, f"call-{second}"), 0) + 1.1)
    queue.scheduled_job_registry.remove(job)
    queue.enqueue_job(job)  # as RQ's scheduler does once it falls due
    _work(queue)

    assert len(carrier.sent) == 2 and _status(session, second) == "queued", "the second call went, late but once"


def test_past_the_hourly_cap_a_call_waits_the_hour_and_the_sweeper_leaves_it_waiting(app, session, queue):
    carrier = _limited(max_calls_per_hour=1)
    use_carrier(app, carrier)
    runtime.use_app(app)
    # Written a while ago, so the sweeper would step in for a row nothing was going to send.
    first, second = _calls_to_one_number(session, 2, age=120)
    dispatch(queue, call_ids=[first, second])

    _work(queue)
    sweep_outbox()

    assert len(carrier.sent) == 1
    assert _status(session, second) == "pending", "put off, not dropped"
    assert 3500 < _scheduled_in(queue, f"call-{second}") <= 3602
    assert f"call-{second}" not in queue.job_ids, "the sweeper did not send it early"


def test_without_limits_calls_to_one_number_go_at_once(app, session, queue):
    carrier = _limited()
    use_carrier(app, carrier)
    runtime.use_app(app)
    ids = _calls_to_one_number(session, 3)
    dispatch(queue, call_ids=ids)

    _work(queue)

    assert len(carrier.sent) == 3
