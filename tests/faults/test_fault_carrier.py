"""Guarantee 4: carrier errors are retried, or not, as they deserve; each member gets one SMS.

The carrier simulator is scripted to fail for real over HTTP while real
workers send: throttling (20429 / HTTP 429), server errors (HTTP 500, 503),
a request that times out with nothing sent, and one that times out after
the carrier took the message (its answer lost on the way back). Then a
member who texted STOP (21610), and STOP/START sent twice over.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import select

from hotline.models import BroadcastOptOut, InboundMessage, Member, Notification
from hotline.services.outbox import RETRY_INTERVALS
from tests.factories import make_group, message_sid
from tests.support.faults import (
    ALERT_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e


def _tries(stack, phone: str) -> list[tuple[str, datetime]]:
    """Every request to text ``phone`` the carrier answered: refused or queued, with its wall-clock time."""
    return [(e["kind"], datetime.fromisoformat(e["time"])) for e in stack.sim.events()
            if e["kind"] in ("sms.refused", "sms.queued") and e.get("phone") == phone]


def _sms_row(stack, phone: str, purpose: str = "alert") -> Notification | None:
    return stack.rows(lambda s: s.scalar(select(Notification).where(
        Notification.phone == phone, Notification.channel == "sms", Notification.purpose == purpose)))


def test_transient_errors_and_timeouts_are_retried_with_backoff_and_each_member_gets_one_sms(
    app, environ, session, tmp_path, own_redis
):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    throttled, error_500, error_503, lost, slow_refusal = others[:5]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url, workers=2) as stack:
        stack.sim.script(throttled.phone, sms_error=20429, sms_error_times=2)
        stack.sim.script(error_500.phone, sms_error=20500, sms_error_times=1)
        stack.sim.script(error_503.phone, sms_error=20503, sms_error_times=1)
        # 60 simulated seconds = 12 s real, past the worker's 10 s timeout for a carrier request.
        stack.sim.script(lost.phone, sms_delay=60, sms_delay_times=1)
        stack.sim.script(slow_refusal.phone, sms_delay=60, sms_delay_times=1, sms_error=20503, sms_error_times=1)
        stack.sim.dial(caller.phone, hangup_after=0)

        everyone = [m.phone for m in others] + [caller.phone]
        stack.wait_for(lambda: all(stack.accepted_sms(p) for p in everyone), timeout=60, what="every SMS")
        stack.wait_for(lambda: all(_sms_row(stack, m.phone).status == "delivered" for m in others), what="deliveries")
        time.sleep(3)  # a second copy would be on its way by now (the first retry waits about 2 s)

        for member in others:
            alerts = stack.accepted_sms(member.phone)
            assert len(alerts) == 1 and alerts[0].startswith(ALERT_PREFIX), f"{member.name} got {alerts}"
        assert len(stack.accepted_sms(caller.phone)) == 1

        tries = _tries(stack, throttled.phone)
        assert [kind for kind, _ in tries] == ["sms.refused", "sms.refused", "sms.queued"]
        # At least the job's own backoff, less the second RQ rounds a retry's time down to
        # (more when both workers were busy with the slow carrier).
        waits = [(b - a).total_seconds() for (_, a), (_, b) in itertools.pairwise(tries)]
        throttled_job = Job.fetch(f"sms-{_sms_row(stack, throttled.phone).id}", connection=own_redis.client())
        backoff = throttled_job.retry_intervals[:2]
        assert all(wait > interval - 1.0 for wait, interval in zip(waits, backoff, strict=True)), (waits, backoff)
        for member in (error_500, error_503):
            assert [kind for kind, _ in _tries(stack, member.phone)] == ["sms.refused", "sms.queued"]
        # The slow refusal is logged when the carrier finally answers, which may be after the retry went through.
        assert sorted(kind for kind, _ in _tries(stack, slow_refusal.phone)) == ["sms.queued", "sms.refused"]
        assert [kind for kind, _ in _tries(stack, lost.phone)] == ["sms.queued"], "the lost answer was not sent again"
        lost_row = _sms_row(stack, lost.phone)
        assert lost_row.attempts == 1 and lost_row.provider_sid

        connection = own_redis.client()
        schedules = [Job.fetch(f"sms-{_sms_row(stack, m.phone).id}", connection=connection).retry_intervals
                     for m in others]
        for intervals in schedules:
            pairs = zip(RETRY_INTERVALS, intervals, strict=False)
            assert all(0.75 * base - 0.05 <= got <= 1.25 * base + 0.05 for base, got in pairs)
        assert len({tuple(intervals) for intervals in schedules}) == len(schedules), "each job has its own jitter"


def test_21610_opts_the_member_out_without_retrying_and_they_are_still_rung(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    stopped = others[3]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        stack.sim.script(stopped.phone, sms_error=21610, ignore=True)  # rings, is never picked up
        first = stack.sim.dial(caller.phone, hangup_after=10)
        stack.wait_for(lambda: (row := _sms_row(stack, stopped.phone)) is not None and row.status == "failed",
                       what="the refused SMS to be recorded")
        time.sleep(4)  # past the first two retry intervals: nothing more may be tried
        row = _sms_row(stack, stopped.phone)
        assert (row.error_code, row.attempts) == (21610, 1)
        assert [kind for kind, _ in _tries(stack, stopped.phone)] == ["sms.refused"]
        job = Job.fetch(f"sms-{row.id}", connection=own_redis.client())
        assert job.get_status() == JobStatus.FINISHED, "a permanent refusal is not retried"
        assert stack.rows(lambda s: s.get(Member, stopped.id).opted_out)
        stack.wait_for(lambda: stopped.phone in _rung(stack, first), what="the opted-out member's phone to ring")

        second_caller = next(m for m in others if m.role == "household" and m.phone != stopped.phone)
        second = stack.sim.dial(second_caller.phone, hangup_after=10)
        stack.wait_for(lambda: stopped.phone in _rung(stack, second), what="an opted-out member to be called still")
        stack.wait_for(lambda: stack.accepted_sms(others[0].phone) and len(stack.accepted_sms(others[0].phone)) == 2,
                       what="the second alert's SMS")
        assert [kind for kind, _ in _tries(stack, stopped.phone)] == ["sms.refused"], "and never texted again"


def _rung(stack, call_sid: str) -> set[str]:
    legs = stack.sim.call(call_sid)["legs"]
    return {leg["to"] for leg in legs}


def test_stop_and_start_twice_over_are_idempotent(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    member = others[3]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:

        def opted_out() -> bool:
            # STOP opts the number out of broadcasts; alerts still try it, and the carrier refuses them (21610).
            return stack.rows(lambda s: s.scalar(select(BroadcastOptOut).where(
                BroadcastOptOut.phone == member.phone)) is not None)

        stack.sim.send_sms(member.phone, "STOP")
        stack.sim.send_sms(member.phone, "STOP")
        sid = message_sid()
        retried = {"MessageSid": sid, "From": member.phone, "To": "+8657188880000", "Body": "STOP"}
        assert [stack.post("/twilio/sms", retried).status_code for _ in range(2)] == [200, 200]
        assert opted_out()

        call = stack.sim.dial(caller.phone, hangup_after=10)
        stack.wait_for(lambda: all(stack.accepted_sms(m.phone) for m in others if m.phone != member.phone),
                       what="the alert while opted out")
        stack.wait_for(lambda: member.phone in _rung(stack, call), what="the opted-out member to be rung")
        refused = stack.wait_for(lambda: (row := _sms_row(stack, member.phone)) is not None
                                 and row.status == "failed" and row, what="the carrier's refusal")
        assert refused.failure_reason == "opted_out" and not stack.accepted_sms(member.phone), (
            "nothing reaches a member who sent STOP")

        stack.sim.send_sms(member.phone, "START")
        stack.sim.send_sms(member.phone, "START")
        assert not opted_out()
        stack.sim.dial(caller.phone, hangup_after=0)
        stack.wait_for(lambda: stack.accepted_sms(member.phone), what="the alert after START")
        time.sleep(2)
        assert len(stack.accepted_sms(member.phone)) == 1

        handled = stack.rows(lambda s: s.scalars(select(InboundMessage.handled_as).where(
            InboundMessage.from_phone == member.phone).order_by(InboundMessage.id)).all())
        assert handled == ["opt_out", "opt_out", "opt_out", "opt_in", "opt_in"], "each MessageSid once"
