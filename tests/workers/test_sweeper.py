"""The sweeper finds work Redis lost: stranded outbox rows, orphaned claims, missed escalation checks."""

from datetime import timedelta

from rq import Queue
from sqlalchemy import update

from hotline.models import Incident, Notification, utcnow
from hotline.services.incidents import open_incident
from tests.factories import call_sid, make_group
from workers.runtime import use_app
from workers.sweeper import LOCK_KEY, ensure_sweeping, sweep_outbox


def _open(app, session, delays="60,180"):
    from hotline.extensions import get_settings

    group = make_group(session, delays=delays)
    caller = next(m for m in group.members if m.role == "household")
    opened = open_incident(session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid())
    session.commit()  # committed, but never enqueued: as if Redis was down
    return opened


def _age(session, minutes):
    past = utcnow() - timedelta(minutes=minutes)
    session.execute(update(Notification).values(created_at=past))
    session.execute(update(Incident).values(opened_at=past))
    session.commit()


def test_rows_stranded_by_a_redis_outage_are_enqueued(app, session, redis_conn):
    opened = _open(app, session)
    _age(session, 1)
    use_app(app)
    sweep_outbox()
    queue = Queue("alerts", connection=redis_conn)
    expected = {f"sms-{i}" for i in opened.sms_ids}
    assert expected and expected <= set(queue.job_ids)
    # via_dial call rows are rung by <Dial>, never by a worker
    assert not any(job_id.startswith("call-") for job_id in queue.job_ids)
    # a second sweep finds the jobs alive and adds nothing
    before = len(queue.job_ids)
    sweep_outbox()
    assert len(queue.job_ids) == before


def test_fresh_rows_are_left_to_their_own_jobs(app, session, redis_conn):
    _open(app, session)
    use_app(app)
    sweep_outbox()
    assert not any(j.startswith("sms-") for j in Queue("alerts", connection=redis_conn).job_ids)


def test_claims_orphaned_by_a_dead_worker_are_released(app, session, redis_conn):
    opened = _open(app, session)
    stuck, recent = opened.sms_ids[:2]
    session.execute(
        update(Notification).where(Notification.id == stuck)
        .values(status="claimed", claimed_at=utcnow() - timedelta(minutes=5))
    )
    session.execute(update(Notification).where(Notification.id == recent).values(status="claimed", claimed_at=utcnow()))
    session.commit()
    use_app(app)
    sweep_outbox()
    session.expire_all()
    assert session.get(Notification, stuck).status == "pending"
    assert session.get(Notification, recent).status == "claimed"


def test_missed_escalation_checks_are_run_again(app, session, redis_conn):
    opened = _open(app, session, delays="60,180")
    _age(session, 2)  # level 1 was due a minute ago and nobody ran it
    use_app(app)
    sweep_outbox()
    queue = Queue("alerts", connection=redis_conn)
    scheduled = queue.scheduled_job_registry.get_job_ids() + queue.job_ids
    assert any(j.startswith(f"escalation-{opened.incident.id}-1-sweep") for j in scheduled)


def test_only_one_sweep_chain_runs(app, redis_conn):
    queue = Queue("alerts", connection=redis_conn)
    assert ensure_sweeping(queue) is True
    assert ensure_sweeping(queue) is False
    assert redis_conn.exists(LOCK_KEY)
    assert sum(1 for j in queue.job_ids if j.startswith("sweep-")) == 1


def test_sweep_schedules_the_next_sweep(app, session, redis_conn):
    use_app(app)
    sweep_outbox()
    queue = Queue("alerts", connection=redis_conn)
    assert any(j.startswith("sweep-") for j in queue.scheduled_job_registry.get_job_ids())


def test_a_retried_job_a_worker_just_took_is_left_to_it(app, session, redis_conn):
    opened = _open(app, session)
    _age(session, 1)
    use_app(app)
    sweep_outbox()  # enqueues the stranded rows' jobs
    queue = Queue("alerts", connection=redis_conn)
    job = queue.fetch_job(f"sms-{opened.sms_ids[0]}")
    # Its first try started a minute ago; RQ's scheduler enqueued the retry just now, and a worker has
    # taken it off the queue but not yet started it.
    job.started_at = utcnow() - timedelta(minutes=1)
    job.enqueued_at = utcnow()
    job.save()
    queue.remove(job)
    sweep_outbox()
    assert job.id not in queue.job_ids, "the worker that took the retry sends it; a second job would reset its backoff"
