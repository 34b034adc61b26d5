"""Aliyun as the carrier, against the project's mock of Aliyun's APIs (tests/support/aliyun_mock.py).

The whole path runs for real: the trigger API or a text to the service's
number opens the incident, the outbox jobs call Aliyun's SDKs, the mock
checks every request's signature and parameters, and its receipts come back
through /aliyun/<token>/ as Aliyun pushes them: late, out of order and twice.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.carriers.aliyun.templates import (
    BROADCAST_KINDS,
    Templates,
    TemplatesError,
    drill_variant,
    filled_example,
    required_keys,
    wording,
)
from hotline.extensions import get_settings
from hotline.models import (
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    Response,
    Role,
    TimelineEvent,
)
from tests.factories import make_group
from tests.support.aliyun_mock import AliyunMock, running
from workers import runtime
from workers.jobs import check_escalation, place_call, send_sms

TOKEN = "receipts-" + "x" * 24
KEY_ID = "LTAI-test-key-id"
SECRET = "test-access-key-secret"
SIGN = "联防求助"
CALLER_NUMBER = "057188880000"


@pytest.fixture
def aliyun() -> Iterator[AliyunMock]:
    mock = AliyunMock(KEY_ID, SECRET, SIGN, CALLER_NUMBER)
    mock.register(filled_example("zh"))
    with running(mock):
        yield mock


@pytest.fixture
def environ(environ: dict[str, str], aliyun: AliyunMock, tmp_path: Path) -> dict[str, str]:
    templates = tmp_path / "aliyun-templates.toml"
    templates.write_text(filled_example("zh"), encoding="utf-8")
    return environ | {
        "HOTLINE_CARRIER": "aliyun",
        "HOTLINE_ALIYUN_ACCESS_KEY_ID": KEY_ID,
        "HOTLINE_ALIYUN_ACCESS_KEY_SECRET": SECRET,
        "HOTLINE_ALIYUN_SIGN_NAME": SIGN,
        "HOTLINE_ALIYUN_CALLER_NUMBER": CALLER_NUMBER,
        "HOTLINE_ALIYUN_TEMPLATES": str(templates),
        "HOTLINE_ALIYUN_RECEIPT_TOKEN": TOKEN,
        "HOTLINE_ALIYUN_SMS_ENDPOINT": aliyun.url,
        "HOTLINE_ALIYUN_VOICE_ENDPOINT": aliyun.url,
    }


@pytest.fixture
def worker_app(app):
    runtime.use_app(app)
    return app


@pytest.fixture
def group(session):
    return make_group(session, households=3)


def _household(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _run_outbox(session) -> None:
    """Run every pending text and call job, as a worker would."""
    session.commit()
    session.expire_all()
    pending = session.scalars(
        select(Notification).where(Notification.status == "pending").order_by(Notification.id)
    ).all()
    for notification in pending:
        (send_sms if notification.channel == "sms" else place_call)(notification.id)
    session.expire_all()


def _post(client, kind: str):
    def post(batch):
        answer = client.post(f"/aliyun/{TOKEN}/{kind}", json=batch)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json() == {"code": 0, "msg": "接收成功"}
        return answer

    return post


def _state(session) -> tuple:
    """Everything a receipt could change."""
    session.expire_all()
    return (
        session.scalar(select(func.count(Response.id))),
        session.scalar(select(func.count(TimelineEvent.id))),
        session.scalar(select(func.count(Notification.id))),
        tuple(session.execute(select(Notification.id, Notification.status).order_by(Notification.id)).all()),
        tuple(session.execute(select(Incident.id, Incident.status).order_by(Incident.id)).all()),
    )


def _trigger(client, session, token: str, caller: str, key: str = "button-1"):
    return client.post(
        "/api/alerts", json={"caller": caller, "idempotency_key": key, "note": "一键报警"},
        headers={"Authorization": f"Bearer {token}"},
    )


def _add_source(app, name: str = "一键报警器", station: str = "城关派出所") -> str:
    result = app.test_cli_runner().invoke(args=["triggers", "add", name, "--station", station])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _assert_everyone_called_and_texted(aliyun: AliyunMock, incident: Incident) -> dict[str, object]:
    members = {n.phone for n in incident.notifications if n.purpose == Purpose.ALERT}
    domestic = {phone[3:] for phone in members}
    assert {call.number for call in aliyun.calls} == domestic
    assert all(call.action == "IvrCall" for call in aliyun.calls)
    texted = {sms.number for sms in aliyun.sms if sms.params["TemplateCode"] == _code("sms_alert")}
    assert texted == domestic
    for call in aliyun.calls:
        # Press 1 to come (and hear the caller's number), 2 if you cannot.
        assert aliyun.key_map(call) == {"1": _code("voice_screen_ack_only"), "2": _code("voice_goodbye")}
        assert call.params["StartCode"] == _code("voice_screen")
    return {call.number: call for call in aliyun.calls}


def _code(key: str) -> str:
    return tomllib.loads(filled_example("zh"))[key]["code"]


def test_an_alarm_from_the_trigger_api_calls_everyone_and_key_1_acknowledges(
    worker_app, client, session, group, aliyun
):
    token = _add_source(worker_app)
    caller = _household(group)
    answer = _trigger(client, session, token, caller.phone)
    assert answer.status_code == 202
    incident = session.get(Incident, answer.get_json()["incident_id"])
    assert incident.source == "trigger" and incident.group_id == group.id
    again = _trigger(client, session, token, caller.phone)
    assert again.status_code == 202 and again.get_json()["incident_id"] == incident.id
    _run_outbox(session)

    calls = _assert_everyone_called_and_texted(aliyun, incident)
    assert not aliyun.refusals
    responder = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.id != caller.id)
    call = calls[responder.phone[3:]]
    receipts = [
        aliyun.call_report(call, "200201"),
        aliyun.call_report(call, "200102"),
        aliyun.call_report(call, "300000", dtmf="1"),
        aliyun.voice_report(call, "200000", dtmf="1"),
    ]
    aliyun.push(_post(client, "voice-report"), receipts, twice=False)
    session.expire_all()
    incident = session.get(Incident, incident.id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert incident.acknowledged_by_id == responder.id
    # The receipts once more, in another order: nothing changes.
    before = _state(session)
    aliyun.push(_post(client, "voice-report"), receipts)
    assert _state(session) == before

    # Escalation stops: the officers' level finds the alert answered and alerts nobody.
    check_escalation(incident.id, 1)
    session.expire_all()
    assert not [n for n in session.get(Incident, incident.id).notifications if n.purpose == Purpose.ESCALATION]
    # The caller and the others are told who is coming, by template.
    _run_outbox(session)
    notices = [sms for sms in aliyun.sms if sms.params["TemplateCode"] == _code("sms_ack_notice")]
    assert caller.phone[3:] in {sms.number for sms in notices}
    assert all(sms.template_params()["responder"] == responder.name for sms in notices)


def test_an_alarm_by_sms_to_the_service_calls_everyone_and_reports_are_idempotent(
    worker_app, client, session, group, aliyun
):
    caller = _household(group)
    text = aliyun.sms_up(caller.phone[3:], "救命", sequence_id=77)
    aliyun.push(_post(client, "sms-up"), [text])  # pushed twice: one incident
    incidents = session.scalars(select(Incident)).all()
    assert len(incidents) == 1 and incidents[0].source == "sms" and incidents[0].group_id == group.id
    _run_outbox(session)
    incident = session.get(Incident, incidents[0].id)
    calls = _assert_everyone_called_and_texted(aliyun, incident)

    reports = [aliyun.sms_report(sms) for sms in aliyun.sms]
    aliyun.push(_post(client, "sms-report"), reports, twice=False)
    session.expire_all()
    assert {n.status for n in incident.notifications if n.channel == "sms"} == {"delivered"}
    before = _state(session)
    aliyun.push(_post(client, "sms-report"), reports)
    assert _state(session) == before

    # A member declines with 2 and the call ends; another's number turns out suspended.
    members = [m for m in group.members if m.phone[3:] in calls and m.role == Role.HOUSEHOLD]
    declined, suspended = members[0], members[1]
    results = [
        aliyun.call_report(calls[declined.phone[3:]], "300000", dtmf="2"),
        aliyun.voice_report(calls[declined.phone[3:]], "200000", dtmf="2"),
        aliyun.voice_report(calls[suspended.phone[3:]], "200011"),
    ]
    aliyun.push(_post(client, "voice-report"), results)
    session.expire_all()
    answers = session.scalars(select(Response)).all()
    assert [(r.member_id, r.answer) for r in answers] == [(declined.id, "decline")]
    assert session.get(Incident, incident.id).status == IncidentStatus.OPEN
    failed = next(n for n in incident.notifications if n.phone == suspended.phone and n.channel == "call")
    assert (failed.status, failed.failure_reason) == ("failed", "blocked")


def test_receipts_with_an_unknown_call_id_or_a_bad_out_id_change_nothing(worker_app, client, session, group, aliyun):
    token = _add_source(worker_app)
    _trigger(client, session, token, _household(group).phone)
    _run_outbox(session)
    call = aliyun.calls[0]
    before = _state(session)
    forged_mac = aliyun.call_report(call, "300000", dtmf="1") | {"out_id": call.out_id[:-1] + "A"}
    if forged_mac["out_id"] == call.out_id:
        forged_mac["out_id"] = call.out_id[:-1] + "B"
    unknown_call = aliyun.call_report(call, "300000", dtmf="1") | {"call_id": "999^999"}
    other_row = aliyun.call_report(call, "300000", dtmf="1") | {"out_id": aliyun.calls[1].out_id}
    no_out_id = {k: v for k, v in aliyun.call_report(call, "300000", dtmf="1").items() if k != "out_id"}
    aliyun.push(_post(client, "voice-report"), [forged_mac, unknown_call, other_row, no_out_id])
    sms = aliyun.sms[0]
    aliyun.push(_post(client, "sms-report"), [aliyun.sms_report(sms, success=False) | {"biz_id": "1^1"}])
    assert _state(session) == before
    # A wrong token is no receipt URL at all.
    assert client.post("/aliyun/wrong-token/voice-report", json=[]).status_code == 404
    assert client.post(f"/aliyun/{TOKEN}/voice-report", data="garbage").status_code == 400
    assert client.post(f"/aliyun/{TOKEN}/voice-report", json=[{"call_id": 5}]).status_code == 400


def test_a_number_is_never_called_twice_within_a_minute(worker_app, client, session, group, aliyun):
    token = _add_source(worker_app)
    caller = _household(group)
    _trigger(client, session, token, caller.phone, key="first")
    _run_outbox(session)
    first_round = len(aliyun.calls)
    # A second alarm from the same household, seconds later: the same members are due a call again.
    second = _trigger(client, session, token, caller.phone, key="second")
    assert second.status_code == 202 and second.get_json()["created"]
    _run_outbox(session)
    numbers = [call.number for call in aliyun.calls]
    assert len(numbers) == first_round == len(set(numbers))
    # Not even attempted: Aliyun never saw a second request for those numbers.
    assert not [code for action, code in aliyun.refusals if action == "IvrCall"]
    held = session.scalars(
        select(Notification).where(Notification.incident_id == second.get_json()["incident_id"],
                                   Notification.channel == "call")
    ).all()
    # Held back for later (or refused as throttled), never handed to Aliyun.
    assert held and all(n.provider_sid is None and n.status in ("pending", "failed") for n in held)


def test_the_trigger_api_keeps_to_its_station(worker_app, client, session, aliyun):
    from tests.support.console import STATION_B, build_world

    world = build_world(session)
    world.group_a.village.station.duty_phone = "+8613700000000"  # a mobile: landlines take no texts
    session.commit()
    token = _add_source(worker_app)  # 城关派出所 is station A in the world
    other = next(m for m in world.group_b.members if m.role == Role.HOUSEHOLD)
    refused = _trigger(client, session, token, other.phone)
    assert refused.status_code == 403
    assert session.scalar(select(func.count(Incident.id))) == 0
    assert client.post("/api/alerts", json={"caller": other.phone, "idempotency_key": "k"}).status_code == 401
    assert _trigger(client, session, "hlt_not-a-token", other.phone).status_code == 401
    bad = client.post("/api/alerts", json={"caller": "not a number", "idempotency_key": "k"},
                      headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 400
    # A caller in no group reaches the station's duty line, forwarded as a text.
    stranger = _trigger(client, session, token, "+8613999990000", key="stranger")
    assert stranger.status_code == 202
    incident = session.get(Incident, stranger.get_json()["incident_id"])
    assert incident.unregistered and incident.station.name != STATION_B
    _run_outbox(session)
    forwarded = [sms for sms in aliyun.sms if sms.params["TemplateCode"] == _code("sms_unregistered_forward")]
    assert [sms.number for sms in forwarded] == [incident.station.duty_phone[3:]]


def test_start_up_refuses_an_incomplete_templates_file(environ, tmp_path, migrated_engine, redis_conn):
    from config.settings import SettingsError
    from hotline.app import create_app

    data = filled_example("zh").replace("[sms_ack_notice]", "[sms_ack_notice_unused]")
    path = tmp_path / "incomplete.toml"
    path.write_text(data, encoding="utf-8")
    with pytest.raises(SettingsError, match="sms_ack_notice"):
        create_app(environ | {"HOTLINE_ALIYUN_TEMPLATES": str(path)})
    with pytest.raises(SettingsError, match="HOTLINE_ALIYUN_SIGN_NAME"):
        create_app(environ | {"HOTLINE_ALIYUN_SIGN_NAME": ""})


def test_templates_check_limits_and_the_example_command(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["aliyun", "templates-example", str(tmp_path / "t.toml")])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "t.toml").read_text(encoding="utf-8")
    assert "[sms_broadcast_bulletin]" in written and "[voice_broadcast_free]" in written
    with pytest.raises(TemplatesError, match="占位代码"):
        Templates.parse(tomllib.loads(written), "zh")
    filled = tomllib.loads(filled_example("zh"))
    templates = Templates.parse(filled, "zh")
    assert set(templates.get("sms_alert").params) == {"caller_name", "group", "time", "address"}
    # A value that cannot be shortened must fit one variable; a long address is cut to it.
    tight = filled | {"limits": {"sms": 10, "voice": 20}}
    with pytest.raises(TemplatesError, match="caller_phone"):
        Templates.parse(tight | {"sms_unregistered_forward": filled["sms_unregistered_forward"]}, "zh")
    values = templates.values("sms_alert", {
        "caller_name": "王", "group": "一组", "time": "11月30日 10:00", "address": "东村" * 40,
    })
    assert json.loads(values)["address"].endswith("…") and len(json.loads(values)["address"]) == 35


def test_the_mock_refuses_a_request_signed_with_another_secret(worker_app, session, group, aliyun):
    from hotline.carriers import CarrierError, OutboundSms
    from hotline.carriers.aliyun import AliyunCarrier

    settings = get_settings(worker_app)
    forged = AliyunCarrier(
        access_key_id=KEY_ID, access_key_secret="another-secret", sign_name=SIGN, caller_number=CALLER_NUMBER,
        templates=Templates.load(settings.aliyun_templates, "zh"), sms_endpoint=aliyun.url,
        voice_endpoint=aliyun.url,
    )
    with pytest.raises(CarrierError) as refused:
        forged.send_sms(
            OutboundSms(to="+8613800100001", text="", template="sms_help", params={}),
            reference=1,
        )
    assert refused.value.reason == "rejected" and not refused.value.transient
    assert aliyun.refusals == [("SendSms", "SignatureDoesNotMatch")] and not aliyun.sms


def test_a_drill_through_aliyun_sends_the_drill_variants_of_every_template(worker_app, session, group, aliyun):
    from hotline.services.drills import start_now

    settings = get_settings(worker_app)
    started = start_now(session, settings, [group], duty_line=False)
    session.commit()
    assert len(started.drills) == 1, started.skipped
    _run_outbox(session)
    assert aliyun.sms and aliyun.calls and not aliyun.refusals
    # Every text is the drill's registered template: never the real alert's.
    assert {sms.params["TemplateCode"] for sms in aliyun.sms} == {_code("sms_alert.drill")}
    for call in aliyun.calls:
        assert call.params["StartCode"] == _code("voice_screen.drill")
        assert aliyun.key_map(call) == {"1": _code("voice_screen_ack_only.drill"), "2": _code("voice_goodbye.drill")}
    # The variants are worded to say so first, without the 【】 Aliyun keeps for the sign name.
    wording = {line for line in filled_example("zh").splitlines() if line.startswith("# 短信：演练：")}
    assert wording and all("【" not in line for line in wording)


def test_start_up_requires_the_drill_variants(environ, tmp_path, migrated_engine, redis_conn):
    from config.settings import SettingsError
    from hotline.app import create_app

    path = tmp_path / "no-drills.toml"
    path.write_text(filled_example("zh").replace('["voice_goodbye.drill"]', '["voice_goodbye.drll"]'), "utf-8")
    with pytest.raises(SettingsError, match=r"voice_goodbye\.drill"):
        create_app(environ | {"HOTLINE_ALIYUN_TEMPLATES": str(path)})


def test_the_member_who_presses_1_is_texted_the_callers_number_and_address_once(
    worker_app, client, session, group, aliyun
):
    token = _add_source(worker_app)
    caller = _household(group)
    caller.address = "东村 12 号"
    session.commit()
    answer = _trigger(client, session, token, caller.phone)
    incident_id = answer.get_json()["incident_id"]
    _run_outbox(session)
    responder = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.id != caller.id)
    call = next(c for c in aliyun.calls if c.number == responder.phone[3:])
    aliyun.push(_post(client, "voice-report"), [aliyun.call_report(call, "300000", dtmf="1")])  # and again
    _run_outbox(session)
    details = [sms for sms in aliyun.sms if sms.params["TemplateCode"] == _code("sms_accepted_details")]
    assert [sms.number for sms in details] == [responder.phone[3:]]
    assert details[0].template_params() == {
        "caller_name": caller.name, "caller_phone": caller.phone, "address": "东村 12 号",
    }
    # The timeline says a trigger raised it, and which.
    opening = session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
    ).first()
    assert opening.kind == "trigger_raised" and opening.detail["source"] == "一键报警器"
    from hotline.presenters.timeline import event_detail, event_title

    assert event_title("trigger_raised", opening.detail, "zh") == "报警器或外部系统报警"
    assert event_detail("trigger_raised", opening.detail, "zh") == f"一键报警器 · {caller.phone} · 一键报警"


# --- broadcasts ------------------------------------------------------------------

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: no quiet hours
FRAUD = "冒充客服要求转账的一律是诈骗"  # 14 characters: fits an SMS variable (35) and a TTS one (20)


def _broadcast(app, session, group, channel: str, content: str = FRAUD):
    """Compose, check against the Aliyun carrier, and start a fraud warning to the group's station."""
    from hotline.extensions import get_carrier
    from hotline.services import broadcasts as service

    settings = get_settings(app)
    composed = service.plan(
        session, settings, group.village.station, audience=service.Audience(), channel=channel, kind="fraud",
        values={"content": content}, now=NOON, carrier=get_carrier(app),
    )
    broadcast, ids = service.create(session, settings, composed, now=NOON)
    session.commit()
    return broadcast, ids


