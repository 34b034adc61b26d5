"""Guarantee 3: with the database hung or down, a caller still reaches a person.

A throwaway PostgreSQL cluster of the test's own (never the machine's shared
server) is frozen with SIGSTOP, then stopped for real, while calls come in
over HTTP. The voice webhook must answer within two seconds with TwiML that
puts the caller through to the duty line, ``/twilio/voice/fallback`` must not
touch the database at all, and each call must be recorded, with its fan-out
sent, once the database is back. (tests/webhooks/test_outages.py covers a database
hung by a lock and one that was never there.)
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from hotline.db import make_engine
from hotline.extensions import db
from hotline.migrate import upgrade
from hotline.models import Incident, TimelineEvent
from tests.factories import call_sid, make_group
from tests.support.faults import (
    ALERT_PREFIX,
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
    postgres_cluster,
    postgres_unavailable,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(postgres_unavailable() is not None,
                       reason=f"needs a throwaway PostgreSQL cluster to freeze and stop: {postgres_unavailable()}"),
]

DUTY = "+861088880000"


@pytest.fixture
def cluster():
    with postgres_cluster() as running:
        engine = make_engine(running.url())
        upgrade(engine)
        running.engine = engine
        yield running
        engine.dispose()


def _call(stack, caller_phone: str) -> tuple[str, float, ET.Element]:
    sid = call_sid()
    started = time.monotonic()
    answer = stack.post("/twilio/voice", {"CallSid": sid, "From": caller_phone, "To": "+8657188880000"})
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    return sid, elapsed, ET.fromstring(answer.text)


def _fallback(stack) -> tuple[float, ET.Element]:
    started = time.monotonic()
    answer = stack.post("/twilio/voice/fallback", {"CallSid": call_sid(), "From": "+8613800100001"})
    assert answer.status_code == 200
    return time.monotonic() - started, ET.fromstring(answer.text)


def test_postgres_frozen_then_stopped_callers_reach_the_duty_line_and_calls_are_recorded(
    environ, tmp_path, own_redis, cluster
):
    with Session(cluster.engine) as seeding:
        group = make_group(seeding, delays="600,600")
        caller, others = people(group)
    env = dict(environ, DATABASE_URL=cluster.url(), HOTLINE_FALLBACK_PHONE=DUTY, HOTLINE_DB_TIMEOUT="2",
               HOTLINE_WEBHOOK_DEADLINE="1.5")
    with fault_stack(env, tmp_path, redis_url=own_redis.url) as stack:
        checkouts = []
        event.listen(db.state(stack.app).engine, "checkout", lambda *args: checkouts.append(1))

        cluster.pause()
        try:
            frozen_sid, elapsed, twiml = _call(stack, caller.phone)
            assert elapsed < 2, f"answered after {elapsed:.2f} s with the database frozen"
            assert twiml.find("Dial/Number").text == DUTY
            checkouts.clear()
            elapsed, twiml = _fallback(stack)
            assert elapsed < 0.5 and twiml.find("Dial/Number").text == DUTY
            assert checkouts == [], "the fallback URL touched the database"
        finally:
            cluster.resume()

        stack.wait_for(
            lambda: all(len(stack.accepted_sms(m.phone)) == 1 for m in others),
            timeout=45,
            what="the frozen-time call's fan-out",
        )

        cluster.stop()
        try:
            stopped_sid, elapsed, twiml = _call(stack, caller.phone)
            assert elapsed < 2, f"answered after {elapsed:.2f} s with the database stopped"
            assert twiml.find("Dial/Number").text == DUTY
            checkouts.clear()
            elapsed, twiml = _fallback(stack)
            assert elapsed < 0.5 and checkouts == []
        finally:
            cluster.start()

        stack.wait_for(
            lambda: all(len(stack.accepted_sms(m.phone)) == 2 for m in others),
            timeout=60,
            what="the stopped-time call's fan-out",
        )
        time.sleep(2)
        for member in others:
            alerts = [b for b in stack.accepted_sms(member.phone) if b.startswith(ALERT_PREFIX)]
            assert len(alerts) == 2, f"{member.name} got {alerts}"
        with Session(cluster.engine) as check:
            incidents = check.scalars(select(Incident).order_by(Incident.id)).all()
            assert sorted(i.call_sid for i in incidents) == sorted([frozen_sid, stopped_sid])
            for incident in incidents:
                received = check.scalar(
                    select(func.count())
                    .select_from(TimelineEvent)
                    .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "call_received")
                )
                assert received == 1
