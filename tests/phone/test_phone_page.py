"""The browser phone's page and JSON API, through Flask's test client.

A real carrier simulator is served on a free loopback port for the API to
forward to; its service URL points at a closed port, so webhooks it sends
fail fast and nothing else answers them. CSRF checks are on, as in production.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hotline.app import create_app
from hotline.models import Answer, Channel
from hotline.phone import simlink
from hotline.phone.timeline import clock, title
from hotline.services.incidents import open_incident
from hotline.services.responses import record_response
from simulator import Simulator, serve_simulator
from tests.factories import call_sid, make_group
from tests.support.stack import free_port

SIM_TOKEN = "hotline-simulator"
HOTLINE = "+8657188880000"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(
        service_url=f"http://127.0.0.1:{free_port()}",
        auth_token=SIM_TOKEN,
        hotline_number=HOTLINE,
        time_scale=0.2,
        sms_delivery_delay=0.0,
        webhook_timeout=2.0,
    )
    server, thread, url = serve_simulator(simulator)
    simulator.url = url  # type: ignore[attr-defined]
    yield simulator
    server.shutdown()
    thread.join(timeout=5)
    simulator.shutdown()


@pytest.fixture
def environ(environ: dict[str, str], sim: Simulator) -> dict[str, str]:
    return {**environ, "HOTLINE_SIMULATOR_URL": sim.url}  # type: ignore[attr-defined]


@pytest.fixture
def group(session):
    return make_group(session, households=3)


@pytest.fixture
def people(group):
    """(caller, the group's other members) for the group's first household."""
    members = list(group.members)
    caller = next(m for m in members if m.role == "household")
    return caller, [m for m in members if m.phone != caller.phone]


def csrf_headers(client, caller_phone: str) -> dict[str, str]:
    """The token the page renders in its ``<meta name="csrf-token">``, as the page's script sends it."""
    page = client.get("/phone/", query_string={"caller": caller_phone}).get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert token, "the page renders a CSRF token for its script"
    return {"X-CSRFToken": token.group(1)}


# --- the page --------------------------------------------------------------


def test_page_lists_every_number_by_station_village_and_group(client, people):
    caller, others = people
    response = client.get("/phone/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "城关派出所" in page and "东村 · 一组" in page
    for member in [caller, *others]:
        assert member.name in page and member.phone in page
    assert "联防组长" in page and "社区民警" in page and "警务助理" in page
    assert f'href="/phone/?caller=%2B{caller.phone[1:]}"' in page
    assert "一分钟看懂" in page, "without a chosen caller the page explains what to do"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_page_for_a_caller_shows_the_group_phones_and_the_duty_line(client, people):
    caller, others = people
    page = client.get("/phone/", query_string={"caller": caller.phone}).get_data(as_text=True)
    cards = re.findall(r'class="phone-card[^"]*" data-phone="([^"]+)"', page)
    assert cards == [caller.phone, *[m.phone for m in others], "+861088880000"]
    assert "我的手机" in page and "拨打求助热线" in page and "派出所值班电话" in page
    assert 'id="phone-data"' in page and '<meta name="csrf-token"' in page
    assert "/phone/static/phone.js" in page


def test_page_warns_when_the_number_is_not_a_caller(client, people):
    _, others = people
    officer = next(m for m in others if m.role == "officer")
    page = client.get("/phone/", query_string={"caller": officer.phone}).get_data(as_text=True)
    assert "未登记来电" in page


def test_unknown_caller_is_404(client, group):
    response = client.get("/phone/", query_string={"caller": "+8613999999999"})
    assert response.status_code == 404
    assert "名单中没有号码 +8613999999999" in response.get_data(as_text=True)


def test_static_script_is_served(client):
    response = client.get("/phone/static/phone.js")
    assert response.status_code == 200
    assert "X-CSRFToken" in response.get_data(as_text=True)


# --- answering modes ------------------------------------------------------------


def test_watch_makes_unscripted_phones_manual_and_keeps_given_scripts(client, sim, people):
    caller, others = people
    sim.script(others[1].phone, ignore=True)
    response = client.post(
        "/phone/api/watch", json={"numbers": [caller.phone, others[0].phone, others[1].phone]},
        headers=csrf_headers(client, caller.phone),
    )
    assert response.status_code == 200
    modes = {phone["number"]: phone["mode"] for phone in response.get_json()["phones"]}
    assert modes == {caller.phone: "manual", others[0].phone: "manual", others[1].phone: "ignore"}
    assert sim.phone(others[0].phone)["script"]["manual"] is True
    assert sim.phone(others[1].phone)["script"]["ignore"] is True


def test_mode_switch_scripts_the_simulator_phone(client, sim, people):
    caller, others = people
    headers = csrf_headers(client, caller.phone)
    response = client.put(f"/phone/api/phones/{others[0].phone}/mode", json={"mode": "auto"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["phone"]["mode"] == "auto"
    script = sim.phone(others[0].phone)["script"]
    assert (script["manual"], script["press"], script["ignore"]) == (False, "1", False)

    ignoring = client.put(f"/phone/api/phones/{others[0].phone}/mode", json={"mode": "ignore"}, headers=headers)
    assert ignoring.status_code == 200
    assert sim.phone(others[0].phone)["script"]["ignore"] is True

    bad = client.put(f"/phone/api/phones/{others[0].phone}/mode", json={"mode": "voicemail"}, headers=headers)
    assert bad.status_code == 400 and "mode" in bad.get_json()["error"]


def test_numbers_outside_the_directory_are_refused(client, people):
    caller, _ = people
    headers = csrf_headers(client, caller.phone)
    unknown = client.put("/phone/api/phones/+8613999999999/mode", json={"mode": "manual"}, headers=headers)
    assert unknown.status_code == 404 and "名单中没有" in unknown.get_json()["error"]
    malformed = client.post("/phone/api/dial", json={"from": "13800000000"}, headers=headers)
    assert malformed.status_code == 400
    assert client.get("/phone/api/phones", query_string={"number": "+8613999999999"}).status_code == 404
    assert client.get("/phone/api/phones").status_code == 400


def test_posts_without_the_csrf_token_are_refused_as_json(client, people):
    caller, _ = people
    response = client.post("/phone/api/dial", json={"from": caller.phone})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]


# --- phones, calls and texts ---------------------------------------------------------


def test_phones_show_calls_prompts_and_messages(client, sim, people):
    caller, others = people
    member = others[0].phone
    sim.script(member, manual=True)
    sim.submit_sms(to=member, from_=HOTLINE, body="【联防求助】测试")
    sid = sim.place_call(to=member, from_=HOTLINE, url="http://127.0.0.1:1/none", timeout=60)["sid"]
    sim.wait_for(lambda: sim.call(sid)["status"] == "ringing")
    sim.wait_for(lambda: sim.phone(member)["messages"])

    response = client.get("/phone/api/phones", query_string={"number": [member, caller.phone]})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    phone, mine = response.get_json()["phones"]
    assert phone["number"] == member and phone["mode"] == "manual"
    call = phone["calls"][0]
    assert (call["sid"], call["incoming"], call["status"], call["status_label"], call["live"], call["manual"]) == (
        sid, True, "ringing", "响铃中", True, True,
    )
    assert phone["messages"] == [{"sid": phone["messages"][0]["sid"], "mine": False, "body": "【联防求助】测试",
                                  "at": phone["messages"][0]["at"]}]
    assert mine["calls"] == [] and mine["messages"] == []


def test_call_actions_are_forwarded(client, sim, people):
    caller, others = people
    headers = csrf_headers(client, caller.phone)
    member = others[0].phone
    sim.script(member, manual=True)
    sid = sim.place_call(to=member, from_=HOTLINE, url="http://127.0.0.1:1/none", timeout=60)["sid"]
    sim.wait_for(lambda: sim.call(sid)["status"] == "ringing")

    too_early = client.post(f"/phone/api/calls/{sid}/press", json={"digits": "1"}, headers=headers)
    assert too_early.status_code == 409, "keys only work once the call is answered"
    answered = client.post(f"/phone/api/calls/{sid}/answer", headers=headers)
    assert answered.status_code == 200 and answered.get_json()["call"]["sid"] == sid
    sim.wait_for(lambda: sim.call(sid)["answered_at"] is not None)
    assert client.post(f"/phone/api/calls/{sid}/answer", headers=headers).status_code == 409

    second = sim.place_call(to=member, from_=HOTLINE, url="http://127.0.0.1:1/none", timeout=60)["sid"]
    sim.wait_for(lambda: sim.call(second)["status"] == "ringing")
    assert client.post(f"/phone/api/calls/{second}/reject", headers=headers).status_code == 200
    assert sim.wait_for_call(second)["status"] == "busy"


def test_call_actions_validate_their_input(client, people):
    caller, _ = people
    headers = csrf_headers(client, caller.phone)
    missing = "CA" + "0" * 32
    assert client.post(f"/phone/api/calls/{missing}/answer", headers=headers).status_code == 404
    assert client.post("/phone/api/calls/not-a-sid/answer", headers=headers).status_code == 404
    assert client.post(f"/phone/api/calls/{missing}/transfer", headers=headers).status_code == 404
    bad_keys = client.post(f"/phone/api/calls/{missing}/press", json={"digits": "1a"}, headers=headers)
    assert bad_keys.status_code == 400


def test_dial_and_text_go_out_from_the_chosen_phone(client, sim, people):
    caller, others = people
    headers = csrf_headers(client, caller.phone)
    dialled = client.post("/phone/api/dial", json={"from": caller.phone}, headers=headers)
    assert dialled.status_code == 201
    call = sim.call(dialled.get_json()["sid"])
    assert (call["from"], call["to"]) == (caller.phone, HOTLINE)

    texted = client.post("/phone/api/sms", json={"from": others[0].phone, "body": " 1 "}, headers=headers)
    assert texted.status_code == 201
    assert [m["body"] for m in sim.phone(others[0].phone)["sent"]] == ["1"]

    empty = client.post("/phone/api/sms", json={"from": others[0].phone, "body": "  "}, headers=headers)
    assert empty.status_code == 400
    not_json = client.post("/phone/api/sms", data="1", headers=headers)
    assert not_json.status_code == 400


def test_simulator_down_answers_502(environ, app, people):
    caller, _ = people
    down = create_app({**environ, "HOTLINE_SIMULATOR_URL": f"http://127.0.0.1:{free_port()}"})
    response = down.test_client().get("/phone/api/phones", query_string={"number": caller.phone})
    assert response.status_code == 502
    assert "模拟器未响应" in response.get_json()["error"]


# --- the timeline ------------------------------------------------------------------


def test_timeline_reads_the_callers_latest_incident(client, app, session, people):
    caller, others = people
    assert client.get("/phone/api/timeline", query_string={"caller": caller.phone}).get_json() == {
        "incident": None, "events": [],
    }
    settings = app.extensions["hotline.settings"]
    opened = open_incident(session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid())
    session.commit()
    leader = next(m for m in others if m.role == "leader")
    record_response(session, settings, opened.incident, phone=leader.phone, channel=Channel.CALL,
                    answer=Answer.ACCEPT, source_sid=call_sid())
    session.commit()

    data = client.get("/phone/api/timeline", query_string={"caller": caller.phone}).get_json()
    incident = data["incident"]
    assert (incident["id"], incident["status"]) == (opened.incident.id, "acknowledged")
    assert incident["status_label"] == "已有人响应"
    assert incident["acknowledged_by"] == leader.name and incident["elapsed"] >= 0
    kinds = [event["kind"] for event in data["events"]]
    assert kinds == ["call_received", "fan_out", "call_accepted", "acknowledged"]
    accepted = data["events"][2]
    assert accepted["title"] == "电话按键应答" and accepted["key"] is True
    assert leader.name in accepted["detail"] and "接受" in accepted["detail"]
    assert data["events"][0]["clock"] == "+0:00"


def test_timeline_helpers():
    assert clock(0) == "+0:00" and clock(65.9) == "+1:05" and clock(-3) == "+0:00"
    assert title("sms_delivered") == "短信已送达"
    assert title("call_no_answer") == "电话无人接听"
    assert title("something_new") == "something_new"
    assert simlink.mode_of({"manual": True}) == "manual"
    assert simlink.mode_of({"press": "1", "busy": False}) == "auto"
    assert simlink.mode_of({"press": "1", "voicemail": True}) == "other"


# --- only with the simulator -----------------------------------------------------------


def test_no_phone_page_when_twilio_is_the_carrier(environ, app):
    twilio = create_app({
        **environ,
        "HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "HOTLINE_TWILIO_AUTH_TOKEN": "token",
        "HOTLINE_TWILIO_NUMBER": "+8657188880000",
    })
    client = twilio.test_client()
    paths = ("/phone/", "/phone/api/phones?number=%2B8613800100000", "/phone/api/timeline", "/phone/static/phone.js")
    for path in paths:
        assert client.get(path).status_code == 404, path
    assert client.post("/phone/api/dial", json={"from": "+8613800100000"}).status_code == 404
    assert "phone" not in twilio.blueprints
