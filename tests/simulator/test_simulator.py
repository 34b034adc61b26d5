"""The carrier simulator against a tiny fake hotline service (all traffic on 127.0.0.1)."""

from __future__ import annotations

import re
import socket
import threading
import time
from email.utils import parsedate_to_datetime

import pytest
import requests
from twilio.request_validator import RequestValidator

from hotline.carriers.base import CarrierError, OutboundSms, Submitted
from hotline.carriers.simulator import SimulatorCarrier
from simulator import Simulator, serve_simulator
from simulator.client import SimulatorClient, SimulatorClientError
from simulator.twiml import Conference, Dial, Gather, Hangup, Redirect, Say, TwimlError, parse_twiml
from tests.simulator_support import FakeService, twiml

TOKEN = "test-auth-token"
HOTLINE = "+861012345678"
CALLER = "+8613900000000"
A, B, C, D = "+8613800000001", "+8613800000002", "+8613800000003", "+8613800000004"
SCALE = 0.1  # 1 simulated second = 100 ms

SCREEN = twiml(
    '<Gather numDigits="1" action="/twilio/screen-done" timeout="3">'
    '<Say language="zh-CN">紧急呼叫，按1接听。</Say></Gather>'
    '<Say language="zh-CN">未确认，再见。</Say><Hangup/>'
)


def ring_all(*numbers: str, timeout: int = 20, events: str = "initiated ringing answered completed") -> str:
    nouns = "".join(
        f'<Number url="/twilio/screen" statusCallback="/twilio/leg-status" statusCallbackEvent="{events}">{n}</Number>'
        for n in numbers
    )
    return twiml(f'<Dial action="/twilio/dial-done" timeout="{timeout}">{nouns}</Dial>')


def screen_done(params: dict[str, str]) -> str:
    return twiml('<Say language="zh-CN">正在为您接通。</Say>') if params.get("Digits") == "1" else twiml("<Hangup/>")


@pytest.fixture
def service():
    svc = FakeService(TOKEN)
    yield svc
    svc.stop()
    assert svc.invalid == [], "every simulator request must carry a valid Twilio signature"


@pytest.fixture
def sim(service):
    simulator = Simulator(
        service_url=service.base_url,
        auth_token=TOKEN,
        hotline_number=HOTLINE,
        time_scale=SCALE,
        webhook_timeout=2.0,
    )
    yield simulator
    started = time.monotonic()
    alive = simulator.shutdown(timeout=3.0)
    assert alive == []
    assert time.monotonic() - started < 3.0
    assert simulator.events(kind="simulator.error") == []


@pytest.fixture
def sim_url(sim):
    server, thread, base_url = serve_simulator(sim)
    yield base_url
    server.shutdown()
    server.server_close()
    thread.join(2)


def statuses(received, sid: str | None = None) -> list[str]:
    chosen = [r for r in received if sid is None or r.params["CallSid"] == sid]
    chosen.sort(key=lambda r: int(r.params["SequenceNumber"]))
    return [r.params["CallStatus"] for r in chosen]


def legs_by_phone(sim: Simulator, parent_sid: str) -> dict[str, dict]:
    return {leg["phone"]: sim.call(leg["sid"]) for leg in sim.call(parent_sid)["legs"]}


# --- signatures, parameters, Say / Gather / Redirect / Hangup -------------


