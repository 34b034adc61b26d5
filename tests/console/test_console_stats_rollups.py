"""The statistics from the rollups agree with the exact computation, filter by filter.

Times to first response here are whole seconds that begin a bucket of the
rollups (every second below 2 minutes, 5 seconds to 10 minutes, 30 seconds to
an hour), so the rollups' percentiles must equal the exact ones; a test with
fractions of a second checks they stay within the bucket, and that a small set
is computed exactly whatever its fractions.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from hotline.console.queries import IncidentFilter
from hotline.console.stats import Figures, Summary
from hotline.console.stats_queries import exact_figures, figures
from hotline.console.stats_rollups import figures_from_rollups, rollups_serve
from hotline.models import Answer, Channel, Incident, Response
from hotline.models.stats_rollups import ROLLUPS
from hotline.services.stats_rollups import rebuild
from tests.support.console import at, make_incident, member

SHANGHAI = ZoneInfo("Asia/Shanghai")
CITY = SimpleNamespace(station_id=None)

RANGES = [
    (None, None),
    (date(2026, 1, 15), date(2026, 3, 10)),  # part months and part weeks at both ends
    (date(2026, 2, 1), date(2026, 2, 28)),  # one whole month
    (date(2026, 2, 2), date(2026, 2, 15)),  # two whole weeks inside a month
    (date(2026, 2, 3), date(2026, 2, 5)),  # days inside one week
    (None, date(2026, 2, 10)),
    (date(2026, 2, 10), None),
    (date(2026, 3, 1), date(2026, 2, 1)),  # backwards: nothing
]


@pytest.fixture
def history(session, world):
    """Sixty incidents over four months in three groups of two stations, many around local midnight."""
    for table in ROLLUPS:  # SQLite's emptying between tests runs the triggers in no fixed order
        session.execute(delete(table))
    session.commit()
    chooser = random.Random(7)
    groups = [world.group_a, world.group_a2, world.group_b]
    start = at("2026-01-01 15:30:00")  # 23:30 in Beijing
    for index in range(60):
        opened = start + timedelta(days=index * 2, minutes=chooser.choice([0, 20, 45, 70]))
        make_incident(
            session,
            chooser.choice(groups),
            opened_at=opened,
            accept_after=chooser.choice([None, 3, 15, 29, 30, 59, 61, 119, 140, 295, 300, 990]),
            level=chooser.choice([0, 0, 1, 2]),
            drill=index % 7 == 0,
        )
    return world


def _same(found: Figures, expected: Figures) -> None:
    def summary(value: Summary) -> tuple:
        return (
            value.incidents,
            value.acknowledged,
            value.escalated,
            pytest.approx(value.median_seconds),
            pytest.approx(value.p90_seconds),
        )

    assert summary(found.total) == summary(expected.total)
    assert {key: summary(value) for key, value in found.by_group.items()} == {
        key: summary(value) for key, value in expected.by_group.items()
    }
    assert {key: summary(value) for key, value in found.by_village.items()} == {
        key: summary(value) for key, value in expected.by_village.items()
    }
    assert found.histogram == expected.histogram
    assert found.weeks == expected.weeks


def _filters(world) -> list[tuple[SimpleNamespace, IncidentFilter]]:
    station_a = SimpleNamespace(station_id=world.group_a.village.station_id)
    found = []
    for first, last in RANGES:
        for drill in ("all", "real", "drill"):
            found.append((CITY, IncidentFilter(date_from=first, date_to=last, drill=drill)))
        found.append((station_a, IncidentFilter(date_from=first, date_to=last, drill="real")))
        found.append((CITY, IncidentFilter(village_id=world.group_a2.village_id, date_from=first, date_to=last)))
        found.append((CITY, IncidentFilter(group_id=world.group_b.id, date_from=first, date_to=last)))
    return found


def _agree(session, world) -> None:
    for viewer, flt in _filters(world):
        assert rollups_serve(session, flt, SHANGHAI)
        _same(figures_from_rollups(session, viewer, flt, SHANGHAI), exact_figures(session, viewer, flt, SHANGHAI))
        session.rollback()


def test_rollups_agree_with_the_incidents_for_every_filter(session, history):
    whole = exact_figures(session, CITY, IncidentFilter(), SHANGHAI)
    assert whole.total.incidents == 60 and whole.total.median_seconds is not None  # a history worth comparing
    _agree(session, history)


def test_rollups_follow_acceptance_escalation_and_new_incidents(session, history):
    unanswered = session.scalars(select_unanswered()).all()
    assert len(unanswered) >= 2
    first, second, *_ = unanswered
    third = session.scalars(
        select(Incident).where(Incident.escalation_level == 0, Incident.id.not_in([first.id, second.id]))
    ).first()
    assert third is not None
    # Accepted the way the services record it: a response (the first-acceptance trigger), then the incident.
    leader = member(first.group, "leader")
    session.add(
        Response(
            incident_id=first.id,
            member_id=leader.id,
            phone=leader.phone,
            responder_name=leader.name,
            channel=Channel.SMS,
            answer=Answer.ACCEPT,
            source_sid="SMaccept1",
            received_at=first.opened_at + timedelta(seconds=42),
        )
    )
    session.execute(
        update(Incident).where(Incident.id == first.id).values(acknowledged_at=first.opened_at + timedelta(seconds=42))
    )
    # Taken by staff: acknowledged without a member's acceptance.
    session.execute(
        update(Incident).where(Incident.id == second.id).values(acknowledged_at=second.opened_at + timedelta(minutes=3))
    )
    session.execute(update(Incident).where(Incident.id == third.id).values(escalation_level=3))
    session.commit()
    make_incident(session, history.group_a, opened_at=at("2026-02-28 16:10:00"), accept_after=12)  # 1 March in Beijing
    make_incident(session, history.group_b, opened_at=at("2026-03-01 02:00:00"), level=1)
    _agree(session, history)
    session.execute(delete(Response).where(Response.incident_id == third.id))
    session.execute(delete(Incident).where(Incident.id == third.id))
    session.commit()
    _agree(session, history)


def select_unanswered():
    return (
        select(Incident)
        .where(Incident.first_accept_at.is_(None), Incident.escalation_level == 0, Incident.is_drill.is_(False))
        .order_by(Incident.id)
    )


def test_a_rebuild_counts_the_same_as_the_triggers(session, history):
    def contents() -> dict[str, list[tuple]]:
        return {
            table.name: sorted(tuple(row) for row in session.execute(table.select()) if row.incidents)
            for table in ROLLUPS
        }

    kept = contents()
    assert kept["stats_all_time"]
    rebuild(session.connection(), SHANGHAI)
    session.commit()
    assert contents() == kept
    _agree(session, history)


def test_rollups_left_stale_are_put_right_by_a_rebuild(session, history):
    for table in ROLLUPS:
        session.execute(delete(table))
    session.commit()
    flt = IncidentFilter(drill="all")
    assert figures_from_rollups(session, CITY, flt, SHANGHAI).total.incidents == 0
    rebuild(session.connection(), SHANGHAI)
    session.commit()
    assert figures_from_rollups(session, CITY, flt, SHANGHAI).total.incidents == 60
    _agree(session, history)


def test_fractions_of_a_second_stay_within_the_second_and_small_sets_are_exact(session, world):
    for table in ROLLUPS:
        session.execute(delete(table))
    session.commit()
    for index, seconds in enumerate([4.75, 10.2, 10.9, 33.5, 61.01, 120.999, 7.5]):
        make_incident(
            session, world.group_a, opened_at=at("2026-02-01 03:00:00") + timedelta(hours=index), accept_after=seconds
        )
    flt = IncidentFilter()
    exact = exact_figures(session, CITY, flt, SHANGHAI)
    rolled = figures_from_rollups(session, CITY, flt, SHANGHAI)
    assert rolled.total.incidents == exact.total.incidents == 7
    assert exact.total.median_seconds == pytest.approx(10.9)
    assert rolled.total.median_seconds == 10  # rounded down to the whole second (below 2 minutes)
    assert 0 <= exact.total.p90_seconds - rolled.total.p90_seconds < 1
    assert rolled.histogram == exact.histogram
    # Seven incidents are few: the page computes them exactly.
    assert figures(session, CITY, flt, SHANGHAI).total.median_seconds == pytest.approx(10.9)
    assert figures(session, CITY, flt, SHANGHAI, exact_up_to=5).total.median_seconds == 10


def test_a_status_filter_or_another_zone_is_computed_exactly(session, history):
    assert not rollups_serve(session, IncidentFilter(status="open"), SHANGHAI)
    assert not rollups_serve(session, IncidentFilter(), ZoneInfo("Europe/London"))
    flt = IncidentFilter(status="closed")
    assert figures(session, CITY, flt, SHANGHAI, exact_up_to=0) == exact_figures(session, CITY, flt, SHANGHAI)


def test_percentiles_found_through_coarse_buckets_equal_the_exact_ones(session, world):
    """Times spread over many coarse buckets, each key's ranks in different ones: still exact to the bucket."""
    for table in ROLLUPS:
        session.execute(delete(table))
    session.commit()
    chooser = random.Random(11)
    fine_starts = [*range(120), *range(120, 600, 5), *range(600, 3600, 30)]
    groups = [world.group_a, world.group_a2, world.group_b]
    for index in range(150):
        make_incident(
            session,
            groups[index % 3],
            opened_at=at("2026-02-01 03:00:00") + timedelta(hours=index),
            accept_after=None if index % 9 == 0 else chooser.choice(fine_starts),
            drill=index % 10 == 0,
        )
    _agree_all_time(session, world)


def _agree_all_time(session, world) -> None:
    for viewer, flt in _filters(world):
        if flt.date_from is None and flt.date_to is None:
            _same(figures_from_rollups(session, viewer, flt, SHANGHAI), exact_figures(session, viewer, flt, SHANGHAI))
            session.rollback()