def test_an_sms_broadcast_sends_its_registered_template_to_everyone_but_who_opted_out(
    worker_app, client, session, group, aliyun
):
    from hotline.services.broadcast_optouts import opt_out

    stopped = _household(group)
    opt_out(session, stopped.phone, "TD")
    session.commit()
    broadcast, ids = _broadcast(worker_app, session, group, "sms")
    assert ids
    _run_outbox(session)

    wanted = {m.phone[3:] for m in group.members if m.phone != stopped.phone}
    assert sorted(sms.number for sms in aliyun.sms) == sorted(wanted) and not aliyun.calls and not aliyun.refusals
    station = group.village.station.name
    for sms in aliyun.sms:
        assert sms.params["TemplateCode"] == _code("sms_broadcast_fraud")
        assert sms.params["SignName"] == SIGN
        assert sms.template_params() == {"station": station, "content": FRAUD}
    # What a villager reads, as registered: the station's name leads, and it says how to unsubscribe.
    words = wording("zh", "sms_broadcast_fraud")
    assert words.startswith("${station}：反诈预警：${content}。") and words.endswith("回复TD退订")
    assert "【" not in words

    aliyun.push(_post(client, "sms-report"), [aliyun.sms_report(sms) for sms in aliyun.sms])
    rows = session.scalars(select(Notification).where(Notification.broadcast_id == broadcast.id)).all()
    assert {(n.channel, n.template, n.status) for n in rows} == {("sms", "sms_broadcast_fraud", "delivered")}


