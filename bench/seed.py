"""Years of history in PostgreSQL, written by the database itself (generate_series), not the ORM.

Five stations of ten villages of ten groups (ten members each), and
``incidents`` incidents spread over three years, each with the rows a real one
leaves: nine notifications, five timeline events and, for most, an accepting
reply, after a time that differs from incident to incident (5 s to 30 min, most
within a minute or two). ``open_incidents`` of the newest are still open, at every escalation level.
The statistics rollups are counted once the incidents are in (not row by row).
"""

from __future__ import annotations

import os
import time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from config.settings import Settings
from hotline.models import User
from hotline.services.stats_rollups import rebuild, triggers_paused

STATIONS, VILLAGES, GROUPS, MEMBERS = 5, 10, 10, 10
BENCH_USER, BENCH_PASSWORD = "bench", "bench-password"

_DIRECTORY = """
INSERT INTO stations (id, name, duty_phone, created_at)
SELECT s, '测试派出所' || s, '+8610888800' || lpad(s::text, 2, '0'), now() FROM generate_series(1, :stations) s;
INSERT INTO villages (id, station_id, name)
SELECT (s - 1) * :villages + v, s, '村' || s || '-' || v
FROM generate_series(1, :stations) s, generate_series(1, :villages) v;
INSERT INTO groups (id, village_id, name, ring_mode, min_acceptances)
SELECT (v - 1) * :groups + g, v, g || '组', 'simultaneous', 1
FROM generate_series(1, :stations * :villages) v, generate_series(1, :groups) g;
INSERT INTO members (id, group_id, name, phone, role, address, active, opted_out, sms_capable, updated_at)
SELECT (g - 1) * :members + m, g, '成员' || g || '-' || m, '+86139' || lpad(((g - 1) * :members + m)::text, 8, '0'),
       CASE WHEN m = 1 THEN 'leader' WHEN m = :members THEN 'officer' WHEN m = :members - 1 THEN 'assistant'
            ELSE 'household' END,
       '村' || g || '号', true, false, true, now()
FROM generate_series(1, :stations * :villages * :groups) g, generate_series(1, :members) m;
SELECT setval('stations_id_seq', (SELECT max(id) FROM stations));
SELECT setval('villages_id_seq', (SELECT max(id) FROM villages));
SELECT setval('groups_id_seq', (SELECT max(id) FROM groups));
SELECT setval('members_id_seq', (SELECT max(id) FROM members));
"""

# Incident i: its group and caller follow from i; it opened (i / n) of the way through three years. Whether
# anyone accepted, and how long that took, are drawn from i too (two independent uniform numbers from its md5, so
# every run seeds the same): about one in five never accepted, spread over every group, and the rest after 5 s
# to 30 min, skewed as real answers are (5 s * 360^(u^1.5): a median near 40 s, a 90th percentile near 13 min,
# a few up to half an hour), so that each group's times take hundreds of distinct seconds, as a real village's do.
# The bounds are cast: psycopg sends small numbers as smallint, for which generate_series has no single match.
_INCIDENTS = """
INSERT INTO incidents (id, station_id, group_id, caller_member_id, caller_phone, caller_name, source, call_sid,
                       status, unregistered, is_drill, opened_at, acknowledged_at, escalation_level, escalated_at,
                       closed_at, outcome, accepted_count)
SELECT i, ((g - 1) / (:villages * :groups)) + 1, g, (g - 1) * :members + 2,
       '+86139' || lpad(((g - 1) * :members + 2)::text, 8, '0'), '成员' || g || '-2', 'call',
       'CA' || md5(i::text),
       CASE WHEN i > :total - :open THEN 'open' ELSE 'closed' END,
       false, i % 50 = 0, opened,
       CASE WHEN i <= :total - :open AND answered
            THEN opened + make_interval(secs => floor(5 * power(360, power(wait, 1.5)))) END,
       CASE WHEN i > :total - :open THEN i % 4 WHEN NOT answered THEN 1 + i % 2 ELSE 0 END,
       CASE WHEN NOT answered OR i > :total - :open THEN opened + interval '60 seconds' END,
       CASE WHEN i <= :total - :open THEN opened + interval '40 minutes' END,
       CASE WHEN i <= :total - :open THEN 'resolved' END,
       CASE WHEN i <= :total - :open AND answered THEN 1 ELSE 0 END
FROM (
    SELECT i, g, opened,
           ('x' || substr(draw, 1, 8))::bit(32)::bigint % 5 <> 0 AS answered,
           ('x' || substr(draw, 9, 8))::bit(32)::bigint / 4294967296.0 AS wait
    FROM (
        SELECT i, 1 + (i * 7) % (:stations * :villages * :groups) AS g, md5('response ' || i) AS draw,
               now() - interval '3 years' * (1 - i::float / :total) - interval '1 minute' AS opened
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) i
    ) AS numbered
) AS planned;
"""

