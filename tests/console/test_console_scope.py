"""Station scoping: staff see only their station; the rest answers 404, never 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from hotline.console.scope import get_visible, get_visible_or_404, scoped, visible_groups
from hotline.models import Group, Incident, Member, Notification, Role, utcnow
from tests.support.console import login, make_incident, member


class Viewer:
    def __init__(self, station_id):
        self.station_id = station_id


@pytest.fixture
def incidents(session, world):
    now = utcnow()
    return {
        "a": make_incident(session, world.group_a, opened_at=now - timedelta(minutes=5)),
        "b": make_incident(session, world.group_b, opened_at=now - timedelta(minutes=3)),
    }


def test_scope_functions_keep_each_station_to_itself(session, world, incidents):
    station_a = world.group_a.village.station_id
    station_b = world.group_b.village.station_id
    a, city = Viewer(station_a), Viewer(None)
    b_member = member(world.group_b, Role.LEADER)
    assert get_visible(session, a, Incident, incidents["a"].id) is not None
    assert get_visible(session, a, Incident, incidents["b"].id) is None
    assert get_visible(session, a, Group, world.group_b.id) is None
    assert get_visible(session, a, Member, b_member.id) is None
    assert get_visible(session, city, Member, b_member.id) is not None
    with pytest.raises(NotFound):
        get_visible_or_404(session, a, Group, world.group_b.id)
    assert {g.id for g in visible_groups(session, a)} == {world.group_a.id, world.group_a2.id}
    assert len(visible_groups(session, city)) == 3
    members = session.scalars(scoped(select(Member), Viewer(station_b), Member)).all()
    assert {m.group_id for m in members} == {world.group_b.id}


def test_a_model_without_a_rule_is_refused_rather_than_shown_unscoped(session):
    with pytest.raises(TypeError):
        scoped(select(Notification), Viewer(1), Notification)


def _other_station_urls(world, incidents):
    b_member = member(world.group_b, Role.LEADER)
    return [
        f"/incidents/{incidents['b'].id}",
        f"/directory/groups/{world.group_b.id}",
        f"/directory/groups/{world.group_b.id}/edit",
        f"/directory/groups/{world.group_b.id}/delete",
        f"/directory/groups/{world.group_b.id}/members/new",
        f"/directory/members/{b_member.id}/edit",
        f"/api/incidents/{incidents['b'].id}",
        f"/api/groups/{world.group_b.id}",
        f"/api/members/{b_member.id}",
    ]


def test_station_a_gets_404_for_station_b_objects_by_url_and_api(console, world, incidents):
    login(console, "a_staff")
    for url in _other_station_urls(world, incidents):
        response = console.get(url)
        assert response.status_code == 404, url
    # The same URLs of a's own station work.
    assert console.get(f"/incidents/{incidents['a'].id}").status_code == 200
    assert console.get(f"/api/incidents/{incidents['a'].id}").status_code == 200
    assert console.get(f"/directory/groups/{world.group_a.id}").status_code == 200


def test_station_a_cannot_change_station_b_objects(console, session, world, incidents):
    login(console, "a_staff")
    b_leader = member(world.group_b, Role.LEADER)
    posts = {
        f"/incidents/{incidents['b'].id}/close": {"outcome": "resolved", "note": "x"},
        f"/directory/groups/{world.group_b.id}/edit": {"village": "南村", "name": "改名", "ring_mode": "simultaneous"},
        f"/directory/groups/{world.group_b.id}/delete": {},
        f"/directory/members/{b_leader.id}/edit": {
            "group_id": world.group_b.id, "name": "x", "phone": "13800138000", "role": "household", "active": "y",
        },
        f"/directory/members/{b_leader.id}/delete": {},
        f"/directory/groups/{world.group_b.id}/members/new": {
            "group_id": world.group_b.id, "name": "x", "phone": "13800138000", "role": "household", "active": "y",
        },
    }
    for url, data in posts.items():
        assert console.post(url, data=data).status_code == 404, url
    # Moving one's own member into another station's group is refused as well.
    a_member = member(world.group_a, Role.HOUSEHOLD, 2)
    moved = console.post(
        f"/directory/members/{a_member.id}/edit",
        data={
            "group_id": world.group_b.id, "name": a_member.name, "phone": a_member.phone, "role": "household",
            "active": "y",
        },
    )
    assert moved.status_code == 400
    session.expire_all()
    assert session.get(Member, a_member.id).group_id == world.group_a.id
    assert session.get(Group, world.group_b.id).name == "一组"
    assert session.get(Incident, incidents["b"].id).status != "closed"


def test_lists_and_api_lists_hold_only_the_station_own_rows(console, world, incidents):
    login(console, "a_staff")
    listing = console.get("/incidents").get_data(as_text=True)
    assert f"#{incidents['a'].id}<" in listing and f"#{incidents['b'].id}<" not in listing
    api = console.get("/api/incidents").get_json()
    assert [item["id"] for item in api["items"]] == [incidents["a"].id]
    board = console.get("/board.json").get_json()
    assert [item["id"] for item in board["incidents"]] == [incidents["a"].id]
    groups = console.get("/api/groups").get_json()["groups"]
    assert {group["id"] for group in groups} == {world.group_a.id, world.group_a2.id}
    directory = console.get("/directory/").get_data(as_text=True)
    assert "南村" not in directory
    export = console.get("/incidents.csv").get_data(as_text=True)
    assert export.count("\n") == 2  # heading and a's one incident
    stats = console.get("/api/stats?drill=all").get_json()
    assert stats["total"]["incidents"] == 1


def test_filtering_by_another_station_group_shows_nothing(console, world, incidents):
    login(console, "a_staff")
    api = console.get(f"/api/incidents?group={world.group_b.id}").get_json()
    assert api["items"] == []


def test_city_wide_user_sees_every_station(console, world, incidents):
    login(console, "city")
    assert console.get(f"/incidents/{incidents['b'].id}").status_code == 200
    assert console.get(f"/api/groups/{world.group_b.id}").status_code == 200
    ids = {item["id"] for item in console.get("/api/incidents").get_json()["items"]}
    assert ids == {incidents["a"].id, incidents["b"].id}


def test_station_b_sees_its_own_and_not_a(console, world, incidents):
    login(console, "b_staff")
    assert console.get(f"/incidents/{incidents['a'].id}").status_code == 404
    assert console.get(f"/incidents/{incidents['b'].id}").status_code == 200