def test_a_spoken_broadcast_is_a_voice_notice_to_everyone_but_who_opted_out(worker_app, client, session, group, aliyun):
    from hotline.services.broadcast_optouts import opt_out

    stopped = _household(group)
    opt_out(session, stopped.phone, "退订")
    session.commit()
    broadcast, ids = _broadcast(worker_app, session, group, "voice")
    assert ids
    _run_outbox(session)

    wanted = {m.phone[3:] for m in group.members if m.phone != stopped.phone}
    assert sorted(call.number for call in aliyun.calls) == sorted(wanted) and not aliyun.sms
    assert not aliyun.refusals
    station = group.village.station.name
    for call in aliyun.calls:
        # Read out twice, nothing to press: SingleCallByTts with the registered notice, never an IvrCall.
        assert call.action == "SingleCallByTts"
        assert call.params["TtsCode"] == _code("voice_broadcast_fraud")
        assert call.params["CalledShowNumber"] == CALLER_NUMBER and call.params["PlayTimes"] == "2"
        assert call.template_params("TtsParam") == {"station": station, "content": FRAUD}
        assert not aliyun.key_map(call) and "StartCode" not in call.params
    assert wording("zh", "voice_broadcast_fraud").startswith("这里是${station}的通知。反诈预警：${content}。")

    # Aliyun's VoiceReports, late, out of order and twice: every call answered and heard.
    aliyun.push(_post(client, "voice-report"), [aliyun.voice_report(call, "200000") for call in aliyun.calls])
    session.expire_all()
    rows = session.scalars(select(Notification).where(Notification.broadcast_id == broadcast.id)).all()
    assert len(rows) == len(wanted)
    assert {(n.channel, n.template, n.status) for n in rows} == {("call", "voice_broadcast_fraud", "completed")}
    # A second notice to the same numbers within the minute is not placed: Aliyun's limit is per number, any call.
    _broadcast(worker_app, session, group, "voice", content="陌生来电要验证码的一律挂断")
    before = len(aliyun.calls)
    _run_outbox(session)
    assert len(aliyun.calls) == before
    assert not [code for action, code in aliyun.refusals if action == "SingleCallByTts"]


