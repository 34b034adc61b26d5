"""Statistics: the pure functions, and the page and API against a hand count."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.console.charts import bar_chart, nice_top
from hotline.console.stats import (
    Bucket,
    Fact,
    percentile,
    response_histogram,
    summarise,
    summarise_by,
    week_start,
    weekly_counts,
)
from hotline.models import Role
from tests.support.console import at, login, make_incident, member

SHANGHAI = ZoneInfo("Asia/Shanghai")


def fact(seconds: float | None, *, level: int = 0, group: int = 1, opened: datetime | None = None) -> Fact:
    return Fact(
        incident_id=0,
        opened_at=opened or datetime(2026, 3, 2, tzinfo=UTC),
        village_id=group,
        village=f"v{group}",
        group_id=group,
        group=f"g{group}",
        acknowledged=seconds is not None,
        first_response_seconds=seconds,
        escalation_level=level,
    )


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([10, 20, 30, 40, 50], 0.5) == 30
    assert percentile([50, 10, 40, 20, 30], 0.9) == pytest.approx(46)
    assert percentile([10, 20], 0.5) == 15
    with pytest.raises(ValueError):
        percentile([1], 1.5)


def test_summarise_counts_rates_and_times():
    summary = summarise([fact(20), fact(None, level=2), fact(None), fact(100, level=1)])
    assert (summary.incidents, summary.acknowledged, summary.escalated) == (4, 2, 2)
    assert summary.ack_rate == 0.5 and summary.escalation_rate == 0.5
    assert summary.median_seconds == 60
    assert summary.p90_seconds == pytest.approx(92)
    empty = summarise([])
    assert empty.ack_rate is None and empty.median_seconds is None


def test_summarise_by_splits_on_the_key():
    by_group = summarise_by([fact(10, group=1), fact(None, group=2), fact(30, group=1)], lambda f: f.group_id)
    assert by_group[1].incidents == 2 and by_group[1].median_seconds == 20
    assert by_group[2].acknowledged == 0


def test_response_histogram_buckets_with_edges_going_up():
    buckets = response_histogram([fact(0), fact(14.9), fact(15), fact(59), fact(60), fact(301), fact(None)])
    assert buckets == [
        Bucket(0, 15, 2),
        Bucket(15, 30, 1),
        Bucket(30, 60, 1),
        Bucket(60, 120, 1),
        Bucket(120, 300, 0),
        Bucket(300, None, 1),
        Bucket(None, None, 1),
    ]


def test_weeks_are_local_weeks_with_empty_weeks_filled():
    sunday_night_utc = datetime(2026, 3, 8, 16, 0, tzinfo=UTC)  # Monday 00:00 in Beijing
    assert week_start(sunday_night_utc, SHANGHAI) == date(2026, 3, 9)
    facts = [fact(1, opened=datetime(2026, 3, 2, 1, tzinfo=UTC)), fact(1, opened=sunday_night_utc),
             fact(1, opened=datetime(2026, 3, 25, tzinfo=UTC))]
    assert weekly_counts(facts, SHANGHAI) == [
        (date(2026, 3, 2), 1), (date(2026, 3, 9), 1), (date(2026, 3, 16), 0), (date(2026, 3, 23), 1),
    ]
    assert weekly_counts([], SHANGHAI) == []
    empty_range = weekly_counts([], SHANGHAI, date(2026, 3, 4), date(2026, 3, 10))
    assert empty_range == [(date(2026, 3, 2), 0), (date(2026, 3, 9), 0)]
    many = [fact(1, opened=datetime(2020, 1, 1, tzinfo=UTC)), fact(1, opened=datetime(2026, 1, 1, tzinfo=UTC))]
    assert len(weekly_counts(many, SHANGHAI, max_weeks=10)) == 10


def test_bar_chart_geometry():
    assert [nice_top(n) for n in (0, 1, 3, 7, 10, 11, 26, 480)] == [1, 1, 5, 10, 10, 20, 50, 500]
    chart = bar_chart([("a", 5), ("b", 10), ("c", 0)], width=340, height=150)
    heights = [bar.height for bar in chart.bars]
    assert heights[1] == 2 * heights[0] and heights[2] == 0
    assert all(bar.y + bar.height == pytest.approx(chart.plot_bottom) for bar in chart.bars)
    assert [tick.value for tick in chart.ticks] == [0, 5, 10]
    crowded = bar_chart([(str(i), i) for i in range(30)], max_labels=10)
    assert sum(bar.show_label for bar in crowded.bars) == 10
    assert bar_chart([("a", 0)]).empty


@pytest.fixture
def known(session, world):
    """Station A's known incidents (see the hand count in the tests below)."""
    a, a2 = world.group_a, world.group_a2
    p1 = member(a, Role.HOUSEHOLD, 1).phone  # failed once, then delivered: reachable
    p2 = member(a, Role.HOUSEHOLD, 2).phone  # last SMS failed: unreachable
    make_incident(session, a, opened_at=at("2026-03-02 01:00:00"), accept_after=20, failed_phones=(p1,))
    make_incident(session, a, opened_at=at("2026-03-03 01:00:00"), level=2)
    make_incident(session, a2, opened_at=at("2026-03-04 01:00:00"), accept_after=40, drill=True)
    make_incident(session, a2, opened_at=at("2026-03-10 01:00:00"), accept_after=90)
    make_incident(session, a2, opened_at=at("2026-03-11 01:00:00"), accept_after=10)
    make_incident(session, a, opened_at=at("2026-03-24 01:00:00"))
    make_incident(session, a, opened_at=at("2026-03-25 01:00:00"), accept_after=100, level=1, failed_phones=(p2,))
    make_incident(session, world.group_b, opened_at=at("2026-03-25 02:00:00"), accept_after=5)  # station B
    opted = member(a, Role.HOUSEHOLD, 3)
    opted.opted_out = True
    gone = member(a, Role.HOUSEHOLD, 4)
    gone.opted_out, gone.active = True, False  # inactive: not counted
    for index in range(3):
        list(a2.members)[index].opted_out = True  # leaves a2 with 2 reachable
    session.commit()
    return world


