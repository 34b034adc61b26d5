"""The statistics rollups: kept by the database in the incident's own transaction, and rebuilt on demand."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, insert, select, text, update

from hotline.models import Group, Incident
from hotline.models.stats_rollups import ALL_TIME, ALL_TIME_COARSE, MONTHS, ROLLUPS, WEEKS
from hotline.services.stats_rollups import (
    RESPONSE_TIERS,
    coarse_bucket,
    rebuild,
    response_bucket,
    rollup_zone,
    triggers_paused,
)
from tests.support.console import at, make_incident

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def empty_rollups(session):
    for table in ROLLUPS:  # SQLite's emptying between tests runs the triggers in no fixed order
        session.execute(delete(table))
    session.commit()


def _all_time(session) -> dict[tuple, tuple[int, int, int]]:
    return {
        (bool(row.is_drill), row.station_key, row.group_key, row.seconds): (
            row.incidents,
            row.acknowledged,
            row.escalated,
        )
        for row in session.execute(select(ALL_TIME)).all()
        if row.incidents or row.acknowledged or row.escalated
    }


def test_an_incident_is_counted_by_its_month_week_and_second_in_beijing_time(session, world, empty_rollups):
    # 16:30 UTC on 31 January is 00:30 on Sunday 1 February in Beijing: February's month, the week of 26 January.
    incident = make_incident(session, world.group_a, opened_at=at("2026-01-31 16:30:00"), accept_after=29.9, level=1)
    station = world.group_a.village.station_id
    assert _all_time(session) == {(False, station, world.group_a.id, 29): (1, 1, 1)}
    # The second was -1 (nobody yet) when the incident was written, then moved: that row is left at 0.
    assert session.execute(
        select(MONTHS.c.month, MONTHS.c.seconds, MONTHS.c.incidents).where(MONTHS.c.incidents != 0)
    ).all() == [(date(2026, 2, 1), 29, 1)]
    assert session.execute(select(WEEKS.c.week, WEEKS.c.incidents)).all() == [(date(2026, 1, 26), 1)]
    session.execute(update(Incident).where(Incident.id == incident.id).values(escalation_level=0, is_drill=True))
    session.commit()
    assert _all_time(session) == {(True, station, world.group_a.id, 29): (1, 1, 0)}


def test_response_times_are_counted_by_the_second_below_two_minutes_then_in_wider_buckets(
    session, world, empty_rollups
):
    times = [0.2, 119.99, 120, 124.9, 299.5, 300, 599, 600, 3599, 3600, 86399, 90061]
    for minute, seconds in enumerate(times):
        make_incident(session, world.group_a, opened_at=at(f"2026-03-02 01:{minute:02d}:00"), accept_after=seconds)
    buckets = [0, 119, 120, 120, 295, 300, 595, 600, 3570, 3600, 86100, 90000]
    assert [response_bucket(int(seconds)) for seconds in times] == buckets
    assert {key[3]: counts[0] for key, counts in _all_time(session).items()} == Counter(buckets)


def test_a_coarse_bucket_is_whole_fine_buckets_and_the_histogram_edges_are_coarse_edges():
    fine_edges = {second for second in range(90_000) if response_bucket(second) == second}
    coarse_edges = {coarse_bucket(second) for second in range(90_000)}
    assert coarse_edges <= fine_edges  # a coarse bucket begins where a fine one does
    assert all(coarse_bucket(response_bucket(second)) == coarse_bucket(second) for second in range(90_000))
    assert {15, 30, 60, 120, 300} <= coarse_edges
    assert {below for below, _ in RESPONSE_TIERS} <= coarse_edges
    assert len(coarse_edges) < len(fine_edges) / 8


def test_the_coarse_rollup_counts_what_the_fine_one_does_by_coarse_bucket(session, world, empty_rollups):
    times = [None, 0.2, 14.9, 15, 119.99, 120, 179, 599, 600, 899, 3599, 3600, 86399, 90061, 200_000]
    for minute, seconds in enumerate(times):
        make_incident(
            session,
            world.group_a if minute % 2 else world.group_b,
            opened_at=at(f"2026-03-02 01:{minute:02d}:00"),
            accept_after=seconds,
            level=minute % 3,
            drill=minute % 4 == 0,
        )
    session.execute(update(Incident).where(Incident.is_drill.is_(True)).values(escalation_level=0))
    session.commit()
    folded: Counter = Counter()
    for (drill, station, group, seconds), counts in _all_time(session).items():
        key = (drill, station, group, seconds if seconds < 0 else coarse_bucket(seconds))
        folded[key] = tuple(a + b for a, b in zip(folded.get(key, (0, 0, 0)), counts, strict=True))
    coarse = {
        (bool(row.is_drill), row.station_key, row.group_key, row.coarse): (
            row.incidents,
            row.acknowledged,
            row.escalated,
        )
        for row in session.execute(select(ALL_TIME_COARSE)).all()
        if row.incidents or row.acknowledged or row.escalated
    }
    assert coarse == dict(folded)
    assert {key[3] for key in coarse} == {-1, 0, 15, 105, 120, 540, 600, 3300, 3600, 82800, 86400, 172800}


def test_the_rollups_change_with_the_incident_or_not_at_all(session, world, empty_rollups):
    make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"))
    kept = _all_time(session)
    station = world.group_a.village.station_id
    assert kept == {(False, station, world.group_a.id, -1): (1, 0, 0)}
    session.execute(update(Incident).values(acknowledged_at=at("2026-03-02 01:05:00")))
    session.rollback()
    assert _all_time(session) == kept
    session.execute(update(Incident).values(acknowledged_at=at("2026-03-02 01:05:00")))
    session.commit()
    assert _all_time(session) == {(False, station, world.group_a.id, -1): (1, 1, 0)}


def test_deleting_a_group_moves_its_incidents_to_no_group(session, world, empty_rollups):
    if session.get_bind().dialect.name == "sqlite" and not session.scalar(text("PRAGMA foreign_keys")):
        pytest.skip("SQLite here does not enforce foreign keys, so no SET NULL reaches the incidents")
    make_incident(session, world.group_b, opened_at=at("2026-03-02 01:00:00"), accept_after=8)
    station = world.group_b.village.station_id
    session.execute(update(Incident).values(caller_member_id=None))
    session.execute(text("DELETE FROM members WHERE group_id = :id"), {"id": world.group_b.id})
    session.execute(delete(Group).where(Group.id == world.group_b.id))
    session.commit()
    assert _all_time(session) == {(False, station, 0, 8): (1, 1, 0)}


def test_rebuild_command_counts_every_incident_again_and_shows_its_progress(app, session, world, empty_rollups):
    for minute in range(5):
        make_incident(session, world.group_a, opened_at=at(f"2026-03-02 01:0{minute}:00"), accept_after=10 + minute)
    kept = _all_time(session)
    for table in ROLLUPS:
        session.execute(delete(table))
    session.commit()
    result = app.test_cli_runner().invoke(args=["stats", "rebuild", "--chunk", "2"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("已统计警情编号") == 3 and "5 / 5" in result.stderr
    assert "5 起警情" in result.output and "Asia/Shanghai" in result.output
    session.expire_all()
    assert _all_time(session) == kept
    assert rollup_zone(session.connection()) == "Asia/Shanghai"


def test_rebuild_cuts_the_months_by_the_zone_it_is_given(session, world, empty_rollups):
    make_incident(session, world.group_a, opened_at=at("2026-01-31 16:30:00"))
    rebuild(session.connection(), ZoneInfo("Europe/London"))
    assert rollup_zone(session.connection()) == "Europe/London"
    assert session.scalar(select(MONTHS.c.month)) == date(2026, 1, 1)
    rebuild(session.connection(), SHANGHAI)
    session.commit()
    assert session.scalar(select(MONTHS.c.month)) == date(2026, 2, 1)


def test_a_bulk_load_pauses_the_triggers_for_itself_only(session, world, empty_rollups):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("pausing the triggers is for PostgreSQL bulk loads")
    opened = at("2026-03-02 01:00:00")
    with triggers_paused(session.connection()):
        session.execute(
            insert(Incident).values(
                station_id=world.group_a.village.station_id,
                group_id=world.group_a.id,
                caller_phone="+8613800000000",
                source="call",
                opened_at=opened,
                acknowledged_at=opened + timedelta(seconds=20),
                first_accept_at=opened + timedelta(seconds=20),
            )
        )
    session.commit()
    assert _all_time(session) == {}
    make_incident(session, world.group_a, opened_at=at("2026-03-03 01:00:00"), accept_after=20)
    station = world.group_a.village.station_id
    assert _all_time(session) == {(False, station, world.group_a.id, 20): (1, 1, 0)}  # the triggers are back
    rebuild(session.connection(), SHANGHAI)
    session.commit()
    assert _all_time(session) == {(False, station, world.group_a.id, 20): (2, 2, 0)}
