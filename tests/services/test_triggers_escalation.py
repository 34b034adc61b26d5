"""A caller in no group (an alarm a trigger raised, a stranger's text or call) has the station's duty line called.

The duty line is usually a landline: a forwarded text alone reaches nobody.
Such an incident starts at the duty line's level, is called again every
HOTLINE_ESCALATION_REPEAT seconds like any other incident, and stops once
someone accepts or staff take it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from config.templates import render
from hotline.extensions import get_settings
from hotline.models import Answer, Channel, Incident, IncidentStatus, Notification, Purpose, TimelineEvent, User
from hotline.services.escalation import DUTY_LINE, escalate, next_check, run_check
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.services.prompts import call_prompt
from hotline.services.responses import record_response
from hotline.services.taking import take_incident
from hotline.services.triggers import add_source, raise_alert
from tests.factories import call_sid, make_group, message_sid, signed_post

DUTY = "+861088880000"
STRANGER = "+8613999990000"
HOTLINE = "+8657188880000"


@pytest.fixture
def settings(app):
    return get_settings(app)


def _raise(session, settings, *, key: str = "button-1"):
    source, _token = add_source(session, f"一键报警器-{key}", "城关派出所")
    raised = raise_alert(session, settings, source, caller_phone=STRANGER, idempotency_key=key, note="东村口报警柱")
    session.commit()
    return raised


def _calls(session, ids: list[int]) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.id.in_(ids))).all())


def test_an_alarm_for_a_caller_in_no_group_calls_the_duty_line_at_once_and_again(session, settings):
    make_group(session)
    raised = _raise(session, settings)
    incident = raised.incident
    assert incident.unregistered and incident.station.duty_phone == DUTY

    # The forwarded text goes out, and the duty line's level is checked at once (no officers to wait for).
    [forwarded] = _calls(session, raised.work.sms_ids)
    assert forwarded.phone == DUTY and forwarded.template == "sms_unregistered_forward"
    check = raised.work.escalation
    assert check is not None and (check.level, check.delay) == (DUTY_LINE, 0)

    opened = incident.opened_at
    word, work = run_check(session, settings, incident, DUTY_LINE, now=opened)
    session.commit()
    assert word == "fired" and work.sms_ids == []  # it was texted already
    [call] = _calls(session, work.call_ids)
    assert (call.phone, call.channel, call.purpose) == (DUTY, Channel.CALL, Purpose.ESCALATION)
    repeat = settings.escalation_repeat
    assert work.escalation is not None and work.escalation.level == DUTY_LINE + 1
    assert work.escalation.delay == pytest.approx(repeat)

    # Nobody accepted: the duty line is called again, and again.
    for level in (DUTY_LINE + 1, DUTY_LINE + 2):
        again = escalate(session, settings, incident, level, now=opened + timedelta(seconds=(level - 2) * repeat))
        session.commit()
        assert again.fired and [n.phone for n in _calls(session, again.call_ids)] == [DUTY]
        assert again.sms_ids == []
    kinds = session.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.id)
    ).all()
    assert kinds.count("escalated") == 3
    check_due = next_check(settings, incident)
    assert check_due is not None and check_due.level == DUTY_LINE + 3


def test_staff_taking_it_stops_the_calls(session, settings):
    make_group(session)
    incident = _raise(session, settings).incident
    assert escalate(session, settings, incident, DUTY_LINE, now=incident.opened_at).fired
    user = User(username="wang", password_hash="x", station_id=incident.station_id)
    session.add(user)
    session.commit()

    take_incident(session, settings, incident, user)
    session.commit()

    assert incident.status == IncidentStatus.ACKNOWLEDGED
    later = incident.opened_at + timedelta(seconds=settings.escalation_repeat)
    assert not escalate(session, settings, incident, DUTY_LINE + 1, now=later).fired
    assert next_check(settings, incident) is None


def test_the_duty_line_accepting_stops_the_calls_and_hears_who_called(client, session, redis_conn, settings):
    make_group(session)
    incident = _raise(session, settings).incident
    fired = escalate(session, settings, incident, DUTY_LINE, now=incident.opened_at)
    session.commit()
    [call] = _calls(session, fired.call_ids)

    # What the duty line hears names the caller's number (there is no group, address or officer to name)...
    root = ET.fromstring(signed_post(client, f"/twilio/voice/screen?n={call.id}", {"CallSid": call_sid()}).data)
    said = root.find("Gather/Say").text
    assert said == render("zh", "voice_screen_unregistered", caller_phone=STRANGER) and STRANGER in said
    # ...on Aliyun too, where the prompt is chosen when the call is placed.
    prompt = call_prompt(settings, call)
    assert prompt is not None and prompt.template == "voice_screen_unregistered"
    assert prompt.params["caller_phone"] == STRANGER

    recorded = record_response(
        session, settings, incident, phone=DUTY, channel=Channel.CALL, answer=Answer.ACCEPT, source_sid=call_sid()
    )
    session.commit()
    assert recorded.acknowledged and incident.status == IncidentStatus.ACKNOWLEDGED
    later = incident.opened_at + timedelta(seconds=settings.escalation_repeat)
    assert not escalate(session, settings, incident, DUTY_LINE + 1, now=later).fired


def test_a_strangers_text_has_the_duty_line_called_at_once(session, settings):
    make_group(session)
    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=STRANGER, body="有人闯进我家")
    session.commit()
    assert handled.handled_as == "unregistered"
    check = handled.work(settings).escalation
    assert check is not None and (check.level, check.delay) == (DUTY_LINE, 0)
    fired = escalate(session, settings, handled.incident, DUTY_LINE, now=handled.incident.opened_at)
    assert [n.phone for n in _calls(session, fired.call_ids)] == [DUTY]


def test_a_strangers_call_is_put_through_and_the_duty_line_called_again_if_it_did_not_answer(
    client, session, redis_conn, settings
):
    make_group(session)
    root = ET.fromstring(signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER}).data)
    dial = root.find("Dial")
    assert dial.find("Number").text == DUTY
    incident = session.scalar(select(Incident).where(Incident.caller_phone == STRANGER))
    # The transfer rings first; the duty line's level falls due once it has had time to ring out.
    check = next_check(settings, incident)
    assert check is not None and check.level == DUTY_LINE
    assert (check.due - incident.opened_at).total_seconds() == settings.ring_timeout * 2 + 15

    # Unanswered: the caller hears the station has the alert, which is now true.
    action = dial.get("action").split("5000", 1)[1]
    nobody = ET.fromstring(
        signed_post(client, action, {"CallSid": incident.call_sid, "DialCallStatus": "no-answer"}).data
    )
    assert [say.text for say in nobody.iter("Say")] == [render("zh", "voice_nobody")]
    session.expire_all()
    assert session.get(Incident, incident.id).status == IncidentStatus.OPEN


def test_a_strangers_call_the_duty_line_answered_is_not_called_again(client, session, redis_conn, settings):
    make_group(session)
    root = ET.fromstring(signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": STRANGER}).data)
    incident = session.scalar(select(Incident).where(Incident.caller_phone == STRANGER))
    action = root.find("Dial").get("action").split("5000", 1)[1]

    ended = ET.fromstring(
        signed_post(client, action, {"CallSid": incident.call_sid, "DialCallStatus": "completed"}).data
    )

    assert [child.tag for child in ended] == ["Hangup"]
    session.expire_all()
    incident = session.get(Incident, incident.id)
    assert incident.status == IncidentStatus.ACKNOWLEDGED
    assert next_check(settings, incident) is None


def test_a_stranger_with_no_station_duty_line_escalates_nowhere(session, settings):
    make_group(session, duty_phone=None)
    raised = _raise(session, settings)
    assert raised.work.escalation is None and raised.work.sms_ids == []
    assert next_check(settings, raised.incident) is None
