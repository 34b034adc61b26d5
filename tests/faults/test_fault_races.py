"""Guarantee 7: races between people and the clock are settled once, and logged as they happened.

Each round releases two real transactions at the same instant: a member's
"1" over HTTP against the escalation check of the same, already due, alert;
or two members accepting at once, one by SMS and one by pressing 1 on the
ringing call. The database's conditional updates must let at most one
escalation fire and exactly one acceptance acknowledge, while every answer
is still logged and every SMS that was written is either sent once or
canceled with a record of why.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from hotline.extensions import get_settings
from hotline.models import Incident, Notification, Response, Role, TimelineEvent, utcnow
from hotline.services.incidents import open_incident
from tests.factories import call_sid, make_group, message_sid
from tests.support.faults import (
    ESCALATION_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
)
from workers.jobs import check_escalation
from workers.runtime import use_app

pytestmark = pytest.mark.e2e

ROUNDS = 6


def _together(*actions) -> list[object]:
    """Run each action in its own thread, released at the same instant; return results (or exceptions)."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _group(session, index: int, delays: str):
    return make_group(session, village_name=f"东村{index}", prefix=f"+861390{index:02d}", delays=delays)


def _late_check(lag: float, incident_id: int) -> str:
    time.sleep(lag)
    return check_escalation(incident_id, 1)


def _race_reply_and_check(stack, session, group, lag: float) -> tuple[int, Any, str]:
    """Open an alert whose first escalation is due, then release a member's "1" and the check together."""
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    responder = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.phone != caller.phone)
    # Received just over the delay ago: level 1 is due now.
    opened = open_incident(session, get_settings(stack.app), caller_phone=caller.phone, source="call",
                           call_sid=call_sid(), now=utcnow() - timedelta(seconds=3.2))
    session.commit()
    incident_id = opened.incident.id
    reply = {"MessageSid": message_sid(), "From": responder.phone, "To": "+8657188880000", "Body": "1"}
    answer, checked = _together(partial(stack.post, "/twilio/sms", reply), partial(_late_check, lag, incident_id))
    assert not isinstance(checked, BaseException), checked
    assert answer.status_code == 200
    return incident_id, responder, checked


def _settled_once(stack, incident_id: int, group, responder, checked: str) -> bool:
    """Check one race's record; returns whether the escalation fired."""
    incident = stack.rows(lambda s: s.get(Incident, incident_id))
    kinds = Counter(stack.rows(lambda s: s.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident_id)).all()))
    responses = stack.rows(lambda s: s.scalars(select(Response).where(Response.incident_id == incident_id)).all())
    assert [(r.phone, r.answer) for r in responses] == [(responder.phone, "accept")], "the answer is logged"
    assert incident.status == "acknowledged" and kinds["acknowledged"] == 1
    assert kinds["escalated"] == incident.escalation_level <= 1, (kinds, incident.escalation_level)
    assert checked == f"level 1: {'fired' if incident.escalation_level else 'not fired'}"
    escalations = stack.rows(lambda s: s.scalars(select(Notification).where(
        Notification.incident_id == incident_id, Notification.purpose == "escalation")).all())
    officers = [m for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT)]
    if incident.escalation_level:
        assert len(escalations) == 2 * len(officers)
        for notification in escalations:
            assert notification.status != "failed"
            if notification.status == "canceled":
                assert kinds[f"{notification.channel}_canceled"] >= 1, "a cancellation says so in the timeline"
    else:
        assert escalations == [], "an alert already answered does not escalate"
    for officer in officers:
        upgrades = [b for b in stack.accepted_sms(officer.phone) if b.startswith(ESCALATION_PREFIX)]
        assert len(upgrades) <= 1
    return bool(incident.escalation_level)


def test_acknowledgement_racing_the_escalation_check_fires_at_most_one_escalation(
    app, environ, session, tmp_path, own_redis
):
    groups = [_group(session, i, "3,600") for i in range(ROUNDS)]
    # The sweeper must not run the due checks itself: the race is between the two below.
    with fault_stack(environ, tmp_path, redis_url=own_redis.url, extra_env={"HOTLINE_SWEEP_GRACE": "120"}) as stack:
        use_app(stack.app)
        # The check starts a little later each round, so the races go both ways and every way between.
        lags = (0, 0.002, 0.004, 0.006, 0.01, 0.3)
        outcomes = [(group, *_race_reply_and_check(stack, session, group, lag))
                    for group, lag in zip(groups, lags, strict=True)]

        stack.wait_for(lambda: stack.rows(lambda s: not s.scalars(select(Notification.id).where(
            Notification.purpose == "escalation", Notification.status.in_(("pending", "claimed")))).all()),
            what="every escalation notification to be sent or canceled")
        time.sleep(2)
        fired = sum(_settled_once(stack, incident_id, group, responder, checked)
                    for group, incident_id, responder, checked in outcomes)
        print(f"escalation fired in {fired} of {ROUNDS} races")


def _race_two_acceptances(stack, group) -> None:
    """Ring the group, then release one member's "1" by SMS and another's press of 1 together."""
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    texter, presser = [m for m in group.members if m.role == Role.HOUSEHOLD and m.phone != caller.phone][:2]
    sid = call_sid()
    assert stack.post("/twilio/voice", {"CallSid": sid, "From": caller.phone, "To": "+8657188880000"}).ok
    leg = stack.rows(lambda s: s.scalar(select(Notification).where(
        Notification.phone == presser.phone, Notification.via_dial.is_(True))))
    reply = {"MessageSid": message_sid(), "From": texter.phone, "To": "+8657188880000", "Body": "1"}
    press = {"CallSid": call_sid(), "From": "+8657188880000", "To": presser.phone, "Digits": "1"}
    answers = _together(partial(stack.post, "/twilio/sms", reply),
                        partial(stack.post, f"/twilio/voice/screen/answer?n={leg.id}", press))
    assert [getattr(a, "status_code", a) for a in answers] == [200, 200]

    incident = stack.rows(lambda s: s.scalar(select(Incident).where(Incident.call_sid == sid)))
    responses = stack.rows(lambda s: s.scalars(select(Response).where(Response.incident_id == incident.id)).all())
    assert sorted((r.phone, r.channel, r.answer) for r in responses) == sorted(
        [(texter.phone, "sms", "accept"), (presser.phone, "call", "accept")]), "both answers are logged"
    kinds = Counter(stack.rows(lambda s: s.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()))
    assert kinds["acknowledged"] == 1 and kinds["sms_reply"] == 1 and kinds["call_accepted"] == 1
    assert incident.acknowledged_by_id in (texter.id, presser.id)
    notices = stack.rows(lambda s: s.scalars(select(Notification.phone).where(
        Notification.incident_id == incident.id, Notification.purpose == "ack_notice")).all())
    assert len(notices) == len(set(notices)), "one 'on the way' notice per person, from the one who won"


def test_two_members_accepting_at_once_are_both_logged_and_one_acknowledges(app, environ, session, tmp_path, own_redis):
    groups = [_group(session, i, "600,600") for i in range(ROUNDS)]
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        for group in groups:
            _race_two_acceptances(stack, group)
