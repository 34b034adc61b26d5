"""End to end: the carrier simulator dials in, a real RQ worker sends, real Redis carries.

Each test runs the web app over HTTP, an RQ worker subprocess with its
scheduler, and the simulator (at a fifth of real time) against the database
and Redis the suite was given.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from hotline.models import Incident, Notification, Response, RingMode, Role, TimelineEvent
from tests.factories import call_sid, make_group, sign
from tests.support.stack import rows, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack(environ, tmp_path) as running:
        yield running


def _people(group):
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    others = [m for m in group.members if m.phone != caller.phone]
    return caller, others


def _incident(stack):
    return rows(stack.app, lambda s: s.scalar(select(Incident).order_by(Incident.id.desc())))


def _sms_delivered(stack, count):
    def check():
        return rows(
            stack.app,
            lambda s: s.scalar(
                select(func.count()).select_from(Notification).where(
                    Notification.channel == "sms", Notification.status == "delivered"
                )
            ),
        ) >= count

    return check


def test_one_dial_rings_everyone_and_first_press_of_1_is_bridged(stack, session):
    group = make_group(session, delays="120,120")
    caller, others = _people(group)
    voicemail, first, second = others[0], others[1], others[2]
    stack.sim.script(voicemail.phone, voicemail=True, answer_after=0.5)
    stack.sim.script(first.phone, answer_after=2.0, press="1", talk_for=3.0)
    stack.sim.script(second.phone, answer_after=6.0, press="1")

    sid = stack.sim.dial(caller.phone)
    incident = stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.status == "acknowledged" and i, what="acknowledgement"
    )
    assert incident.call_sid == sid

    dialled = {leg["to"] for leg in stack.sim.call(sid)["legs"]}
    assert dialled == {m.phone for m in others}, "every other member rings in the one Dial"

    responses = rows(stack.app, lambda s: s.scalars(select(Response)).all())
    assert [(r.phone, r.channel, r.answer) for r in responses] == [(first.phone, "call", "accept")]
    assert incident.acknowledged_by_id == first.id

    stack.wait_for(lambda: _bridged(stack.sim.phone(first.phone)), what="the first to press 1 bridged")
    voicemail_phone = stack.sim.phone(voicemail.phone)
    assert any("需要帮助" in text for text in _heard(voicemail_phone)), "voicemail heard the screening"
    assert not _bridged(voicemail_phone), "voicemail never accepts"
    assert not _bridged(stack.sim.phone(second.phone))


def _heard(phone_state) -> list[str]:
    return [text for call in phone_state["calls"] for text in call["heard"]]


def _bridged(phone_state) -> bool:
    return any(call["bridged"] for call in phone_state["calls"])


def _messages(phone_state) -> list[str]:
    return [message["body"] for message in phone_state["messages"]]


def test_sms_fan_out_reaches_every_member_exactly_once(stack, session):
    group = make_group(session, delays="120,120")
    caller, others = _people(group)
    stack.sim.dial(caller.phone, hangup_after=0.0)
    stack.wait_for(_sms_delivered(stack, len(others) + 1), what="all SMS delivered")

    for member in others:
        alerts = [body for body in _messages(stack.sim.phone(member.phone)) if body.startswith("【联防求助】")]
        assert len(alerts) == 1, f"{member.name} got {len(alerts)} alerts"
        assert caller.name in alerts[0] and caller.address in alerts[0]
    confirmations = _messages(stack.sim.phone(caller.phone))
    assert confirmations == [f"【联防】已通知{len(others)}名联防成员，请保持电话畅通。"]

    kinds = Counter(rows(stack.app, lambda s: s.scalars(select(TimelineEvent.kind)).all()))
    assert kinds["call_received"] == 1
    assert kinds["sms_queued"] == len(others) + 1
    assert kinds["sms_delivered"] == len(others) + 1


def test_reply_1_acknowledges_and_stops_escalation(stack, session):
    group = make_group(session, delays="3,3")
    caller, others = _people(group)
    responder = others[2]
    stack.sim.script(responder.phone, sms_reply="1", sms_reply_after=0.5)
    stack.sim.dial(caller.phone, hangup_after=0.0)

    incident = stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.status == "acknowledged" and i, what="reply 1"
    )
    assert incident.acknowledged_by_id == responder.id
    # the others and the caller are told who is on the way
    stack.wait_for(
        lambda: all(
            any("已响应" in body for body in _messages(stack.sim.phone(m.phone)))
            for m in [caller] + [o for o in others if o.phone != responder.phone]
        ),
        what="on-the-way notices",
    )
    time.sleep(8)  # past both escalation delays
    incident = _incident(stack)
    assert incident.escalation_level == 0
    escalations = rows(
        stack.app,
        lambda s: s.scalar(
            select(func.count()).select_from(Notification).where(Notification.purpose == "escalation")
        ),
    )
    assert escalations == 0


def test_no_response_escalates_to_officer_then_duty_line_once_each(stack, session):
    group = make_group(session, delays="2,2")
    caller, _ = _people(group)
    stack.sim.dial(caller.phone, hangup_after=0.0)

    stack.wait_for(lambda: (i := _incident(stack)) is not None and i.escalation_level == 2, what="level 2", timeout=30)
    stack.wait_for(_sms_delivered(stack, 1), what="deliveries")
    time.sleep(3)
    escalated = rows(
        stack.app,
        lambda s: s.execute(
            select(Notification.escalation_level, Notification.channel, Notification.phone)
            .where(Notification.purpose == "escalation", Notification.via_dial.is_(False))
        ).all(),
    )
    officers = sorted(m.phone for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT))
    assert sorted(p for level, ch, p in escalated if level == 1 and ch == "sms") == officers
    assert sorted(p for level, ch, p in escalated if level == 1 and ch == "call") == officers
    assert sorted((level, ch, p) for level, ch, p in escalated if level == 2) == [
        (2, "call", "+861088880000"),
        (2, "sms", "+861088880000"),
    ]
    events = rows(stack.app, lambda s: s.scalars(select(TimelineEvent).where(TimelineEvent.kind == "escalated")).all())
    assert [e.detail["level"] for e in events] == [1, 2]
    stack.wait_for(
        lambda: any(b.startswith("【联防升级】") for b in _messages(stack.sim.phone("+861088880000"))),
        what="duty line SMS",
    )
    for phone in [*officers, "+861088880000"]:
        upgrades = [b for b in _messages(stack.sim.phone(phone)) if b.startswith("【联防升级】")]
        assert len(upgrades) == 1


def test_conference_mode_lets_two_members_join_the_caller(stack, session):
    group = make_group(session, ring_mode=RingMode.CONFERENCE, delays="120,120")
    caller, others = _people(group)
    stack.sim.script(others[0].phone, answer_after=1.0, press="1", talk_for=20)
    stack.sim.script(others[1].phone, answer_after=2.0, press="1", talk_for=20)
    stack.sim.dial(caller.phone)

    incident = stack.wait_for(lambda: _incident(stack), what="incident")
    name = incident.conference_name

    def joined():
        room = stack.sim.conference(name)
        if not room:
            return False
        phones = {participant["phone"] for participant in room["participants"]}
        return {caller.phone, others[0].phone, others[1].phone} <= phones and phones

    stack.wait_for(joined, what="two members in the conference", timeout=30)
    accepted = rows(stack.app, lambda s: s.scalars(select(Response.phone).where(Response.answer == "accept")).all())
    assert sorted(accepted) == sorted([others[0].phone, others[1].phone])


def test_duplicate_webhooks_create_nothing_new_and_forgeries_get_403(stack, session):
    group = make_group(session, delays="120,120")
    caller, others = _people(group)
    url = stack.base_url + "/twilio/voice"
    params = {"CallSid": call_sid(), "From": caller.phone, "To": "+8657188880000", "AccountSid": "AC" + "0" * 32}
    signature = sign(url, params)
    answers = [requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    forged_params = dict(params, CallSid=call_sid())
    forged = requests.post(url, data=forged_params, headers={"X-Twilio-Signature": signature}, timeout=5)
    assert forged.status_code == 403
    assert requests.post(url, data=params, timeout=5).status_code == 403

    stack.wait_for(_sms_delivered(stack, len(others) + 1), what="fan-out")
    assert rows(stack.app, lambda s: s.scalar(select(func.count()).select_from(Incident))) == 1
    sms = rows(
        stack.app,
        lambda s: s.scalar(select(func.count()).select_from(Notification).where(Notification.channel == "sms")),
    )
    assert sms == len(others) + 1
