"""Guarantee 1: a worker SIGKILLed mid fan-out loses nobody's SMS and sends nobody two.

The worker (with its work horse and scheduler) is killed for real while a
send is in flight at the carrier, twice over:

- once while the carrier is slowly refusing a request: the row is left
  ``claimed`` with no SID and nobody will ever say what became of it, so
  the sweeper must presume the claim orphaned and send it again;
- once while the carrier has accepted an SMS but not yet answered: the
  carrier's own status callback says it went out, so sending it again would
  be the duplicate that villagers complain about.

New workers are started after each kill, as a supervisor would restart them.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from hotline.models import Notification
from tests.factories import make_group
from tests.support.faults import (
    ALERT_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e


def _row(stack, phone: str) -> Notification | None:
    return stack.rows(lambda s: s.scalar(
        select(Notification).where(Notification.phone == phone, Notification.channel == "sms")
    ))


def test_worker_killed_mid_fan_out_every_member_still_gets_exactly_one_sms(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    refused, accepted = others[2], others[5]
    # One send at a time, as this story is told: the first worker dies inside the refused request
    # before it reaches the accepted one (sends side by side: tests/faults/test_fault_send_kill.py).
    one_at_a_time = {"HOTLINE_SEND_CONCURRENCY": "1"}
    with fault_stack(environ, tmp_path, redis_url=own_redis.url, extra_env=one_at_a_time) as stack:
        # 20 simulated seconds = 4 s real: time enough to kill the worker inside the request.
        stack.sim.script(refused.phone, sms_delay=20, sms_delay_times=1, sms_error=20503, sms_error_times=1)
        stack.sim.script(accepted.phone, sms_delay=20, sms_delay_times=1)
        first = stack.workers[0]
        stack.sim.dial(caller.phone, hangup_after=0)

        stack.wait_for(lambda: any(e["phone"] == refused.phone for e in stack.sim.events(kind="sms.api_slow")),
                       what="the worker to wait on the slow, failing carrier")
        before = {m.phone for m in others if stack.accepted_sms(m.phone)}
        assert before, "some SMS went out before the kill"
        first.kill()
        assert (row := _row(stack, refused.phone)) is not None and row.status == "claimed"

        second = stack.start_worker()
        stack.wait_for(lambda: any(e["phone"] == accepted.phone for e in stack.sim.events(kind="sms.api_slow")),
                       what="the second worker to wait on the slow carrier that accepted the SMS")
        second.kill()
        stack.start_worker()

        everyone = [m.phone for m in others] + [caller.phone]
        started = time.monotonic()
        stack.wait_for(
            lambda: all(stack.accepted_sms(phone) for phone in everyone)
            and stack.rows(lambda s: s.scalar(select(Notification).where(Notification.phone == refused.phone,
                                                                     Notification.channel == "sms")).status)
            not in ("claimed", "pending"),
            timeout=75, what="every member's SMS after two kills",
        )
        recovered_in = time.monotonic() - started
        time.sleep(3)  # anything sent twice would be sent by now: claims time out after 15 s, sweeps run every second

        for member in others:
            bodies = stack.accepted_sms(member.phone)
            assert len(bodies) == 1 and bodies[0].startswith(ALERT_PREFIX), f"{member.name} got {bodies}"
        assert len(stack.accepted_sms(caller.phone)) == 1
        refused_row, accepted_row = _row(stack, refused.phone), _row(stack, accepted.phone)
        assert refused_row.attempts == 2 and refused_row.provider_sid
        assert accepted_row.attempts == 1 and accepted_row.provider_sid, "the lost answer was not sent again"
        print(f"recovered {recovered_in:.1f} s after the second kill")
