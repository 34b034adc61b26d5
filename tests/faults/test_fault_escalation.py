"""Guarantee 6: escalation survives the death of the worker that runs RQ's scheduler.

The escalation check of an unanswered alert waits in RQ's scheduled
registry. The only worker, which runs the scheduler, is SIGKILLed before the
check falls due; RQ's scheduler lock then keeps any new worker from taking
over the scheduler for a minute. The officers must still be alerted, once,
soon after a new worker starts: the sweeper runs the overdue check itself,
and the fence in the database stops the stale scheduled check from firing
the level a second time when it finally runs.
"""

from __future__ import annotations

import time

import pytest
from rq import Queue
from sqlalchemy import select

from hotline.models import Incident, Notification, TimelineEvent
from tests.factories import make_group
from tests.support.faults import (
    ESCALATION_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)
from workers.jobs import check_escalation

pytestmark = pytest.mark.e2e


def test_officer_alerted_exactly_once_after_the_scheduler_worker_is_killed(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="5,600")
    caller, others = people(group)
    officers = [m for m in others if m.role in ("officer", "assistant")]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        stack.sim.dial(caller.phone, hangup_after=0)
        incident = stack.wait_for(lambda: stack.rows(lambda s: s.scalar(select(Incident))), what="the incident")
        check = f"escalation-{incident.id}-1"
        queue = Queue("alerts", connection=own_redis.client())
        stack.wait_for(lambda: check in queue.scheduled_job_registry.get_job_ids(), what="the scheduled check")

        stack.workers[0].kill()
        killed_at = time.monotonic()
        assert own_redis.client().exists("rq:scheduler-lock:alerts"), "the dead scheduler still holds RQ's lock"
        stack.start_worker()

        stack.wait_for(
            lambda: all(any(b.startswith(ESCALATION_PREFIX) for b in stack.accepted_sms(m.phone)) for m in officers),
            timeout=45, what="the officers' escalation SMS",
        )
        alerted_after = time.monotonic() - killed_at
        assert check in queue.scheduled_job_registry.get_job_ids(), "the stale check is still waiting for a scheduler"

        # What the stale check does when a scheduler finally takes it: run it for real on the worker.
        late = queue.enqueue(check_escalation, incident.id, 1, job_id=f"{check}-late")
        stack.wait_for(lambda: late.get_status(refresh=True) == "finished", what="the late check to run")
        assert late.return_value() == "level 1: not fired"
        time.sleep(2)

        fired = stack.rows(lambda s: s.scalars(select(TimelineEvent).where(TimelineEvent.kind == "escalated")).all())
        assert [e.detail["level"] for e in fired] == [1]
        for officer in officers:
            upgrades = [b for b in stack.accepted_sms(officer.phone) if b.startswith(ESCALATION_PREFIX)]
            assert len(upgrades) == 1, f"{officer.name} got {upgrades}"
        calls = stack.rows(
            lambda s: s.scalars(
                select(Notification.phone).where(
                    Notification.purpose == "escalation",
                    Notification.channel == "call",
                    Notification.via_dial.is_(False),
                )
            ).all()
        )
        assert sorted(calls) == sorted(m.phone for m in officers), "each officer is called once too"
        print(f"officers alerted {alerted_after:.1f} s after the kill (the check was due 5 s after the call)")
