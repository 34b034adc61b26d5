"""Honest wording: escalations say the real delay and who was tried; nothing promises a transfer that cannot happen."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.settings import load_settings
from config.templates import render
from hotline.extensions import get_settings
from hotline.models import Incident, Notification, Role
from hotline.services.escalation import escalate
from hotline.services.incidents import open_incident
from hotline.services.messages import duration_text
from hotline.webhooks.voice import fallback_twiml
from tests.factories import call_sid, make_group, signed_post
from tests.support.stack import rows, running_stack

T0 = datetime(2024, 11, 27, 6, 0, tzinfo=UTC)
HOTLINE = "+8657188880000"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def settings(app):
    return get_settings(app)


def _caller(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _open(session, settings, group) -> Incident:
    opened = open_incident(
        session, settings, caller_phone=_caller(group).phone, source="call", call_sid=call_sid(), now=T0
    )
    session.commit()
    return opened.incident


def _escalation(session, incident: Incident, level: int, channel: str = "sms") -> Notification:
    return session.scalars(
        select(Notification).where(
            Notification.incident_id == incident.id, Notification.purpose == "escalation",
            Notification.escalation_level == level, Notification.channel == channel,
        ).order_by(Notification.id)
    ).first()


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [(45, "45秒", "45 s"), (60, "1分钟", "1 min"), (90, "1分30秒", "1 min 30 s"), (120, "2分钟", "2 min"),
     (44.6, "45秒", "45 s")],
)
def test_waits_are_said_as_people_say_them(seconds, zh, en):
    assert duration_text(load_settings({}), seconds) == zh
    assert duration_text(load_settings({"HOTLINE_LANGUAGE": "en"}), seconds) == en


# --- the escalation texts ----------------------------------------------------------------------


@pytest.mark.parametrize(("delays", "said"), [("45,180", "45秒"), ("120,180", "2分钟")])
def test_the_officers_text_says_the_real_delay_and_who_was_alerted(session, settings, delays, said):
    group = make_group(session, delays=delays)
    incident = _open(session, settings, group)
    first = int(delays.split(",")[0])

    # The check ran late; the text still says the delay the group had, not a rounded minute.
    assert escalate(session, settings, incident, 1, now=_at(first + 7)).fired
    session.commit()

    sms = _escalation(session, incident, 1)
    alerted = len(group.members) - 1  # everyone but the caller
    assert sms.template == "sms_escalation"
    assert f"已通知小组{alerted}人，{said}内无人响应" in sms.body
    assert sms.template_params["waited"] == said and sms.template_params["count"] == str(alerted)
    assert sms.body.startswith("【联防升级】") and "社区民警" not in sms.body
    if first == 45:
        assert "1分钟" not in sms.body


def test_the_duty_lines_text_says_the_officers_did_not_answer_either(session, settings):
    group = make_group(session, delays="45,75")
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(45))
    session.commit()
    assert escalate(session, settings, incident, 2, now=_at(120)).fired
    session.commit()

    sms = _escalation(session, incident, 2)
    assert sms.phone == "+861088880000" and sms.template == "sms_escalation_officers_silent"
    assert "2分钟内小组无人响应，社区民警也未响应" in sms.body


def test_a_group_without_officers_never_claims_the_officers_were_tried(session, settings):
    group = make_group(session, delays="45,75")
    for member in group.members:
        if member.role in (Role.OFFICER, Role.ASSISTANT):
            member.active = False
    session.commit()
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(45))
    session.commit()
    escalate(session, settings, incident, 2, now=_at(120))
    session.commit()

    sms = _escalation(session, incident, 2)
    assert sms.template == "sms_escalation" and "社区民警" not in sms.body
    assert "2分钟内无人响应" in sms.body


def test_the_escalation_calls_screen_says_the_delay_and_who_was_tried(client, session, redis_conn, settings):
    group = make_group(session, delays="45,75")
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(45))
    session.commit()
    escalate(session, settings, incident, 2, now=_at(120))
    session.commit()

    def screen(level: int) -> str:
        call = _escalation(session, incident, level, "call")
        root = ET.fromstring(signed_post(client, f"/twilio/voice/screen?n={call.id}", {"CallSid": call_sid()}).data)
        return root.find("Gather/Say").text

    assert f"已通知小组{len(group.members) - 1}人，45秒内无人响应" in screen(1)
    assert "2分钟内小组无人响应，社区民警也未响应" in screen(2)


def test_a_repeat_says_how_long_the_alert_has_waited_since_it_began(client, session, redis_conn, settings):
    from hotline.services.prompts import call_prompt

    group = make_group(session, delays="45,45")
    incident = _open(session, settings, group)
    repeat = settings.escalation_repeat
    assert repeat == 120
    for level, at in ((1, 45), (2, 90), (3, 90 + repeat), (4, 90 + 2 * repeat + 25)):  # the last check runs late
        assert escalate(session, settings, incident, level, now=_at(at)).fired
        session.commit()

    def screen(level: int) -> str:
        call = _escalation(session, incident, level, "call")
        root = ET.fromstring(signed_post(client, f"/twilio/voice/screen?n={call.id}", {"CallSid": call_sid()}).data)
        return root.find("Gather/Say").text

    # The duty line's level fell due 1 min 30 s in; each repeat two minutes after the one before.
    assert "1分30秒内小组无人响应，社区民警也未响应" in screen(2)
    assert "3分30秒内小组无人响应，社区民警也未响应" in screen(3)
    assert "5分30秒内小组无人响应，社区民警也未响应" in screen(4)
    assert "1分30秒" not in screen(3) + screen(4)
    # A carrier told the prompt when the call is placed (Aliyun) says the same.
    prompt = call_prompt(settings, _escalation(session, incident, 4, "call"))
    assert prompt is not None and prompt.params["waited"] == "5分30秒"


# --- no promise of a transfer that will not happen ---------------------------------------------


def _spoken(document) -> list[str]:
    return [say.text for say in ET.fromstring(str(document)).iter("Say")]


def _verbs(document) -> list[str]:
    return [child.tag for child in ET.fromstring(str(document))]


def test_the_fallback_without_a_duty_line_promises_no_transfer():
    document = fallback_twiml(load_settings({}))
    assert _verbs(document) == ["Say", "Hangup"]
    assert _spoken(document) == [render("zh", "voice_fallback_nobody")] == ["系统繁忙，请立即拨打110。"]
    assert "转接" not in _spoken(document)[0]


def test_the_fallback_with_a_duty_line_transfers_and_claims_nothing_if_unanswered():
    document = fallback_twiml(load_settings({"HOTLINE_FALLBACK_PHONE": "+861088889999"}))
    assert _verbs(document) == ["Say", "Dial", "Say"]
    first, after = _spoken(document)
    assert first == render("zh", "voice_fallback") and "转接" in first
    # The call may never have reached the database: the station is not said to have it.
    assert after == render("zh", "voice_fallback_unanswered") and "已收到" not in after


def test_an_unregistered_caller_with_no_duty_line_is_not_promised_a_transfer(client, session, redis_conn):
    make_group(session, duty_phone=None)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": "+8613999999999", "To": HOTLINE})
    assert response.status_code == 200
    document = response.data.decode()
    assert _verbs(document) == ["Say", "Hangup"]
    [said] = _spoken(document)
    assert said == render("zh", "voice_unregistered_nobody")
    assert "正在为您转接" not in said and "110" in said


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_officers_escalation_text_on_the_simulator_says_the_real_delay(environ, app, tmp_path, session):
    group = make_group(session, delays="4,600")
    caller = _caller(group)
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    alerted = len(group.members) - 1
    with running_stack(environ, tmp_path) as stack:
        stack.sim.dial(caller.phone, hangup_after=0.0)
        stack.wait_for(
            lambda: rows(stack.app, lambda s: s.scalar(select(Incident.escalation_level))) == 1,
            what="level 1", timeout=30,
        )

        def upgrade() -> str | None:
            bodies = [message["body"] for message in stack.sim.phone(officer.phone)["messages"]]
            return next((body for body in bodies if body.startswith("【联防升级】")), None)

        body = stack.wait_for(upgrade, what="the officer's escalation SMS", timeout=30)
        time.sleep(0.5)
    assert f"已通知小组{alerted}人，4秒内无人响应" in body
    assert "分钟" not in body