def test_a_value_longer_than_a_variable_is_refused_before_sending_and_never_cut(worker_app, session, group, aliyun):
    from hotline.services.broadcasts import BroadcastError

    long_warning = "冒充公检法、快递客服、银行要求您转账到安全账户的电话一律是诈骗"  # 31 characters
    # It fits an SMS variable (35), not a TTS one (20): by text it goes, spoken it is refused, saying why.
    _broadcast(worker_app, session, group, "sms", content=long_warning)
    for channel in ("voice", "both"):
        with pytest.raises(BroadcastError) as refused:
            _broadcast(worker_app, session, group, channel, content=long_warning)
        message = str(refused.value)
        assert "变量 content 有 31 字" in message and "每个变量 20 字的限制" in message
        assert "[voice_broadcast_fraud]" in message and "请删减到 20 字以内" in message and "[limits]" in message
    with pytest.raises(BroadcastError, match=r"变量 content 有 40 字.*\[sms_broadcast_fraud\].*35 字"):
        _broadcast(worker_app, session, group, "sms", content="诈" * 40)

    # The command line says the same, and nothing is written or sent.
    session.rollback()
    before = session.scalar(select(func.count(Notification.id)))
    result = worker_app.test_cli_runner().invoke(args=[
        "broadcast", "send", "--station", group.village.station.name, "--channel", "voice", "--template", "bulletin",
        "--var", "content=昨日辖区发生电信诈骗案两起，损失共计三万元", "--yes",
    ])
    assert result.exit_code != 0, result.output
    assert "变量 content 有 21 字" in result.output and "[voice_broadcast_bulletin]" in result.output
    session.expire_all()
    assert session.scalar(select(func.count(Notification.id))) == before
    _run_outbox(session)
    assert all(len(value) <= 35 for sms in aliyun.sms for value in sms.template_params().values())
    assert not aliyun.calls and not aliyun.refusals


