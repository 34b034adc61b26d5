"""What one inbound call or delivery report costs the web process: statements and Redis round trips, not time.

The fan-out's rows go to the database in one INSERT per table and its jobs to
Redis in one pipelined transaction, so the webhook's own work does not grow
with the group. A delivery report is one conditional UPDATE (with its timeline
event, on PostgreSQL), and loads nothing before it.
"""

from __future__ import annotations

from collections import Counter

from prometheus_client import REGISTRY
from redis.client import Pipeline
from rq import Queue
from sqlalchemy import event, select

from hotline.extensions import db
from hotline.models import Incident, Notification, TimelineEvent
from tests.factories import call_sid, make_group, signed_post


def test_a_call_writes_its_fan_out_in_one_insert_per_table_and_enqueues_once(
    app, client, session, redis_conn, monkeypatch
):
    group = make_group(session, households=8)
    caller = next(m for m in group.members if m.role == "household")
    session.commit()
    statements: Counter[str] = Counter()

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        statements[" ".join(words[:3]) if words[0] == "INSERT" else words[0]] += 1

    executed = []
    real_execute = Pipeline.execute

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        executed.append(len(self.command_stack))
        return real_execute(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", counted)
    engine = db.state(app).engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone,
                                                         "To": "+8657188880000"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200

    texts = session.scalars(select(Notification.id).where(Notification.channel == "sms")).all()
    assert len(texts) == len(group.members)  # every other member, and the caller's confirmation
    assert statements["INSERT INTO incidents"] == 1, statements
    if engine.dialect.name == "postgresql":
        # SQLAlchemy sends rows that need their ids back as one multi-row INSERT where the database
        # allows it (PostgreSQL); on SQLite, for small installations, it sends them one by one.
        assert statements["INSERT INTO notifications"] == 1, statements
        assert statements["INSERT INTO timeline_events"] == 1, statements
    assert len(executed) == 1, f"one pipelined transaction for the whole fan-out, not {executed}"
    incident = session.scalar(select(Incident))
    queue = Queue("alerts", connection=redis_conn)
    assert sorted(queue.job_ids) == sorted(f"sms-{n}" for n in texts)
    assert sorted(queue.scheduled_job_registry.get_job_ids()) == [
        f"escalation-{incident.id}-1", f"recall-{incident.id}-1"
    ]


def _statements_of(app, send):  # type: ignore[no-untyped-def]
    """The SQL statements (first word, or INSERT INTO table) the web process runs while ``send()`` runs."""
    statements: Counter[str] = Counter()

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        statements[" ".join(words[:3]) if words[0] == "INSERT" else words[0]] += 1

    engine = db.state(app).engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        response = send()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 204, response.data
    return statements


def test_a_delivery_report_is_one_statement_and_a_repeat_writes_nothing(app, client, session, redis_conn):
    group = make_group(session, households=2)
    caller = next(m for m in group.members if m.role == "household")
    assert signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone,
                                                 "To": "+8657188880000"}).status_code == 200
    text_row = session.scalars(select(Notification).where(Notification.channel == "sms")).first()
    sid = "SM" + "ab" * 16
    text_row.provider_sid, text_row.status = sid, "queued"
    session.commit()
    report = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}
    path = f"/twilio/sms-status?n={text_row.id}"

    timed = {"route": "/twilio/sms-status"}
    counted_before = REGISTRY.get_sample_value("hotline_request_seconds_count", timed) or 0.0

    first = _statements_of(app, lambda: signed_post(client, path, report))
    again = _statements_of(app, lambda: signed_post(client, path, report))

    # Both are still timed under their route for /metrics.
    assert REGISTRY.get_sample_value("hotline_request_seconds_count", timed) == counted_before + 2

    postgresql = db.state(app).engine.dialect.name == "postgresql"
    # The row is found, checked and moved by one UPDATE, which on PostgreSQL writes the timeline
    # event too; no SELECT loads the row first.
    writes = {"WITH": 1} if postgresql else {"UPDATE": 1, "INSERT INTO timeline_events": 1}
    assert {k: v for k, v in first.items() if k in ("SELECT", "UPDATE", "WITH", "INSERT INTO timeline_events")} \
        == writes, first
    assert "INSERT INTO timeline_events" not in again and again.get("SELECT", 0) == 0, again
    session.expire_all()
    assert session.get(Notification, text_row.id).status == "delivered"
    [moved] = session.scalars(select(TimelineEvent).where(TimelineEvent.notification_id == text_row.id)).all()
    assert moved.kind == "sms_delivered" and moved.detail == {
        "phone": text_row.phone, "name": text_row.recipient_name, "purpose": "alert"
    }
