"""End to end: an alert never goes silent, and the caller always knows where it stands.

Each test runs the web app, a real RQ worker with its scheduler and the
carrier simulator, with the follow-up intervals shortened to seconds.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from hotline.extensions import get_settings, queues
from hotline.models import Incident, Notification, RingMode, Role, TimelineEvent, User
from hotline.services.outbox import dispatch_work
from hotline.services.taking import take_incident
from tests.factories import make_group
from tests.support.stack import rows, running_stack

pytestmark = pytest.mark.e2e
DUTY = "+861088880000"
QUICK = {
    "HOTLINE_ESCALATION_REPEAT": "3",
    "HOTLINE_RECALL_INTERVAL": "5",
    "HOTLINE_RECALL_ROUNDS": "2",
    "HOTLINE_CALLBACK_DELAY": "5",
}


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack({**environ, **QUICK}, tmp_path) as running:
        yield running


def _caller(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _incident(stack) -> Incident | None:
    return rows(stack.app, lambda s: s.scalar(select(Incident).order_by(Incident.id.desc())))


def _kinds(stack, incident_id: int) -> list[str]:
    return rows(
        stack.app,
        lambda s: list(s.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident_id))),
    )


def _texts(stack, phone: str) -> list[str]:
    return [m["body"] for m in stack.sim.phone(phone)["messages"]]


def _calls_to(stack, phone: str) -> int:
    return len(stack.sim.phone(phone)["calls"])


def _nobody_answers(stack, group, caller) -> None:
    for member in group.members:
        if member.phone != caller.phone:
            stack.sim.script(member.phone, ignore=True)
    stack.sim.script(DUTY, ignore=True)


def test_past_the_duty_line_the_officers_and_duty_line_are_called_again_until_staff_take_it(stack, session):
    group = make_group(session, delays="1,1")
    caller = _caller(group)
    _nobody_answers(stack, group, caller)
    stack.sim.script(caller.phone, ignore=True)  # nobody picks up the call back either
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    stack.sim.dial(caller.phone, hangup_after=0.0)

    stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.escalation_level >= 4, what="two repeats", timeout=40
    )
    stack.wait_for(lambda: _calls_to(stack, DUTY) >= 2 and _calls_to(stack, officer.phone) >= 3, what="calls again")
    # The caller is told the station's duty line has the alert.
    stack.wait_for(lambda: any("派出所值班室已收到" in t for t in _texts(stack, caller.phone)), what="caller told")

    incident = _incident(stack)
    assert incident is not None
    with stack.app.app_context():
        from hotline.extensions import db

        user = User(username="zhang", password_hash="x", station_id=incident.station_id)
        db.session.add(user)
        db.session.commit()
        fresh = db.session.get(Incident, incident.id)
        work = take_incident(db.session, get_settings(stack.app), fresh, user)
        db.session.commit()
        dispatch_work(queues.queue(), work)
        level_taken = fresh.escalation_level

    stack.wait_for(lambda: any("已接手处理" in t for t in _texts(stack, caller.phone)), what="caller told of taking")
    stack.wait_for(lambda: any("已接手处理" in t for t in _texts(stack, officer.phone)), what="group told of taking")
    time.sleep(7)  # two repeat intervals: nothing more fires
    after = _incident(stack)
    assert after is not None and after.escalation_level == level_taken
    assert after.taken_by_id is not None and after.status == "acknowledged"
    assert "taken" in _kinds(stack, after.id)


def test_a_dropped_call_is_called_back_and_9_cancels_it_as_a_misdial(stack, session):
    group = make_group(session, delays="120,120")
    caller = _caller(group)
    _nobody_answers(stack, group, caller)
    stack.sim.script(caller.phone, answer_after=0.5, press="9")
    member = next(m for m in group.members if m.role == Role.LEADER)
    stack.sim.dial(caller.phone, hangup_after=0.0)

    stack.wait_for(lambda: (i := _incident(stack)) is not None and i.status == "closed", what="misdial", timeout=40)
    incident = _incident(stack)
    assert incident is not None and incident.outcome == "misdial"
    kinds = _kinds(stack, incident.id)
    assert "caller_called_back" in kinds and "caller_cancelled" in kinds
    stack.wait_for(lambda: any("误拨，已取消" in t for t in _texts(stack, member.phone)), what="group told")


def test_pressing_9_during_the_greeting_cancels_before_anyone_comes(stack, session):
    group = make_group(session, delays="120,120")
    caller = _caller(group)
    stack.sim.dial(caller.phone, press="9")

    stack.wait_for(lambda: (i := _incident(stack)) is not None and i.status == "closed", what="cancelled")
    incident = _incident(stack)
    assert incident is not None and incident.outcome == "misdial"
    leader = next(m for m in group.members if m.role == Role.LEADER)
    stack.wait_for(lambda: any("误拨，已取消" in t for t in _texts(stack, leader.phone)), what="group told")


def test_members_who_missed_the_call_are_called_again_and_can_accept(stack, session):
    group = make_group(session, ring_mode=RingMode.CONFERENCE, delays="120,120")
    caller = _caller(group)
    _nobody_answers(stack, group, caller)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    stack.sim.dial(caller.phone, hangup_after=30)

    # Once every first call has rung out, the leader's phone is back in hand.
    stack.wait_for(
        lambda: rows(
            stack.app,
            lambda s: s.scalar(
                select(Notification.id).where(Notification.phone == leader.phone, Notification.status == "no-answer")
            ),
        ),
        what="first call missed",
        timeout=30,
    )
    stack.sim.script(leader.phone, answer_after=0.5, press="1", talk_for=2)
    stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.status == "acknowledged",
        what="accepted on recall",
        timeout=30,
    )
    incident = _incident(stack)
    assert incident is not None
    assert "members_recalled" in _kinds(stack, incident.id)
    recalls = rows(
        stack.app,
        lambda s: s.scalars(select(Notification.phone).where(Notification.purpose == "recall")).all(),
    )
    assert leader.phone in recalls and caller.phone not in recalls


def test_a_group_that_needs_two_responders_is_covered_by_the_second(stack, session):
    group = make_group(session, delays="120,120")
    group.min_acceptances = 2
    session.commit()
    caller = _caller(group)
    first, second = [m for m in group.members if m.role == Role.HOUSEHOLD and m.phone != caller.phone][:2]
    _nobody_answers(stack, group, caller)
    stack.sim.dial(caller.phone, hangup_after=0.0)
    stack.wait_for(lambda: _incident(stack) is not None, what="incident")

    stack.sim.send_sms(first.phone, "1")
    stack.wait_for(lambda: any("1/2" in t for t in _texts(stack, caller.phone)), what="caller told 1 of 2")
    assert _incident(stack).status == "open"  # type: ignore[union-attr]

    stack.sim.send_sms(second.phone, "收到，马上到")
    stack.wait_for(lambda: (i := _incident(stack)) is not None and i.status == "acknowledged", what="covered")
    incident = _incident(stack)
    assert incident is not None and incident.accepted_count == 2


def test_a_caller_waiting_in_the_conference_hears_where_the_alert_stands_again_and_again(stack, session):
    group = make_group(session, ring_mode=RingMode.CONFERENCE, delays="120,120")
    caller = _caller(group)
    _nobody_answers(stack, group, caller)
    sid = stack.sim.dial(caller.phone, hangup_after=40)

    def status_prompts():
        return [
            e for e in stack.sim.events(kind="call.say")
            if e.get("call_sid") == sid and e.get("hold") and "已通知" in (e.get("text") or "")
        ]

    stack.wait_for(lambda: len(status_prompts()) >= 2, what="the status twice", timeout=40)
    assert "请不要挂机" in status_prompts()[0]["text"]
