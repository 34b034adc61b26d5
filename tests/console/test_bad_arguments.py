"""Whatever a browser puts in a console or API address, the answer is never a 500.

``?page=²`` passed ``str.isdigit`` and then failed in ``int``; a huge id
failed in the database. Malformed page numbers get 400, ids no row can have
get 404, and malformed filters are ignored as they always were. A station
chosen in the address or a posted form (drills, broadcasts) that no row can
have gets 400, and a village or group posted there 404.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hotline.models import User
from hotline.services.stations import issue_api_token
from tests.support.console import at, login, make_incident

QUERY_ROUTES = [
    "/board", "/board.json", "/incidents", "/incidents.csv", "/incidents.xlsx", "/stats",
    "/directory/", "/directory/health", "/directory/audit",
    "/api/incidents", "/api/board", "/api/stats", "/api/groups",
]
# Pages about one station, chosen by ?station=<id> (a city-wide user's choice).
STATION_ROUTES = ["/drills/", "/drills/report.csv", "/drills/report.xlsx", "/broadcasts/", "/broadcasts/opt-outs"]
STATION_ROUTES += ["/api/broadcasts"]
QUERY_ROUTES += STATION_ROUTES
ID_ROUTES = [
    "/incidents/{id}", "/directory/groups/{id}", "/directory/groups/{id}/edit", "/directory/groups/{id}/delete",
    "/directory/groups/{id}/members/new", "/directory/members/{id}/edit",
    "/api/incidents/{id}", "/api/groups/{id}", "/api/members/{id}",
]
ARGUMENTS = ["page", "per_page", "village", "group", "status", "from", "to", "drill", "log", "lang", "station"]
NASTY = ["²", "١٢", "１２", "99999999999999999999999", str(2**31), "-1", "0", "1e3", " ", "%00", "x", "9999-12-31",
         "0001-01-01", "2026-02-30"]
HUGE_IDS = ["99999999999999999999999", str(2**31), str(2**63), "²", "１２"]


@pytest.fixture
def signed_in(console, session, world):
    make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"))
    login(console, "city")
    return console


def test_a_malformed_page_number_is_a_400_saying_what_is_wrong(signed_in):
    for route in ("/incidents", "/directory/audit", "/api/incidents"):
        for value in ("²", "١٢", "99999999999999999999999", "-1", "0", "x"):
            response = signed_in.get(route, query_string={"page": value})
            assert response.status_code == 400, (route, value)
            body = response.get_data(as_text=True)
            assert "page" in body and "整数" in body


def test_a_malformed_per_page_is_a_400_and_a_large_one_is_capped(signed_in):
    refused = signed_in.get("/api/incidents?per_page=²")
    assert refused.status_code == 400 and refused.get_json()["status"] == 400
    assert "per_page" in refused.get_json()["message"]
    assert signed_in.get("/api/incidents?per_page=100000").status_code == 200


@pytest.mark.parametrize("value", ["²", "99999999999999999999999", "x"])
def test_a_malformed_filter_is_refused_by_name(signed_in, value):
    for route in ("/incidents", "/stats", "/api/incidents", "/api/stats", "/incidents.csv"):
        response = signed_in.get(route, query_string={"village": value})
        assert response.status_code == 400, route
        assert "village" in response.get_data(as_text=True), route
    everything = signed_in.get("/api/incidents").get_json()["total"]
    assert signed_in.get("/api/incidents", query_string={"village": ""}).get_json()["total"] == everything


def test_ids_no_row_can_have_are_not_found(signed_in):
    for route in ID_ROUTES:
        for raw_id in HUGE_IDS:
            assert signed_in.get(route.format(id=raw_id)).status_code == 404, (route, raw_id)


def test_posting_to_an_impossible_id_is_not_found(signed_in):
    for route in ("/incidents/{id}/close", "/incidents/{id}/take", "/directory/members/{id}/delete"):
        assert signed_in.post(route.format(id=2**40)).status_code == 404, route


def test_every_argument_with_nasty_values_never_answers_500(signed_in):
    for route in QUERY_ROUTES:
        # Every filter at once (a bad page would answer 400 before they are read), then the page arguments.
        for value in NASTY:
            filters = {name: value for name in ARGUMENTS if name not in {"page", "per_page"}}
            for query in (filters, {"page": value}, {"per_page": value}):
                response = signed_in.get(route, query_string=query)
                assert response.status_code in {200, 400}, (route, query, response.status_code)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(QUERY_ROUTES + [r.format(id="1") for r in ID_ROUTES]),
    name=st.sampled_from(ARGUMENTS),
    value=st.text(min_size=1, max_size=30),
    raw_id=st.one_of(st.integers(min_value=0, max_value=2**80).map(str), st.text(min_size=1, max_size=12)),
)
def test_arbitrary_arguments_and_ids_never_answer_500(signed_in, route, name, value, raw_id):
    response = signed_in.get(route, query_string={name: value})
    assert response.status_code < 500, (route, name, value)
    for template in ID_ROUTES[:1] + ID_ROUTES[-3:]:
        path = template.format(id=raw_id.replace("/", "").replace("?", "").replace("#", "") or "0")
        assert signed_in.get(path).status_code < 500, path


# --- drills and broadcasts: the station chosen, and ids posted in their forms -----------------------------

HUGE = "99999999999999999999"


def test_a_station_no_row_can_have_is_a_400_naming_it(signed_in):
    for route in STATION_ROUTES:
        for value in (HUGE, str(2**31), "²", "١٢", "-1", "0", "x"):
            response = signed_in.get(route, query_string={"station": value})
            assert response.status_code == 400, (route, value, response.status_code)
            assert "station" in response.get_data(as_text=True), (route, value)
        for value in (str(2**31 - 1), ""):
            assert signed_in.get(route, query_string={"station": value}).status_code in {200, 404}, (route, value)


def test_posting_a_station_no_row_can_have_is_a_400(signed_in):
    posted = ["/broadcasts/preview", "/broadcasts/send", "/broadcasts/quiet-hours", "/drills/start", "/drills/standard"]
    for route in posted:
        for value in (HUGE, "²"):
            response = signed_in.post(route, data={"station": value, "scope": "all", "content": "x", "confirm": "1"})
            assert response.status_code == 400, (route, value, response.status_code)


def test_posting_a_village_or_group_no_row_can_have_is_not_found(signed_in, world):
    station = world.group_a.village.station_id
    for value in (HUGE, str(2**31), "²", "١٢"):
        for name in ("village", "group"):
            drill = signed_in.post("/drills/start", data={"station": station, "scope": name, name: value})
            assert drill.status_code == 404, (name, value, drill.status_code)
            broadcast = signed_in.post(
                "/broadcasts/preview", data={"station": station, name: value, "channel": "sms", "content": "通知"}
            )
            assert broadcast.status_code == 404, (name, value, broadcast.status_code)


def test_the_broadcast_api_refuses_a_station_no_row_can_have(signed_in, console_app, session):
    user = session.scalar(select(User).where(User.username == "city"))
    bearer = {"Authorization": f"Bearer {issue_api_token(user)}"}
    session.commit()
    for wanted in (10**20, 2**31, -(10**20)):
        body = {"station": wanted, "text": "通知", "channel": "sms"}
        response = console_app.test_client().post("/api/broadcasts", json=body, headers=bearer)
        assert response.status_code == 404, (wanted, response.status_code)
    listed = signed_in.get("/api/broadcasts", query_string={"station": HUGE})
    assert listed.status_code == 400 and "station" in listed.get_json()["message"]


def test_moving_a_member_to_a_group_no_row_can_have_asks_for_a_group(signed_in, world):
    member = world.group_a.members[1]
    for value in (HUGE, str(2**31), "²", ""):
        response = signed_in.post(
            f"/directory/members/{member.id}/edit",
            data={"group_id": value, "name": member.name, "phone": member.phone, "role": member.role},
        )
        assert response.status_code == 400, (value, response.status_code)
        assert "选择" in response.get_data(as_text=True) or "Choose" in response.get_data(as_text=True)
    for value in (HUGE, "²"):
        new = signed_in.post("/directory/groups/new", data={"station_id": value, "village": "东村", "name": "三组"})
        assert new.status_code == 400, (value, new.status_code)