_RESPONSES = """
INSERT INTO responses (incident_id, member_id, phone, responder_name, channel, answer, source_sid, received_at)
SELECT id, caller_member_id + 1, '+86139' || lpad((caller_member_id + 1)::text, 8, '0'), '成员',
       'sms', 'accept', 'SMR' || id, acknowledged_at
FROM incidents WHERE id BETWEEN :first AND :last AND acknowledged_at IS NOT NULL;
INSERT INTO responses (incident_id, member_id, phone, responder_name, channel, answer, source_sid, received_at)
SELECT id, caller_member_id + 2, '+86139' || lpad((caller_member_id + 2)::text, 8, '0'), '成员',
       'sms', 'decline', 'SMD' || id, opened_at + interval '30 seconds'
FROM incidents WHERE id BETWEEN :first AND :last AND id % 3 = 0;
"""

_NOTIFICATIONS = """
INSERT INTO notifications (sender, incident_id, member_id, phone, recipient_name, channel, purpose, body, status,
                           provider_sid, attempts, dedupe_key, created_at, sent_at, status_at)
SELECT 'incident', i.id, m.id, m.phone, m.name, CASE WHEN k <= 5 THEN 'sms' ELSE 'call' END, 'alert',
       CASE WHEN k <= 5 THEN '【联防求助】' || i.caller_name || '需要帮助，回复1前往' ELSE '' END,
       CASE WHEN k <= 5 THEN 'delivered' ELSE 'completed' END,
       'SX' || i.id || '-' || k, 1, 'incident-' || i.id || ':alert:' || k || ':0:' || m.phone,
       i.opened_at, i.opened_at, i.opened_at + interval '5 seconds'
FROM incidents i, generate_series(1, 9) k, LATERAL (SELECT i.caller_member_id + (k % 8) + 1 AS id) chosen
JOIN members m ON m.id = chosen.id
WHERE i.id BETWEEN :first AND :last;
"""

_EVENTS = """
INSERT INTO timeline_events (incident_id, at, kind, detail)
SELECT i.id, i.opened_at + make_interval(secs => k * 10), kinds.kind, '{}'::json
FROM incidents i, generate_series(1, 5) k,
     LATERAL (SELECT (ARRAY['call_received', 'fan_out', 'sms_delivered', 'sms_delivered', 'closed'])[k] AS kind) kinds
WHERE i.id BETWEEN :first AND :last;
"""


def rollup_zone() -> ZoneInfo:
    """The zone the web server under test cuts local months and weeks by (``HOTLINE_TIMEZONE``)."""
    return ZoneInfo(os.environ.get("HOTLINE_TIMEZONE") or Settings.model_fields["timezone"].default)


def seeded(engine: Engine) -> int:
    """How many incidents the database holds (0 for an empty one)."""
    with engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM incidents")) or 0


def seed(engine: Engine, incidents: int, open_incidents: int, *, chunk: int = 100_000, say=print) -> float:
    """Write the directory and ``incidents`` incidents with their rows; returns the seconds it took.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database refused a statement (e.g. it is not empty).
    """
    started = time.monotonic()
    sizes = {"stations": STATIONS, "villages": VILLAGES, "groups": GROUPS, "members": MEMBERS}
    with engine.begin() as connection:
        for statement in _statements(_DIRECTORY):
            connection.execute(text(statement), sizes)
    for first in range(1, incidents + 1, chunk):
        last = min(incidents, first + chunk - 1)
        values = {**sizes, "first": first, "last": last, "total": incidents, "open": open_incidents}
        # Row by row, the statistics triggers would double the load's time: counted once at the end instead.
        with engine.begin() as connection, triggers_paused(connection):
            for script in (_INCIDENTS, _RESPONSES, _NOTIFICATIONS, _EVENTS):
                for statement in _statements(script):
                    connection.execute(text(statement), values)
        say(f"  seeded {last:,} of {incidents:,} incidents ({time.monotonic() - started:.0f} s)")
    with engine.begin() as connection:
        rebuild(
            connection,
            rollup_zone(),
            progress=lambda done, ids: say(f"  statistics rollups: {done:,} of {ids:,} incident ids counted"),
        )
    with engine.begin() as connection:
        for table in ("incidents", "responses", "notifications", "timeline_events"):
            connection.execute(text(f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 1) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    add_user(engine)
    return time.monotonic() - started


def add_user(engine: Engine) -> None:
    """A city-wide console user who sees every station (the widest, slowest view)."""
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    with Session(engine) as session:
        if session.query(User).filter_by(username=BENCH_USER).first() is None:
            session.add(User(username=BENCH_USER, password_hash=generate_password_hash(BENCH_PASSWORD)))
            session.commit()


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]
