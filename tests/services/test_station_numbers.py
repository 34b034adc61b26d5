"""Stations with their own hotline numbers, strangers who call them, and incidents needing a station."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from hotline.models import Incident, Notification, Station
from hotline.services.stations import add_user
from tests.factories import call_sid, make_group, message_sid, signed_post
from tests.support.console import PASSWORD, login

SHARED = "+8657188880000"  # the hotline number every station shares by default
NUMBER_A, NUMBER_B = "+8657188880001", "+8657188880002"
DUTY_A, DUTY_B = "+861088880000", "+861088881111"
FALLBACK = "+861066660000"
STRANGER = "+8613999999999"


@pytest.fixture
def environ(environ):
    return {**environ, "HOTLINE_FALLBACK_PHONE": FALLBACK}


@pytest.fixture
def stations(session):
    """Two stations, each with a group and a duty line, and no hotline numbers of their own yet."""
    make_group(session, station_name="城关派出所", duty_phone=DUTY_A, prefix="+86138001")
    make_group(session, station_name="南山派出所", duty_phone=DUTY_B, prefix="+86138002")
    add_user(session, "a_staff", PASSWORD, "城关派出所")
    add_user(session, "city", PASSWORD, None)
    session.commit()
    a = session.scalar(select(Station).where(Station.name == "城关派出所"))
    b = session.scalar(select(Station).where(Station.name == "南山派出所"))
    return a, b


def _own_numbers(session, stations):
    a, b = stations
    a.hotline_number, b.hotline_number = NUMBER_A, NUMBER_B
    session.commit()


# --- hotline stations set --hotline-number ------------------------------------------------------


def test_stations_set_gives_a_station_its_own_hotline_number(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["stations", "set", "南山派出所", "--duty-phone", DUTY_B]).exit_code == 0
    result = runner.invoke(args=["stations", "set", "城关派出所", "--hotline-number", "0571-8888 0001"])
    assert result.exit_code == 0, result.output
    assert f"hotline number {NUMBER_A}" in result.output
    assert session.scalar(select(Station.hotline_number).where(Station.name == "城关派出所")) == NUMBER_A

    taken = runner.invoke(args=["stations", "set", "南山派出所", "--hotline-number", "+86 571 8888 0001"])
    assert taken.exit_code != 0
    assert f"热线号码 {NUMBER_A} 已属于城关派出所：一个号码只能对应一个派出所" in taken.output
    assert 'hotline stations set 城关派出所 --hotline-number ""' in taken.output
    bad = runner.invoke(args=["stations", "set", "南山派出所", "--hotline-number", "12"])
    assert bad.exit_code != 0 and "热线号码“12”不是有效的电话号码" in bad.output

    listed = runner.invoke(args=["stations", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"station 城关派出所: hotline number {NUMBER_A}" in listed.output
    assert "station 南山派出所: hotline number shared" in listed.output

    # Setting it again on its own station is no conflict; "" gives it back to the shared number.
    assert runner.invoke(args=["stations", "set", "城关派出所", "--hotline-number", NUMBER_A]).exit_code == 0
    assert runner.invoke(args=["stations", "set", "城关派出所", "--hotline-number", ""]).exit_code == 0
    session.expire_all()
    assert session.scalar(select(Station.hotline_number).where(Station.name == "城关派出所")) is None


# --- a stranger calls or texts a station's own number -------------------------------------------


def test_a_stranger_calling_station_bs_number_reaches_bs_duty_line(client, session, redis_conn, stations):
    _own_numbers(session, stations)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER, "To": NUMBER_B})

    assert ET.fromstring(response.data).find("Dial/Number").text == DUTY_B
    incident = session.scalar(select(Incident))
    assert incident.unregistered and incident.station_id == stations[1].id


def test_a_stranger_texting_station_bs_number_is_forwarded_to_bs_duty_line(client, session, redis_conn, stations):
    _own_numbers(session, stations)
    params = {"MessageSid": message_sid(), "From": STRANGER, "To": NUMBER_B, "Body": "有人闯进我家"}
    assert signed_post(client, "/twilio/sms", params).status_code == 200

    incident = session.scalar(select(Incident))
    assert incident.unregistered and incident.station_id == stations[1].id
    forwarded = session.scalars(select(Notification.phone).where(Notification.incident_id == incident.id)).all()
    assert forwarded == [DUTY_B]


def test_a_stranger_calling_the_shared_number_reaches_the_fallback_line(client, session, redis_conn, stations):
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER, "To": SHARED})

    assert ET.fromstring(response.data).find("Dial/Number").text == FALLBACK
    incident = session.scalar(select(Incident))
    assert incident.unregistered and incident.station_id is None


# --- the console: incidents needing a station ---------------------------------------------------


def _stranger_incident(client, session):
    signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER, "To": SHARED})
    return session.scalar(select(Incident).where(Incident.caller_phone == STRANGER))


def test_city_wide_users_see_an_incident_needing_a_station_marked(console_app, session, redis_conn, stations):
    incident = _stranger_incident(console_app.test_client(), session)
    assert incident.station_id is None
    city = console_app.test_client()
    login(city, "city")

    board = city.get("/board").get_data(as_text=True)
    assert STRANGER in board and "待指派派出所" in board
    listing = city.get("/incidents").get_data(as_text=True)
    assert f"#{incident.id}" in listing and "待指派派出所" in listing
    rows = city.get("/board.json").get_json()["incidents"]
    assert [(r["caller_phone"], r["needs_station"]) for r in rows] == [(STRANGER, True)]
    assert city.get(f"/incidents/{incident.id}").status_code == 200


def test_station_staff_never_see_an_incident_without_a_station(console_app, session, redis_conn, stations):
    incident = _stranger_incident(console_app.test_client(), session)
    staff = console_app.test_client()
    login(staff, "a_staff")

    assert STRANGER not in staff.get("/board").get_data(as_text=True)
    assert staff.get("/board.json").get_json()["incidents"] == []
    assert f"#{incident.id}" not in staff.get("/incidents").get_data(as_text=True)
    assert staff.get(f"/incidents/{incident.id}").status_code == 404


def test_an_incident_with_a_station_is_not_marked(console_app, session, redis_conn, stations):
    _own_numbers(session, stations)
    signed_post(console_app.test_client(), "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER, "To": NUMBER_A})
    city = console_app.test_client()
    login(city, "city")
    assert "待指派派出所" not in city.get("/incidents").get_data(as_text=True)
    assert [r["needs_station"] for r in city.get("/board.json").get_json()["incidents"]] == [False]