def test_inbound_call_requests_are_signed_twilio_webhooks(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml('<Say language="zh-CN">您好，这里是联防热线。</Say><Hangup/>')

    sid = sim.dial(CALLER)
    call = sim.wait_for_call(sid)

    assert re.fullmatch(r"CA[0-9a-f]{32}", sid)
    assert call["status"] == "completed"
    assert call["heard"] == ["您好，这里是联防热线。"]
    voice = service.only("/twilio/voice")
    assert voice.valid and voice.method == "POST"
    assert RequestValidator(TOKEN).compute_signature(voice.url, voice.params) == voice.signature
    assert not RequestValidator("another-token").validate(voice.url, voice.params, voice.signature)
    assert re.fullmatch(r"AC[0-9a-f]{32}", voice.params["AccountSid"])
    assert voice.params["AccountSid"] == sim.account_sid
    expected = {
        "CallSid": sid,
        "From": CALLER,
        "To": HOTLINE,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    assert {key: voice.params.get(key) for key in expected} == expected
    status = service.requests_to("/twilio/voice/status")
    assert statuses(status) == ["ringing", "in-progress", "completed"]
    assert [r.params["SequenceNumber"] for r in status] == ["0", "1", "2"]
    assert {r.params["CallbackSource"] for r in status} == {"call-progress-events"}
    assert status[-1].params["CallDuration"] == "0"
    assert parsedate_to_datetime(status[0].params["Timestamp"]).tzinfo is not None
    # The service heard about the call (voice webhook) before the call was answered.
    assert voice.index < status[1].index


def test_gather_posts_digits_and_redirect_resolves_relative_urls(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml(
        '<Gather numDigits="1" action="menu" timeout="3"><Say language="zh-CN">按1报警，按2查询。</Say></Gather>'
        '<Say language="zh-CN">没有收到按键。</Say><Hangup/>'
    )
    service.routes["/twilio/menu"] = lambda p: twiml(
        '<Say language="zh-CN">已报警。</Say><Redirect method="GET">after-menu?step=2</Redirect>'
    )
    service.routes["/twilio/after-menu"] = lambda p: twiml(
        '<Pause length="1"/><Say language="zh-CN">再见。</Say><Hangup/>'
    )

    call = sim.wait_for_call(sim.dial(CALLER, press="1"))

    assert call["heard"] == ["按1报警，按2查询。", "已报警。", "再见。"]
    assert call["digits"] == ["1"]
    menu = service.only("/twilio/menu")
    assert (menu.params["Digits"], menu.params["CallStatus"], menu.params["CallSid"]) == (
        "1",
        "in-progress",
        call["sid"],
    )
    after = service.only("/twilio/after-menu")
    assert after.method == "GET"
    assert after.params["step"] == "2" and after.params["CallSid"] == call["sid"]
    assert after.valid
    assert [e["kind"] for e in call["transcript"]] == [
        "gather",
        "say",
        "gathered",
        "say",
        "redirect",
        "pause",
        "say",
        "hangup",
    ]


def test_gather_without_input_continues_with_the_next_verb(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml(
        '<Gather numDigits="1" action="/twilio/menu" timeout="2"><Say>按1报警。</Say></Gather><Say>没有收到按键。</Say>'
    )

    call = sim.wait_for_call(sim.dial(CALLER))

    assert call["heard"] == ["按1报警。", "没有收到按键。"]
    assert call["digits"] == []
    assert service.requests_to("/twilio/menu") == []
    assert call["status"] == "completed" and call["ended_by"] == "hotline"


def test_reject_ends_the_call_unanswered(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml('<Reject reason="busy"/>')

    call = sim.wait_for_call(sim.dial(CALLER))

    assert call["status"] == "busy"
    assert call["answered_at"] is None
    assert statuses(service.requests_to("/twilio/voice/status")) == ["ringing", "busy"]


def test_failed_voice_webhook_uses_the_fallback_url(service, sim):
    service.routes["/twilio/voice"] = lambda p: ("boom", 500)
    service.routes["/twilio/voice/fallback"] = lambda p: twiml("<Say>系统繁忙，请直接拨打110。</Say>")

    call = sim.wait_for_call(sim.dial(CALLER))

    fallback = service.only("/twilio/voice/fallback")
    assert fallback.params["ErrorCode"] == "11200"
    assert fallback.params["ErrorUrl"] == service.url("/twilio/voice")
    assert fallback.params["CallSid"] == call["sid"]
    assert call["heard"] == ["系统繁忙，请直接拨打110。"]
    assert [e["code"] for e in call["errors"]] == [11200]


def test_unparseable_twiml_plays_an_application_error(service, sim):
    service.routes["/twilio/voice"] = lambda p: "<Response><Say>oops"
    service.routes["/twilio/voice/fallback"] = lambda p: "not xml either"

    call = sim.wait_for_call(sim.dial(CALLER))

    assert [e["code"] for e in call["errors"]] == [12100, 12100]
    assert call["heard"] == []
    assert call["transcript"][-1]["kind"] == "error"
    assert call["status"] == "completed"


# --- Dial ring-all ---------------------------------------------------------


def test_ring_all_bridges_the_first_member_to_press_1(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, B, C, D)
    service.routes["/twilio/screen"] = lambda p: SCREEN
    service.routes["/twilio/screen-done"] = screen_done
    service.routes["/twilio/dial-done"] = lambda p: twiml("<Say>通话结束。</Say><Hangup/>")
    sim.script(A, answer_after=1, press="2")  # answers first but declines
    sim.script(B, answer_after=3, press="1", talk_for=4)  # accepts at 4 s
    sim.script(C, answer_after=6, press="1")  # still ringing when B accepts
    sim.script(D, busy=True)

    sid = sim.dial(CALLER)
    call = sim.wait_for_call(sid, timeout=10)
    legs = legs_by_phone(sim, sid)

    assert call["bridged_with"] == legs[B]["sid"]
    assert [(leg["to"], leg["status"], leg["bridged"]) for leg in call["legs"]] == [
        (A, "completed", False),
        (B, "completed", True),
        (C, "canceled", False),
        (D, "busy", False),
    ]
    assert legs[B]["bridged"] and legs[B]["bridged_with"] == sid
    assert [legs[p]["status"] for p in (A, B, C, D)] == ["completed", "completed", "canceled", "busy"]
    assert [legs[p]["bridged"] for p in (A, C, D)] == [False, False, False]
    assert legs[A]["digits"] == ["2"] and legs[A]["ended_by"] == "screening"
    assert legs[A]["heard"] == ["紧急呼叫，按1接听。"]
    assert legs[B]["heard"] == ["紧急呼叫，按1接听。", "正在为您接通。"]
    assert legs[B]["ended_by"] == "callee-hangup"
    assert 4 <= legs[B]["duration"] <= 6  # answered at 3 s, bridged at ~4 s, talked 4 s

    done = service.only("/twilio/dial-done").params
    assert done["DialCallStatus"] == "completed"
    assert done["DialCallSid"] == legs[B]["sid"]
    assert done["DialCallDuration"] == str(legs[B]["duration"])
    assert done["CallSid"] == sid
    assert call["heard"] == ["通话结束。"]

    leg_status = service.requests_to("/twilio/leg-status")
    assert statuses(leg_status, legs[B]["sid"]) == ["initiated", "ringing", "in-progress", "completed"]
    assert statuses(leg_status, legs[C]["sid"]) == ["initiated", "ringing", "canceled"]
    assert statuses(leg_status, legs[D]["sid"]) == ["initiated", "busy"]
    assert {r.params["ParentCallSid"] for r in leg_status} == {sid}
    assert {r.params["Direction"] for r in leg_status} == {"outbound-dial"}
    b_final = [r for r in leg_status if r.params["CallSid"] == legs[B]["sid"]][-1]
    assert b_final.params["CallDuration"] == str(legs[B]["duration"])
    assert b_final.index < service.only("/twilio/dial-done").index

    screen_b = next(r for r in service.requests_to("/twilio/screen") if r.params["To"] == B).params
    assert (screen_b["CallStatus"], screen_b["Direction"], screen_b["ParentCallSid"], screen_b["From"]) == (
        "in-progress",
        "outbound-dial",
        sid,
        CALLER,
    )
    assert sim.phone(B)["calls"][0]["bridged"] is True


def test_voicemail_answers_but_never_bridges(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, B, timeout=6)
    service.routes["/twilio/screen"] = lambda p: SCREEN
    service.routes["/twilio/screen-done"] = screen_done
    service.routes["/twilio/dial-done"] = lambda p: twiml("<Say>无人接听，请稍后再拨。</Say>")
    sim.script(A, answer_after=1, voicemail=True)
    # B has no script: it rings and nobody picks up.

    sid = sim.dial(CALLER)
    call = sim.wait_for_call(sid, timeout=10)
    legs = legs_by_phone(sim, sid)

    assert legs[A]["status"] == "completed" and legs[A]["bridged"] is False
    assert legs[A]["answered_at"] is not None
    assert legs[A]["digits"] == []
    assert legs[A]["heard"] == ["紧急呼叫，按1接听。", "未确认，再见。"]
    assert legs[B]["status"] == "no-answer" and legs[B]["answered_at"] is None
    assert call["bridged"] is False
    done = service.only("/twilio/dial-done").params
    assert done["DialCallStatus"] == "no-answer"
    assert "DialCallSid" not in done and "DialCallDuration" not in done
    assert service.requests_to("/twilio/screen-done") == []
    assert call["heard"] == ["无人接听，请稍后再拨。"]


@pytest.mark.parametrize(("script", "expected"), [({"busy": True}, "busy"), ({"fail": True}, "failed")])
def test_dial_status_when_every_leg_is_busy_or_failed(service, sim, script, expected):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, B, timeout=5)
    sim.script(A, **script)
    sim.script(B, **script)

    sid = sim.dial(CALLER)
    sim.wait_for_call(sid)

    assert service.only("/twilio/dial-done").params["DialCallStatus"] == expected
    assert {leg["status"] for leg in legs_by_phone(sim, sid).values()} == {expected}


def test_single_number_dial_without_action_continues_and_reports_its_leg(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml(f'<Dial timeout="3">{A}</Dial><Say>转接失败。</Say>')

    call = sim.wait_for_call(sim.dial(CALLER))

    assert call["heard"] == ["转接失败。"]
    assert call["dial_results"] == [
        {"status": "no-answer", "dial_call_sid": call["legs"][0]["sid"], "duration": None, "caller_gone": None}
    ]


def test_caller_hanging_up_ends_the_bridge_and_skips_the_action_twiml(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A)
    service.routes["/twilio/screen"] = lambda p: SCREEN
    service.routes["/twilio/screen-done"] = screen_done
    service.routes["/twilio/dial-done"] = lambda p: twiml("<Say>通话结束。</Say>")
    sim.script(A, answer_after=1, press="1", talk_for=60)

    sid = sim.dial(CALLER, hangup_after=5)
    call = sim.wait_for_call(sid)
    leg = sim.call(call["legs"][0]["sid"])

    assert call["status"] == "completed" and call["ended_by"] == "caller-hangup"
    assert leg["status"] == "completed" and leg["ended_by"] == "caller-hangup"
    assert leg["bridged"] is True
    done = service.only("/twilio/dial-done").params
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == leg["sid"]
    assert "通话结束。" not in call["heard"]
    assert 4 <= call["duration"] <= 6


def test_caller_hanging_up_at_once_still_reaches_the_voice_webhook(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml("<Say>您好。</Say>")

    call = sim.wait_for_call(sim.dial(CALLER, hangup_after=0))

    assert service.only("/twilio/voice").params["CallSid"] == call["sid"]
    assert call["status"] == "canceled"
    assert call["heard"] == []


def test_caller_hanging_up_while_ringing_cancels_every_leg(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, B)

    sid = sim.dial(CALLER, hangup_after=2)
    sim.wait_for_call(sid)

    assert {leg["status"] for leg in legs_by_phone(sim, sid).values()} == {"canceled"}
    assert service.only("/twilio/dial-done").params["DialCallStatus"] == "canceled"


# --- Conference --------------------------------------------------------------


def test_conference_caller_and_member_placed_through_the_carrier_join_one_room(service, sim, sim_url):
    room = "incident-7"
    service.routes["/twilio/voice"] = lambda p: twiml(
        '<Say language="zh-CN">正在为您呼叫值班员。</Say>'
        '<Dial action="/twilio/conf-done"><Conference startConferenceOnEnter="false" waitUrl="/twilio/hold" '
        f'statusCallback="/twilio/conf-status" statusCallbackEvent="start end join leave">{room}</Conference></Dial>'
    )
    service.routes["/twilio/hold"] = lambda p: twiml('<Say language="zh-CN">请稍候。</Say>')
    service.routes["/twilio/voice/screen"] = lambda p: twiml(
        '<Gather numDigits="1" action="/twilio/member-join">'
        '<Say language="zh-CN">村民求助，按1加入通话。</Say></Gather><Hangup/>'
    )
    service.routes["/twilio/member-join"] = lambda p: twiml(
        f'<Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true">{room}</Conference></Dial>'
    )
    service.routes["/twilio/conf-done"] = lambda p: twiml('<Say language="zh-CN">通话已结束。</Say>')
    sim.script(A, answer_after=1, press="1", talk_for=3)
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    sid = sim.dial(CALLER)
    sim.wait_for(lambda: (c := sim.conference(room)) and c["present"] == [CALLER])
    submitted = carrier.place_call(to=A, reference=7, timeout=20)
    call = sim.wait_for_call(sid, timeout=10)
    member = sim.wait_for_call(submitted.sid)
    conference = sim.conference(room)

    assert submitted.status == "queued" and re.fullmatch(r"CA[0-9a-f]{32}", submitted.sid)
    assert [p["phone"] for p in conference["participants"]] == [CALLER, A]
    assert [p["call_sid"] for p in conference["participants"]] == [sid, submitted.sid]
    assert all(p["left_at"] is not None for p in conference["participants"])
    assert conference["status"] == "completed" and conference["present"] == []
    assert member["conference"] == room and call["conference"] == room
    assert member["heard"] == ["村民求助，按1加入通话。"]
    assert call["heard"] == ["正在为您呼叫值班员。", "请稍候。", "通话已结束。"]
    assert service.only("/twilio/conf-done").params["DialCallStatus"] == "completed"

    member_status = service.requests_to("/twilio/call-status")
    assert {r.url.rsplit("?", 1)[1] for r in member_status} == {"n=7"}
    assert statuses(member_status) == ["initiated", "ringing", "in-progress", "completed"]
    assert {r.params["Direction"] for r in member_status} == {"outbound-api"}
    assert {(r.params["From"], r.params["To"]) for r in member_status} == {(HOTLINE, A)}

    conf_events = service.requests_to("/twilio/conf-status")
    seen = [(r.params["StatusCallbackEvent"], r.params.get("CallSid")) for r in conf_events]
    assert seen[:3] == [
        ("participant-join", sid),
        ("participant-join", submitted.sid),
        ("conference-start", None),
    ]
    assert sorted(seen[3:], key=str) == sorted(
        [("participant-leave", submitted.sid), ("participant-leave", sid), ("conference-end", None)], key=str
    )
    assert {r.params["FriendlyName"] for r in conf_events} == {room}
    assert re.fullmatch(r"CF[0-9a-f]{32}", conf_events[0].params["ConferenceSid"])


# --- SMS ---------------------------------------------------------------------


def test_sms_status_callbacks_arrive_sent_then_delivered(service, sim, sim_url):
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    submitted = carrier.send_sms(OutboundSms(to=A, text="【联防】3组有警情，回复1接警。"), reference=3)
    callbacks = service.wait_for("/twilio/sms-status", count=2)

    assert isinstance(submitted, Submitted) and submitted.status == "queued"
    assert re.fullmatch(r"SM[0-9a-f]{32}", submitted.sid)
    assert [r.params["MessageStatus"] for r in callbacks] == ["sent", "delivered"]
    assert [r.params["SmsStatus"] for r in callbacks] == ["sent", "delivered"]
    assert {(r.params["MessageSid"], r.params["To"], r.params["From"]) for r in callbacks} == {
        (submitted.sid, A, HOTLINE)
    }
    assert {r.params["AccountSid"] for r in callbacks} == {sim.account_sid}
    assert "ErrorCode" not in callbacks[1].params
    inbox = sim.phone(A)["messages"]
    assert [(m["sid"], m["body"], m["from"], m["status"]) for m in inbox] == [
        (submitted.sid, "【联防】3组有警情，回复1接警。", HOTLINE, "delivered")
    ]
    assert [h["status"] for h in sim.message(submitted.sid)["history"]] == ["queued", "sent", "delivered"]


def test_undeliverable_sms_reports_error_30003(service, sim, sim_url):
    sim.script(B, undeliverable=True)
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    submitted = carrier.send_sms(OutboundSms(to=B, text="警情通知"), reference=3)
    callbacks = service.wait_for("/twilio/sms-status", count=2)

    assert [r.params["MessageStatus"] for r in callbacks] == ["sent", "undelivered"]
    assert callbacks[1].params["ErrorCode"] == "30003"
    assert callbacks[1].params["MessageSid"] == submitted.sid
    assert sim.phone(B)["messages"] == []


def test_scripted_sms_reply_is_sent_once_to_the_hotline(service, sim):
    service.routes["/twilio/sms"] = lambda p: twiml("<Message>已收到您的回复，谢谢。</Message>")
    sim.script(A, sms_reply="1", sms_reply_after=1)

    first = sim.submit_sms(to=A, from_=HOTLINE, body="有警情，回复1接警", status_callback=service.url("/s"))
    inbound = service.wait_for("/twilio/sms")
    sim.submit_sms(to=A, from_=HOTLINE, body="第二条通知", status_callback=service.url("/s"))
    service.wait_for("/s", count=4)
    time.sleep(SCALE * 2)  # longer than sms_reply_after: a second reply would have come by now

    assert len(service.requests_to("/twilio/sms")) == 1
    params = inbound[0].params
    assert (params["From"], params["To"], params["Body"], params["NumMedia"]) == (A, HOTLINE, "1", "0")
    assert params["SmsStatus"] == "received"
    assert re.fullmatch(r"SM[0-9a-f]{32}", params["MessageSid"]) and params["MessageSid"] != first["sid"]
    delivered = [r for r in service.requests_to("/s") if r.params["MessageSid"] == first["sid"]][-1]
    assert delivered.index < inbound[0].index  # the phone replies after it has the message
    phone = sim.phone(A)
    assert [m["body"] for m in phone["sent"]] == ["1"]
    assert [m["body"] for m in phone["messages"]] == ["有警情，回复1接警", "已收到您的回复，谢谢。", "第二条通知"]


def test_inbound_sms_from_a_villager_reaches_the_service(service, sim):
    sid = sim.send_sms(CALLER, "村口有人打架")

    received = service.only("/twilio/sms")
    assert received.params["MessageSid"] == sid
    assert (received.params["From"], received.params["To"], received.params["Body"]) == (
        CALLER,
        HOTLINE,
        "村口有人打架",
    )
    assert sim.message(sid)["direction"] == "inbound"


@pytest.mark.parametrize(("code", "http_status", "transient"), [(21211, 400, False), (21610, 400, False)])
def test_scripted_permanent_sms_errors(service, sim, sim_url, code, http_status, transient):
    sim.script(A, sms_error=code)
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    for _ in range(2):
        with pytest.raises(CarrierError) as raised:
            carrier.send_sms(OutboundSms(to=A, text="通知"), reference=3)
        assert (raised.value.code, raised.value.http_status, raised.value.transient) == (code, http_status, transient)
    assert sim.phone(A)["messages"] == []
    assert [e["code"] for e in sim.events(kind="sms.refused")] == [code, code]


def test_rate_limit_error_only_for_the_first_try(service, sim, sim_url):
    sim.script(A, sms_error=20429, sms_error_times=1)
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    with pytest.raises(CarrierError) as raised:
        carrier.send_sms(OutboundSms(to=A, text="通知"), reference=3)
    retried = carrier.send_sms(OutboundSms(to=A, text="通知"), reference=3)

    assert (raised.value.code, raised.value.http_status, raised.value.transient) == (20429, 429, True)
    assert retried.status == "queued"
    assert [r.params["MessageStatus"] for r in service.wait_for("/twilio/sms-status", count=2)] == ["sent", "delivered"]


def test_invalid_number_and_opted_out_phone_are_refused(service, sim, sim_url):
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)
    with pytest.raises(CarrierError) as invalid:
        carrier.send_sms(OutboundSms(to="13800000001", text="通知"), reference=3)
    sim.send_sms(B, "STOP")
    with pytest.raises(CarrierError) as opted_out:
        carrier.send_sms(OutboundSms(to=B, text="通知"), reference=3)
    sim.send_sms(B, "START")
    accepted = carrier.send_sms(OutboundSms(to=B, text="通知"), reference=3)

    assert (invalid.value.code, invalid.value.http_status) == (21211, 400)
    assert (opted_out.value.code, opted_out.value.http_status) == (21610, 400)
    assert accepted.status == "queued"


def test_unreachable_simulator_is_a_transient_carrier_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    carrier = SimulatorCarrier(
        base_url=f"http://127.0.0.1:{port}", from_number=HOTLINE, public_url="http://127.0.0.1:9", timeout=1.0
    )

    with pytest.raises(CarrierError) as raised:
        carrier.send_sms(OutboundSms(to=A, text="通知"), reference=3)

    assert raised.value.http_status is None and raised.value.code is None
    assert raised.value.transient is True


def test_scripted_call_error_refuses_place_call(service, sim, sim_url):
    sim.script(A, call_error=21215)
    carrier = SimulatorCarrier(base_url=sim_url, from_number=HOTLINE, public_url=service.base_url)

    with pytest.raises(CarrierError) as raised:
        carrier.place_call(to=A, reference=3, timeout=20)

    assert (raised.value.code, raised.value.http_status) == (21215, 400)
    assert sim.phone(A)["calls"] == []


# --- manual phones and the control API ----------------------------------------


def test_manual_phone_is_answered_and_keyed_through_the_control_api(service, sim, sim_url):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, timeout=30)
    service.routes["/twilio/screen"] = lambda p: twiml(
        '<Gather numDigits="1" action="/twilio/screen-done" timeout="30"><Say>按1接听。</Say></Gather><Hangup/>'
    )
    service.routes["/twilio/screen-done"] = screen_done
    assert requests.put(f"{sim_url}/sim/phones/{A}", json={"manual": True}, timeout=5).json()["script"]["manual"]

    sid = requests.post(f"{sim_url}/sim/calls", json={"from": CALLER}, timeout=5).json()["sid"]
    leg_sid = sim.wait_for(lambda: sim.phone(A)["ringing"])[0]
    ringing = requests.get(f"{sim_url}/sim/phones/{A}", timeout=5).json()
    answered = requests.post(f"{sim_url}/sim/calls/{leg_sid}/answer", timeout=5)
    sim.wait_for(lambda: sim.events(kind="call.gather"))
    pressed = requests.post(f"{sim_url}/sim/calls/{leg_sid}/press", json={"digits": "1"}, timeout=5)
    sim.wait_for(lambda: sim.call(leg_sid)["bridged"])
    hung_up = requests.post(f"{sim_url}/sim/calls/{leg_sid}/hangup", timeout=5)
    call = sim.wait_for_call(sid)

    assert ringing["ringing"] == [leg_sid]
    assert answered.status_code == 200
    assert pressed.status_code == 200 and pressed.json()["digits"] == ["1"]
    assert hung_up.status_code == 200
    leg = requests.get(f"{sim_url}/sim/calls/{leg_sid}", timeout=5).json()
    assert (leg["status"], leg["ended_by"], leg["heard"]) == (
        "completed",
        "callee-hangup",
        ["按1接听。", "正在为您接通。"],
    )
    assert call["bridged_with"] == leg_sid
    assert service.only("/twilio/dial-done").params["DialCallStatus"] == "completed"
    # Acting on an ended call is a conflict, not a crash.
    assert requests.post(f"{sim_url}/sim/calls/{leg_sid}/answer", timeout=5).status_code == 409


def test_manual_reject_ends_the_leg_busy(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, timeout=30)
    sim.script(A, manual=True)

    sid = sim.dial(CALLER)
    leg_sid = sim.wait_for(lambda: sim.phone(A)["ringing"])[0]
    sim.reject(leg_sid)
    sim.wait_for_call(sid)

    assert sim.call(leg_sid)["status"] == "busy"
    assert service.only("/twilio/dial-done").params["DialCallStatus"] == "busy"


def test_control_api_routes(service, sim, sim_url):
    health = requests.get(f"{sim_url}/sim/healthz", timeout=5).json()
    bad_field = requests.put(f"{sim_url}/sim/phones/{A}", json={"answer_afterr": 1}, timeout=5)
    bad_number = requests.post(f"{sim_url}/sim/calls", json={"from": "12345"}, timeout=5)
    missing = requests.get(f"{sim_url}/sim/calls/CA{'0' * 32}", timeout=5)
    first = requests.get(f"{sim_url}/sim/events", params={"since": 0}, timeout=5).json()
    sms = requests.post(f"{sim_url}/sim/sms", json={"from": CALLER, "body": "求助"}, timeout=5)
    later = requests.get(f"{sim_url}/sim/events", params={"since": first["next"]}, timeout=5).json()

    assert health["ok"] is True and health["hotline_number"] == HOTLINE and health["time_scale"] == SCALE
    assert bad_field.status_code == 400 and "answer_afterr" in bad_field.json()["message"]
    assert bad_number.status_code == 400
    assert missing.status_code == 404
    assert sms.status_code == 201 and service.only("/twilio/sms").params["MessageSid"] == sms.json()["sid"]
    assert later["events"] and all(e["seq"] > first["next"] for e in later["events"])
    assert "phone.sms_sent" in [e["kind"] for e in later["events"]]
    assert later["next"] == later["events"][-1]["seq"]
    api_error = requests.post(
        f"{sim_url}/sim/api/messages", json={"to": "bad", "from": HOTLINE, "body": "x"}, timeout=5
    )
    assert api_error.status_code == 400 and api_error.json()["code"] == 21211

    assert requests.post(f"{sim_url}/sim/reset", timeout=5).json() == {"ok": True}
    assert sim.phones() == [] and sim.calls() == []
    assert [e["kind"] for e in sim.events()] == ["simulator.reset"]


def test_client_drives_a_served_simulator(service, sim, sim_url):
    service.routes["/twilio/voice"] = lambda p: twiml(
        '<Gather numDigits="1" action="/twilio/menu"><Say>按1报警。</Say></Gather>'
        "<Dial><Conference>room-9</Conference></Dial>"
    )
    service.routes["/twilio/menu"] = lambda p: twiml("<Say>已记录。</Say><Dial><Conference>room-9</Conference></Dial>")
    client = SimulatorClient(sim_url)

    scripted = client.script(A, busy=True)
    sid = client.dial(CALLER, press="1", hangup_after=4)
    sim.wait_for_call(sid)
    events, next_seq = client.events()
    with pytest.raises(SimulatorClientError) as missing:
        client.call("CA" + "f" * 32)

    assert scripted["script"]["busy"] is True
    call = client.call(sid)
    assert (call["status"], call["heard"], call["digits"], call["conference"]) == (
        "completed",
        ["按1报警。", "已记录。"],
        ["1"],
        "room-9",
    )
    room = requests.get(f"{sim_url}/sim/conferences/room-9", timeout=5).json()
    assert [p["phone"] for p in room["participants"]] == [CALLER] and room["status"] == "completed"
    assert next_seq == events[-1]["seq"] and "call.conference-join" in [e["kind"] for e in events]
    assert missing.value.http_status == 404


def test_answer_on_bridge_keeps_the_caller_ringing_until_bridged(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml(
        f'<Dial answerOnBridge="true" timeout="10"><Number>{A}</Number></Dial>'
    )
    sim.script(A, answer_after=3, talk_for=2)

    call = sim.wait_for_call(sim.dial(CALLER))

    assert call["answered_at"] - call["created_at"] >= 2.9
    assert call["bridged"] is True and call["duration"] in (2, 3)
    assert statuses(service.requests_to("/twilio/voice/status")) == ["ringing", "in-progress", "completed"]


def test_reset_and_shutdown_stop_running_calls_promptly(service, sim):
    service.routes["/twilio/voice"] = lambda p: ring_all(A, B, timeout=600)
    sid = sim.dial(CALLER)
    sim.wait_for(lambda: len(sim.phone(B)["ringing"]) == 1)

    started = time.monotonic()
    sim.reset()
    assert time.monotonic() - started < 2.0
    assert sim.calls() == []
    with pytest.raises(KeyError):
        sim.call(sid)

    sim.dial(CALLER)
    sim.wait_for(lambda: len(sim.phone(A)["ringing"]) == 1)
    started = time.monotonic()
    assert sim.shutdown(timeout=2.0) == []
    assert time.monotonic() - started < 2.0
    assert [t.name for t in threading.enumerate() if t.name.startswith("sim-") and t.name != "sim-http"] == []
    with pytest.raises(RuntimeError):
        sim.dial(CALLER)


def test_time_scale_shrinks_waits_but_not_reported_durations(service, sim):
    service.routes["/twilio/voice"] = lambda p: twiml('<Pause length="20"/><Hangup/>')

    started = time.monotonic()
    call = sim.wait_for_call(sim.dial(CALLER), timeout=5)
    elapsed = time.monotonic() - started

    assert 1.9 <= elapsed < 3.5  # 20 simulated seconds at 0.1
    assert call["duration"] == 20
    assert service.requests_to("/twilio/voice/status")[-1].params["CallDuration"] == "20"


# --- TwiML parsing -----------------------------------------------------------


def test_twiml_parser_resolves_urls_and_applies_twilio_defaults():
    doc = parse_twiml(
        '<Response><Gather><Say language="zh-CN" voice="alice">请按键</Say></Gather>'
        '<Dial callerId="+8610000" answerOnBridge="true"><Number url="../screen?g=1">+8613800000001</Number>'
        "<Number>+8613800000002</Number></Dial>"
        '<Dial><Conference endConferenceOnExit="true" waitUrl="">room-1</Conference></Dial>'
        "<Redirect>/elsewhere</Redirect><Hangup/></Response>",
        "http://127.0.0.1:5000/twilio/voice/menu",
    )
    gather, dial, conference_dial, redirect, hangup = doc.verbs

    assert gather == Gather(
        action="http://127.0.0.1:5000/twilio/voice/menu",
        prompts=(Say(text="请按键", language="zh-CN", voice="alice"),),
    )
    assert isinstance(dial, Dial) and dial.timeout == 30.0 and dial.answer_on_bridge and dial.caller_id == "+8610000"
    assert [n.url for n in dial.numbers] == ["http://127.0.0.1:5000/twilio/screen?g=1", None]
    assert dial.numbers[1].status_callback_events == frozenset({"completed"})
    assert conference_dial.conference == Conference(name="room-1", end_conference_on_exit=True)
    assert redirect == Redirect(url="http://127.0.0.1:5000/elsewhere")
    assert hangup == Hangup()
    with pytest.raises(TwimlError):
        parse_twiml("<Html/>", "http://127.0.0.1/x")