def test_statistics_agree_with_a_hand_count(console, known):
    login(console, "a_staff")
    stats = console.get("/api/stats").get_json()  # real alerts only, by default
    # Hand count, real incidents of station A:
    #   东村/一组: 20 s; none (level 2); none; 100 s (level 1)  → 4, ack 2, esc 2, times [20, 100]
    #   西村/二组: 90 s; 10 s (the 40 s drill is left out)       → 2, ack 2, esc 0, times [10, 90]
    total = stats["total"]
    assert total["incidents"] == 6
    assert total["ack_rate"] == pytest.approx(4 / 6)
    assert total["escalation_rate"] == pytest.approx(2 / 6)
    assert total["median_seconds"] == pytest.approx(55)  # (20 + 90) / 2
    assert total["p90_seconds"] == pytest.approx(97)  # 90 + 0.7 × (100 − 90)
    groups = {row["name"]: row for row in stats["groups"]}
    east, west = groups["东村/一组"], groups["西村/二组"]
    assert (east["incidents"], east["acknowledged"], east["escalated"]) == (4, 2, 2)
    assert east["median_seconds"] == pytest.approx(60) and east["p90_seconds"] == pytest.approx(92)
    assert (west["incidents"], west["ack_rate"], west["escalation_rate"]) == (2, 1.0, 0.0)
    assert west["median_seconds"] == pytest.approx(50) and west["p90_seconds"] == pytest.approx(82)
    # Unreachable: 一组 has one opted out and one whose last SMS failed; 二组 three opted out.
    assert east["unreachable"] == 2 and west["unreachable"] == 3
    villages = {row["name"]: row for row in stats["villages"]}
    assert villages["东村"]["incidents"] == 4 and villages["西村"]["unreachable"] == 3
    histogram = [(b["from_seconds"], b["count"]) for b in stats["response_histogram"]]
    assert histogram == [(0, 1), (15, 1), (30, 0), (60, 2), (120, 0), (300, 0), (None, 2)]
    assert stats["weekly"] == [
        {"week": "2026-03-02", "incidents": 2},
        {"week": "2026-03-09", "incidents": 2},
        {"week": "2026-03-16", "incidents": 0},
        {"week": "2026-03-23", "incidents": 2},
    ]


def test_statistics_filters(console, known):
    login(console, "a_staff")
    drills = console.get("/api/stats?drill=drill").get_json()
    assert drills["total"]["incidents"] == 1 and drills["filter"]["drill"] == "drill"
    one_group = console.get(f"/api/stats?group={known.group_a2.id}").get_json()
    assert one_group["total"]["incidents"] == 2
    assert [row["name"] for row in one_group["groups"]] == ["西村/二组"]
    march_first_half = console.get("/api/stats?from=2026-03-01&to=2026-03-15").get_json()
    assert march_first_half["total"]["incidents"] == 4


def test_statistics_page_shows_tables_and_svg_charts(console, known):
    login(console, "a_staff")
    page = console.get("/stats").get_data(as_text=True)
    assert page.count("<svg") == 2
    assert "首次响应时间" in page and "每周警情数" in page
    assert "东村/一组" in page and "西村/二组" in page
    assert "67%" in page  # acknowledgement rate 4/6
    assert "0:55" in page and "1:37" in page  # median 55 s, p90 97 s
    assert "<script" not in page.split("<main>")[1]  # charts need no script
    assert "http://" not in page.split("<main>")[1].replace("http://www.w3.org/2000/svg", "")


def test_statistics_never_add_drills_to_real_alerts(console, known):
    """Real alerts or drills, never the two together: "all" is not offered, and an old link with it reads real."""
    login(console, "a_staff")
    page = console.get("/stats").get_data(as_text=True)
    drill_select = page.split('id="f-drill"', 1)[1].split("</select>", 1)[0]
    assert 'value="real"' in drill_select and 'value="drill"' in drill_select
    assert 'value="all"' not in drill_select and "演练和真实警情" not in drill_select
    assert "分开统计" in page
    old_link = console.get("/api/stats?drill=all").get_json()
    assert old_link["total"]["incidents"] == 6 and old_link["filter"]["drill"] == "real"
    assert 'value="real" selected' in console.get("/stats?drill=all").get_data(as_text=True)
    assert console.get("/api/stats?drill=maybe").status_code == 400
    # The incident list still shows drills and real alerts together when asked.
    listing = console.get("/incidents").get_data(as_text=True).split('id="f-drill"', 1)[1].split("</select>", 1)[0]
    assert 'value="all"' in listing
