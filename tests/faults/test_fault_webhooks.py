"""Guarantee 5: duplicate, concurrent and out-of-order webhooks change nothing twice.

Twilio retries webhooks and delivers status callbacks late, twice or out of
order. Here the same CallSid and the same MessageSid are each posted ten
times at once from ten threads over real HTTP, and status callbacks are
posted backwards and all at once, while a real worker sends the fan-out.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from hotline.models import InboundMessage, Incident, Notification, TimelineEvent
from tests.factories import call_sid, make_group, message_sid
from tests.support.faults import (
    ALERT_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e

COPIES = 10


def _all_at_once(send, copies: int = COPIES) -> list[requests.Response]:
    """Run ``send(i)`` in ``copies`` threads released together; return their answers in order."""
    barrier = threading.Barrier(copies)
    answers: list[requests.Response | BaseException | None] = [None] * copies

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = send(index)
        except BaseException as exc:
            answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    failed = [a for a in answers if not isinstance(a, requests.Response)]
    assert not failed, failed
    return answers  # type: ignore[return-value]


def _count(stack, model, *where) -> int:
    return stack.rows(lambda s: s.scalar(select(func.count()).select_from(model).where(*where)))


def test_same_callsid_ten_times_at_once_opens_one_incident_and_one_fan_out(app, environ, session, tmp_path, own_redis):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        params = {"CallSid": call_sid(), "From": caller.phone, "To": "+8657188880000", "CallStatus": "ringing"}
        answers = _all_at_once(lambda _: stack.post("/twilio/voice", params))
        assert [a.status_code for a in answers] == [200] * COPIES
        for answer in answers:
            rung = sorted(n.text for n in ET.fromstring(answer.text).findall("Dial/Number"))
            assert rung == sorted(m.phone for m in others), f"every copy rings the group: {answer.text}"

        everyone = [m.phone for m in others] + [caller.phone]
        stack.wait_for(lambda: all(stack.accepted_sms(p) for p in everyone), what="the fan-out")
        time.sleep(2)
        assert _count(stack, Incident) == 1
        assert _count(stack, Notification, Notification.channel == "sms") == len(everyone)
        assert _count(stack, TimelineEvent, TimelineEvent.kind == "call_received") == 1
        for phone in everyone:
            assert len(stack.accepted_sms(phone)) == 1, f"{phone} got {stack.accepted_sms(phone)}"


def test_same_messagesid_ten_times_at_once_opens_one_incident_and_one_fan_out(
    app, environ, session, tmp_path, own_redis
):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        # A household that cannot speak texts for help.
        params = {
            "MessageSid": message_sid(),
            "From": caller.phone,
            "To": "+8657188880000",
            "Body": "救命 有人闯进院子",
        }
        answers = _all_at_once(lambda _: stack.post("/twilio/sms", params))
        assert [a.status_code for a in answers] == [200] * COPIES

        stack.wait_for(lambda: all(stack.accepted_sms(m.phone) for m in others), what="the fan-out")
        time.sleep(2)
        assert _count(stack, InboundMessage) == 1
        assert _count(stack, Incident) == 1
        for member in others:
            alerts = [b for b in stack.accepted_sms(member.phone) if b.startswith(ALERT_PREFIX)]
            assert len(alerts) == 1, f"{member.name} got {alerts}"


def test_status_callbacks_out_of_order_and_at_once_never_move_a_status_backward(
    app, environ, session, tmp_path, own_redis
):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        stack.sim.dial(caller.phone, hangup_after=0)
        stack.wait_for(
            lambda: (
                _count(stack, Notification, Notification.channel == "sms", Notification.status == "delivered")
                == len(others) + 1
            ),
            what="deliveries",
        )
        sms = stack.rows(lambda s: s.scalar(select(Notification).where(Notification.channel == "sms").limit(1)))
        events_before = Counter(
            stack.rows(
                lambda s: s.scalars(select(TimelineEvent.kind).where(TimelineEvent.notification_id == sms.id)).all()
            )
        )

        # Late and backwards, all at once: every one of them is older news than "delivered".
        stale = ["queued", "sending", "sent", "accepted", "sent", "queued", "sending", "sent", "queued", "sent"]
        answers = _all_at_once(
            lambda i: stack.post(
                f"/twilio/sms-status?n={sms.id}",
                {"MessageSid": sms.provider_sid, "MessageStatus": stale[i], "To": sms.phone},
            )
        )
        assert {a.status_code for a in answers} == {204}
        row = stack.rows(lambda s: s.get(Notification, sms.id))
        assert row.status == "delivered"
        events_after = Counter(
            stack.rows(
                lambda s: s.scalars(select(TimelineEvent.kind).where(TimelineEvent.notification_id == sms.id)).all()
            )
        )
        assert events_after == events_before, "stale callbacks add nothing to the timeline"

        # A <Dial> leg's callbacks, all at once and in every order: it ends completed, each step logged once.
        leg = stack.rows(
            lambda s: s.scalar(
                select(Notification).where(Notification.channel == "call", Notification.via_dial.is_(True)).limit(1)
            )
        )
        leg_sid = call_sid()
        steps = [
            "completed",
            "in-progress",
            "ringing",
            "initiated",
            "completed",
            "ringing",
            "in-progress",
            "initiated",
            "completed",
            "ringing",
        ]
        answers = _all_at_once(
            lambda i: stack.post(
                f"/twilio/call-status?n={leg.id}", {"CallSid": leg_sid, "CallStatus": steps[i], "To": leg.phone}
            )
        )
        assert {a.status_code for a in answers} == {204}
        row = stack.rows(lambda s: s.get(Notification, leg.id))
        assert (row.status, row.provider_sid) == ("completed", leg_sid)
        kinds = Counter(
            stack.rows(
                lambda s: s.scalars(select(TimelineEvent.kind).where(TimelineEvent.notification_id == leg.id)).all()
            )
        )
        assert kinds["call_completed"] == 1
        assert all(count == 1 for count in kinds.values()), kinds


def test_an_incident_is_never_visible_without_its_outbox(app, session):
    """The incident and its fan-out are one transaction, on SQLite too.

    pysqlite opens a transaction only before a write, so the savepoint that
    guards the incident's insert used to start one of its own, and releasing
    it committed the incident alone: a concurrent copy of the webhook then
    found an incident with no one to ring, and a crash there left it so.
    """
    from hotline.extensions import db, get_settings
    from hotline.services.incidents import open_incident

    group = make_group(session, delays="600,600")
    caller, _ = people(group)
    engine = db.state(app).engine
    with db.state(app).sessionmaker() as writing:
        opened = open_incident(
            writing, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid()
        )
        assert opened.created and opened.sms_ids
        with engine.connect() as other:
            assert other.execute(select(func.count()).select_from(Incident)).scalar_one() == 0
        writing.commit()
    with engine.connect() as other:
        assert other.execute(select(func.count()).select_from(Incident)).scalar_one() == 1
        assert other.execute(select(func.count()).select_from(Notification)).scalar_one() > 0
