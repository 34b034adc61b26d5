"""The voice webhook when the database is down or hung: the caller still reaches a person."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from sqlalchemy import func, select, text

from hotline.app import create_app
from hotline.extensions import db
from hotline.models import Incident, Role, TimelineEvent
from hotline.parked_calls import PARKED_CALLS as DEFERRED_CALLS
from tests.factories import call_sid, make_group, signed_post
from workers.runtime import use_app
from workers.sweeper import sweep_outbox

DUTY = "+861088880000"


def _caller(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def test_database_down_parks_the_call_and_the_sweeper_records_it(app, environ, session, redis_conn):
    group = make_group(session, delays="60,180")
    caller = _caller(group)
    sid = call_sid()
    down = dict(environ, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", HOTLINE_FALLBACK_PHONE=DUTY)
    started = time.monotonic()
    response = signed_post(create_app(down).test_client(), "/twilio/voice", {"CallSid": sid, "From": caller.phone})
    assert time.monotonic() - started < 2
    assert ET.fromstring(response.data).find("Dial/Number").text == DUTY
    assert redis_conn.llen(DEFERRED_CALLS) == 1

    use_app(app)  # the database is back
    sweep_outbox()
    session.expire_all()
    incident = session.scalar(select(Incident).where(Incident.call_sid == sid))
    assert incident is not None and incident.group_id == group.id
    assert "recorded_after_outage" in [e.kind for e in incident.events]
    assert redis_conn.llen(DEFERRED_CALLS) == 0
    sweep_outbox()  # nothing twice
    assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_hung_database_answers_within_the_deadline_and_records_the_call_later(app, environ, session, redis_conn):
    group = make_group(session, delays="60,180")
    caller = _caller(group)
    environ = dict(environ, HOTLINE_FALLBACK_PHONE=DUTY, HOTLINE_WEBHOOK_DEADLINE="1.0")
    hooked = create_app(environ)
    engine = db.state(hooked).engine
    blocker = engine.connect()
    if engine.dialect.name == "postgresql":
        blocker.execute(text("BEGIN"))
        blocker.execute(text("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE"))
    else:
        blocker.exec_driver_sql("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        sid = call_sid()
        response = signed_post(hooked.test_client(), "/twilio/voice", {"CallSid": sid, "From": caller.phone})
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert ET.fromstring(response.data).find("Dial/Number").text == DUTY
        assert elapsed < 2, f"answered after {elapsed:.2f} s"
    finally:
        blocker.rollback()
        blocker.close()
    # once the lock is gone the late helper thread, or the sweeper, records the call
    use_app(hooked)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sweep_outbox()
        session.expire_all()
        if session.scalar(select(Incident).where(Incident.call_sid == sid)) is not None:
            break
        time.sleep(0.5)
    incident = session.scalar(select(Incident).where(Incident.call_sid == sid))
    assert incident is not None
    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()
    assert kinds.count("call_received") == 1
