"""Guarantee 2: Redis down when a call arrives loses nothing.

The tests' own ``redis-server`` is stopped for real while a worker is
running, a villager's call comes in, and the server is started again empty
(no persistence, as after a crash). The caller must still hear the group
ring at once, the incident and its outbox must be committed, and, with
nobody acting, the SMS must go out and the escalation check that could not
be scheduled must still fire once Redis is back.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from hotline.models import Incident, Notification
from tests.factories import call_sid, make_group
from tests.support.faults import (
    ALERT_PREFIX,
    ESCALATION_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e


def test_redis_down_when_a_call_arrives(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="6,600")
    caller, others = people(group)
    officers = [m for m in others if m.role in ("officer", "assistant")]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        stack.wait_for(lambda: own_redis.client().exists("hotline:sweeper"), what="the sweeper to run")
        own_redis.stop()

        sid = call_sid()
        started = time.monotonic()
        answer = stack.post("/twilio/voice", {"CallSid": sid, "From": caller.phone, "To": "+8657188880000"})
        elapsed = time.monotonic() - started
        assert answer.status_code == 200
        assert elapsed < 1.0, f"answered after {elapsed:.2f} s"
        rung = [n.text for n in ET.fromstring(answer.text).findall("Dial/Number")]
        assert sorted(rung) == sorted(m.phone for m in others), "the caller hears the whole group ring"

        incident = stack.rows(lambda s: s.scalar(select(Incident).where(Incident.call_sid == sid)))
        assert incident is not None
        pending = stack.rows(lambda s: s.scalar(select(func.count()).select_from(Notification).where(
            Notification.channel == "sms", Notification.status == "pending")))
        assert pending == len(others) + 1, "the whole outbox was committed"

        time.sleep(3)  # an outage long enough for the worker to notice
        own_redis.start()  # empty: whatever was queued is gone

        everyone = [m.phone for m in others] + [caller.phone]
        stack.wait_for(lambda: all(stack.accepted_sms(phone) for phone in everyone), timeout=60,
                       what="the fan-out after Redis came back")
        stack.wait_for(lambda: all(any(b.startswith(ESCALATION_PREFIX) for b in stack.accepted_sms(m.phone))
                                   for m in officers), timeout=60, what="the escalation that was never scheduled")
        time.sleep(3)
        for member in others:
            alerts = [b for b in stack.accepted_sms(member.phone) if b.startswith(ALERT_PREFIX)]
            assert len(alerts) == 1, f"{member.name} got {alerts}"
        for officer in officers:
            upgrades = [b for b in stack.accepted_sms(officer.phone) if b.startswith(ESCALATION_PREFIX)]
            assert len(upgrades) == 1, f"{officer.name} got {upgrades}"
        assert all(w.process.poll() is None for w in stack.workers), "the worker rode out the outage"


def test_redis_dying_under_a_busy_worker_loses_nothing(app, environ, session, tmp_path, own_redis):
    """RQ's worker quits when Redis fails in the middle of a job; ``hotline worker`` must start a new one."""
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    slow = others[1]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        # 2 s real: Redis dies while this send is in flight, and is still down when it ends.
        stack.sim.script(slow.phone, sms_delay=10)
        stack.sim.dial(caller.phone, hangup_after=0)
        stack.wait_for(lambda: any(e["phone"] == slow.phone for e in stack.sim.events(kind="sms.api_slow")),
                       what="the worker to be busy with a send")
        own_redis.stop()
        time.sleep(5)
        own_redis.start()  # empty: the queued rest of the fan-out is gone

        everyone = [m.phone for m in others] + [caller.phone]
        stack.wait_for(lambda: all(stack.accepted_sms(phone) for phone in everyone), timeout=60,
                       what="the fan-out after Redis came back")
        time.sleep(3)
        for phone in everyone:
            assert len(stack.accepted_sms(phone)) == 1, f"{phone} got {stack.accepted_sms(phone)}"
        worker = stack.workers[0]
        assert worker.process.poll() is None, f"hotline worker exited:\n{worker.log()[-3000:]}"
