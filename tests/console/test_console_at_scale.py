"""The console with years of history: a bounded board by urgency, pages that continue from a row, estimates.

Nothing here is timed: these check what the pages show and that the
database keeps what the statistics read (each incident's first acceptance).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.console import queries
from hotline.models import Answer, Channel, Incident, Response, utcnow
from tests.support.console import at, login, make_incident


@pytest.fixture
def signed_in(console, world):
    login(console, "a_staff")
    return console


def test_the_board_shows_the_most_urgent_first_and_says_how_many_more(signed_in, session, world, monkeypatch):
    monkeypatch.setattr(queries, "BOARD_LIMIT", 3)
    now = utcnow()
    young_duty_line = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=200), level=3)
    old_quiet = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=600))
    officers = make_incident(session, world.group_a2, opened_at=now - timedelta(seconds=100), level=1)
    older_officers = make_incident(session, world.group_a2, opened_at=now - timedelta(seconds=300), level=1)
    # Someone is coming to this one: it waits behind every unanswered alert.
    make_incident(session, world.group_a, opened_at=now - timedelta(seconds=900), level=2, accept_after=30)
    make_incident(session, world.group_a, opened_at=now - timedelta(hours=2), closed=True)
    make_incident(session, world.group_b, opened_at=now - timedelta(seconds=50), level=3)  # another station's

    data = signed_in.get("/board.json").get_json()
    assert [row["id"] for row in data["incidents"]] == [young_duty_line.id, older_officers.id, officers.id]
    assert data["more"] == 2  # the quiet one and the acknowledged one
    assert signed_in.get("/api/board").get_json()["more"] == 2
    page = signed_in.get("/board").get_data(as_text=True)
    assert "另有 2 起未结警情未显示" in page

    monkeypatch.setattr(queries, "BOARD_LIMIT", 100)
    data = signed_in.get("/board.json").get_json()
    assert [row["id"] for row in data["incidents"]][3] == old_quiet.id and data["more"] == 0
    assert 'id="board-more" data-template=' in signed_in.get("/board").get_data(as_text=True)


def _api(client, query: str) -> dict:
    response = client.get(f"/api/incidents?per_page=5&{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_next_and_previous_continue_from_the_rows_shown(signed_in, session, world):
    start = at("2026-01-01 00:00:00")
    made = [make_incident(session, world.group_a, opened_at=start + timedelta(hours=i)) for i in range(11)]
    # Two incidents in the same second: the id keeps them in one order, neither skipped nor shown twice.
    made.append(make_incident(session, world.group_a2, opened_at=start + timedelta(hours=10)))
    newest_first = [i.id for i in sorted(made, key=lambda i: (i.opened_at, i.id), reverse=True)]

    first = _api(signed_in, "")
    assert [item["id"] for item in first["items"]] == newest_first[:5]
    assert (first["total"], first["pages"], first["total_exact"], first["previous"]) == (12, 3, True, None)
    second = _api(signed_in, f"after={first['next']}&page=2")
    assert [item["id"] for item in second["items"]] == newest_first[5:10]
    third = _api(signed_in, f"after={second['next']}&page=3")
    assert [item["id"] for item in third["items"]] == newest_first[10:]
    assert third["next"] is None and third["page"] == 3
    back = _api(signed_in, f"before={third['previous']}&page=2")
    assert [item["id"] for item in back["items"]] == newest_first[5:10]
    start_again = _api(signed_in, f"before={back['previous']}&page=1")
    assert [item["id"] for item in start_again["items"]] == newest_first[:5] and start_again["previous"] is None

    # The console's pages hold 50: after the first five, the other seven, and a way back to the start.
    page = signed_in.get(f"/incidents?after={first['next']}&page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in page and 'rel="prev"' in page and 'rel="next"' not in page
    assert page.count('href="/incidents/') == 7


def test_a_cursor_the_list_did_not_write_is_refused(signed_in):
    for value in ("abc", "12", "1.x", "99999999999999999999.1", "-1.²"):
        refused = signed_in.get(f"/incidents?after={value}")
        assert refused.status_code == 400 and "after" in refused.get_data(as_text=True), value
        api = signed_in.get(f"/api/incidents?before={value}")
        assert api.status_code == 400 and "before" in api.get_json()["message"], value


def test_past_the_count_limit_the_total_is_an_estimate(signed_in, session, world, monkeypatch):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("only PostgreSQL estimates; other databases count every row")
    monkeypatch.setattr(queries, "COUNT_LIMIT", 3)
    start = at("2026-01-01 00:00:00")
    for i in range(6):
        make_incident(session, world.group_a, opened_at=start + timedelta(hours=i))
    data = _api(signed_in, "")
    assert data["total_exact"] is False and data["total"] >= 4
    assert "约" in signed_in.get("/incidents").get_data(as_text=True)
    # A filter that matches fewer is still counted exactly.
    assert _api(signed_in, "from=2026-01-01&to=2026-01-01&status=closed")["total_exact"] is True


def test_the_database_keeps_each_incidents_first_acceptance(session, world):
    opened = at("2026-02-01 08:00:00")
    incident = make_incident(session, world.group_a, opened_at=opened)
    leader, household = world.group_a.members[0], world.group_a.members[1]
    for seconds, answer, phone in ((5, Answer.DECLINE, household.phone), (40, Answer.ACCEPT, leader.phone),
                                   (25, Answer.ACCEPT, household.phone)):
        session.add(Response(
            incident_id=incident.id, phone=phone, channel=Channel.SMS, answer=answer,
            source_sid=f"SM-{seconds}", received_at=opened + timedelta(seconds=seconds),
        ))
        session.commit()
    session.expire_all()
    found = session.scalar(select(Incident.first_accept_at).where(Incident.id == incident.id))
    assert found == opened + timedelta(seconds=25), "the earliest acceptance, not the latest or a decline"