def test_every_broadcast_kind_has_a_registered_text_and_voice_notice_and_no_drill_variant():
    from hotline.models import Channel
    from hotline.services import broadcasts as service

    assert BROADCAST_KINDS == service.KINDS
    keys = required_keys("zh")
    filled = tomllib.loads(filled_example("zh"))
    for kind in service.KINDS:
        for channel in (Channel.SMS, Channel.CALL):
            key = service.message_key(service.template_key(kind), channel)
            assert key in keys and key in filled and drill_variant(key) not in keys
            # The variables are the kind's values and the station's name (and a bulletin's date).
            assert set(filled[key]["params"]) == {"station", *service.variables("zh", kind)} | (
                {"date"} if kind == "bulletin" else set()
            )
    assert Templates.parse(filled, "en").get("voice_broadcast_free").params == ("station", "text")


def test_start_up_refuses_a_templates_file_without_a_broadcast_template(environ, tmp_path, migrated_engine, redis_conn):
    from config.settings import SettingsError
    from hotline.app import create_app

    for key in ("sms_broadcast_bulletin", "voice_broadcast_weather"):
        path = tmp_path / f"no-{key}.toml"
        path.write_text(filled_example("zh").replace(f"[{key}]", f"[{key}_unused]"), encoding="utf-8")
        with pytest.raises(SettingsError, match=rf"\[{key}\] 缺失"):
            create_app(environ | {"HOTLINE_ALIYUN_TEMPLATES": str(path)})
    # A broadcast template takes no incident's values: a caller's name is no variable of a bulletin.
    wrong = filled_example("zh").replace(
        'params = ["station", "date", "content"]', 'params = ["station", "date", "content", "caller_name"]', 1
    )
    path = tmp_path / "wrong.toml"
    path.write_text(wrong, encoding="utf-8")
    with pytest.raises(SettingsError, match="caller_name"):
        create_app(environ | {"HOTLINE_ALIYUN_TEMPLATES": str(path)})
