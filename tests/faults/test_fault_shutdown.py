"""Guarantee 8: SIGTERM lets the running job finish, and a deploy loses nothing.

A deploy stops the old worker with SIGTERM while an SMS is in flight at a
slow carrier. systemd (KillMode=control-group) and Heroku send it to every
process of the service, the work horse included; Docker and Kubernetes send
it to the main process only. Either way the send must complete and be
recorded, the worker must then exit cleanly, the jobs it had not started
must still be waiting in Redis, and the new worker must send each of them
once.
"""

from __future__ import annotations

import time

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import select

from hotline.models import Notification
from tests.factories import make_group
from tests.support.faults import (
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("every_process", [True, False], ids=["systemd-heroku", "docker"])
def test_sigterm_lets_the_send_in_flight_finish_and_nothing_is_lost(
    app, environ, session, tmp_path, own_redis, every_process
):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    slow = others[1]
    # One job at a time, so the rest of the fan-out is still queued when the stop comes
    # (with sends side by side, the whole fan-out would be in hand and finish).
    one_at_a_time = {"HOTLINE_SEND_CONCURRENCY": "1"}
    with fault_stack(environ, tmp_path, redis_url=own_redis.url, extra_env=one_at_a_time) as stack:
        # 20 simulated seconds = 4 s real: the carrier accepts at once but answers slowly.
        stack.sim.script(slow.phone, sms_delay=20)
        old = stack.workers[0]
        stack.sim.dial(caller.phone, hangup_after=0)
        stack.wait_for(lambda: any(e["phone"] == slow.phone for e in stack.sim.events(kind="sms.api_slow")),
                       what="the worker to wait on the slow carrier")

        old.terminate(every_process=every_process)
        started = time.monotonic()
        old.process.wait(timeout=30)
        stopped_in = time.monotonic() - started
        assert old.process.returncode == 0, old.log()[-3000:]
        assert "terminated unexpectedly" not in old.log(), old.log()[-3000:]

        row = stack.rows(lambda s: s.scalar(
            select(Notification).where(Notification.phone == slow.phone, Notification.channel == "sms")))
        assert row.provider_sid and row.status in ("queued", "sent", "delivered"), "the send was recorded"
        assert row.attempts == 1
        job = Job.fetch(f"sms-{row.id}", connection=own_redis.client())
        assert job.get_status() == JobStatus.FINISHED and job.return_value() == row.provider_sid, (
            f"the job in hand ran to its end ({job.get_status()}, stopped after {stopped_in:.1f} s)"
        )
        waiting = stack.rows(lambda s: s.scalars(
            select(Notification.id).where(Notification.channel == "sms", Notification.status == "pending")).all())
        assert waiting, "the rest of the fan-out was still waiting when the old worker stopped"

        stack.start_worker()  # the deploy's new worker
        everyone = [m.phone for m in others] + [caller.phone]
        stack.wait_for(lambda: all(stack.accepted_sms(phone) for phone in everyone), what="the rest of the fan-out")
        time.sleep(2)
        for phone in everyone:
            assert len(stack.accepted_sms(phone)) == 1, f"{phone} got {stack.accepted_sms(phone)}"
