"""Never silent, never a false promise: repeats, calling again, minimum responders, taking, the caller's side."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotline.extensions import get_settings
from hotline.models import (
    Answer,
    Channel,
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    RingMode,
    Role,
    TimelineEvent,
    User,
)
from hotline.services.caller import call_back, cancel_as_misdial, status_text
from hotline.services.escalation import due_at, escalate, level_exists, needs_escalation, recipients
from hotline.services.incidents import open_incident
from hotline.services.recall import due_for_recall, recall_members
from hotline.services.responses import record_response
from hotline.services.taking import AlreadySettled, take_incident
from tests.factories import call_sid, make_group, message_sid, signed_post
from tests.support.console import login

T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
DUTY = "+861088880000"


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _open(session, settings, group, *, at: datetime = T0, source: str = "call") -> Incident:
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    opened = open_incident(session, settings, caller_phone=caller.phone, source=source, call_sid=call_sid(), now=at)
    session.commit()
    return opened.incident


def _others(group, incident):
    return [m for m in group.members if m.phone != incident.caller_phone]


# --- repeats past the last level ------------------------------------------------------------------


def test_levels_past_the_duty_line_exist_only_as_repeats():
    row = Incident(status=IncidentStatus.OPEN, escalation_level=2, opened_at=T0)
    assert not level_exists((60, 180), 3) and level_exists((60, 180), 3, repeat=120)
    assert due_at(row, (60, 180), 3, repeat=120) == _at(60 + 180 + 120)
    assert due_at(row, (60, 180), 4, repeat=120) == _at(60 + 180 + 240)
    assert not needs_escalation(row, 3, (60, 180), _at(359), repeat=120)
    assert needs_escalation(row, 3, (60, 180), _at(360), repeat=120)
    acknowledged = Incident(status=IncidentStatus.ACKNOWLEDGED, escalation_level=2, opened_at=T0)
    assert not needs_escalation(acknowledged, 3, (60, 180), _at(9999), repeat=120)


def test_a_repeat_calls_the_officers_and_the_duty_line_again_without_texting(app, session):
    settings = get_settings(app)
    group = make_group(session)
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    second = escalate(session, settings, incident, 2, now=_at(240))
    assert (second.next_level, second.next_delay) == (3, pytest.approx(settings.escalation_repeat))
    session.commit()

    repeat = escalate(session, settings, incident, 3, now=_at(240 + settings.escalation_repeat))
    session.commit()

    called = {n.phone for n in session.scalars(select(Notification).where(Notification.id.in_(repeat.call_ids)))}
    officers = {m.phone for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT)}
    assert repeat.fired and called == officers | {DUTY} and repeat.sms_ids == []
    assert repeat.next_level == 4
    assert {p for p, _, _ in recipients(incident, 5)} == officers | {DUTY}


def test_the_caller_is_texted_when_the_duty_line_is_alerted(app, session):
    settings = get_settings(app)
    group = make_group(session)
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    result = escalate(session, settings, incident, 2, now=_at(240))
    session.commit()
    texts = session.scalars(select(Notification).where(Notification.id.in_(result.sms_ids))).all()
    [to_caller] = [n for n in texts if n.phone == incident.caller_phone]
    assert "派出所值班室已收到" in to_caller.body


# --- staff take the incident ------------------------------------------------------------------------


def test_taking_an_incident_stops_escalation_and_tells_caller_and_group(app, session):
    settings = get_settings(app)
    group = make_group(session)
    incident = _open(session, settings, group)
    user = User(username="wang", password_hash="x", station_id=group.village.station_id)
    session.add(user)
    session.commit()

    work = take_incident(session, settings, incident, user)
    session.commit()

    assert (incident.status, incident.taken_by_id) == (IncidentStatus.ACKNOWLEDGED, user.id)
    told = {n.phone: n.body for n in session.scalars(select(Notification).where(Notification.id.in_(work.sms_ids)))}
    assert incident.caller_phone in told and all("wang已接手处理" in body for body in told.values())
    assert not escalate(session, settings, incident, 1, now=_at(9999)).fired
    with pytest.raises(AlreadySettled):
        take_incident(session, settings, incident, user)


def test_the_console_take_button(console, session, world):
    settings = get_settings(console.application)
    incident = _open(session, settings, world.group_a)
    login(console, "a_staff")
    page = console.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "我来处理" in page

    response = console.post(f"/incidents/{incident.id}/take", follow_redirects=True)

    assert response.status_code == 200 and "您已接手此求助" in response.get_data(as_text=True)
    session.expire_all()
    taken = session.get(Incident, incident.id)
    assert taken is not None and taken.status == "acknowledged" and taken.taken_by.username == "a_staff"
    board = console.get("/board.json").get_json()["incidents"]
    assert [row["taken_by"] for row in board if row["id"] == incident.id] == ["a_staff"]
    other = console.application.test_client()
    login(other, "b_staff")
    assert other.post(f"/incidents/{incident.id}/take").status_code == 404


def test_the_board_marks_how_far_an_alert_has_climbed(console, session, world):
    settings = get_settings(console.application)
    incident = _open(session, settings, world.group_a, at=datetime.now(UTC) - timedelta(minutes=10))
    incident.escalation_level = 4
    session.commit()
    login(console, "a_staff")
    [row] = [r for r in console.get("/board.json").get_json()["incidents"] if r["id"] == incident.id]
    assert (row["urgency"], row["alarm"]) == (3, True)
    assert "已重复呼叫2次" in row["level_label"]
    assert 'id="board-sound"' in console.get("/board").get_data(as_text=True)


# --- enough responders --------------------------------------------------------------------------------


def test_a_group_needing_two_is_covered_by_the_second_distinct_acceptance(app, session):
    settings = get_settings(app)
    group = make_group(session)
    group.min_acceptances = 2
    incident = _open(session, settings, group)
    first, second = [m for m in _others(group, incident) if m.role == Role.HOUSEHOLD][:2]

    one = record_response(session, settings, incident, phone=first.phone, channel=Channel.SMS,
                          answer=Answer.ACCEPT, source_sid=message_sid())
    again = record_response(session, settings, incident, phone=first.phone, channel=Channel.CALL,
                            answer=Answer.ACCEPT, source_sid=call_sid())
    session.commit()
    assert not one.acknowledged and not again.acknowledged
    assert (incident.status, incident.accepted_count) == (IncidentStatus.OPEN, 1)
    notices = session.scalars(select(Notification).where(Notification.id.in_(one.sms_ids))).all()
    assert notices and all("1/2" in n.body for n in notices)
    assert again.sms_ids == []  # the same member twice counts once

    two = record_response(session, settings, incident, phone=second.phone, channel=Channel.SMS,
                          answer=Answer.ACCEPT, source_sid=message_sid())
    session.commit()
    assert two.acknowledged and incident.accepted_count == 2
    assert incident.acknowledged_by_id == first.id  # the first to accept


# --- calling again -----------------------------------------------------------------------------------


def _call(phone: str, status: str, created: datetime) -> Notification:
    return Notification(phone=phone, status=status, created_at=created, channel=Channel.CALL)


def test_who_is_called_again():
    group = [type("M", (), {"phone": p, "active": True})() for p in ("+861", "+862", "+863", "+864", "+865")]
    calls = [
        _call("+861", "no-answer", T0),  # missed it: again
        _call("+862", "ringing", T0),  # still ringing: not yet
        _call("+863", "no-answer", T0),  # answered by SMS: no
        _call("+864", "busy", _at(50)),  # tried too recently for the carrier: not this round
    ]
    chosen = due_for_recall(group, calls, answered={"+863"}, now=_at(70), spacing=timedelta(seconds=60))
    assert [m.phone for m in chosen] == ["+861"]  # +865 never had a call: the fan-out decides who is rung


def test_a_recall_round_writes_calls_once_and_schedules_the_next(app, session):
    settings = get_settings(app)
    group = make_group(session, ring_mode=RingMode.CONFERENCE)
    incident = _open(session, settings, group)
    for call in session.scalars(select(Notification).where(Notification.channel == Channel.CALL)):
        call.status = "no-answer"
    session.commit()

    work = recall_members(session, settings, incident, 1, now=datetime.now(UTC) + timedelta(minutes=5))
    session.commit()
    again = recall_members(session, settings, incident, 1, now=datetime.now(UTC) + timedelta(minutes=5))

    assert len(work.call_ids) == len(_others(group, incident)) and again.call_ids == []
    assert [later.job_id for later in work.later] == [f"recall-{incident.id}-2"]
    incident.status = IncidentStatus.ACKNOWLEDGED
    assert recall_members(session, settings, incident, 2).call_ids == []


# --- the caller's side --------------------------------------------------------------------------------


def test_the_caller_hears_how_many_were_alerted_and_who_is_coming(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    incident = _open(session, settings, group)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    assert status_text(session, settings, incident) == f"已通知{len(_others(group, incident))}人。请不要挂机。"

    record_response(session, settings, incident, phone=leader.phone, channel=Channel.SMS,
                    answer=Answer.ACCEPT, source_sid=message_sid())
    incident.escalation_level = 2
    text = status_text(session, settings, incident)
    assert f"组长{leader.name}正在赶来" in text and "派出所已收到您的求助" in text


def test_a_call_back_is_placed_once_and_9_closes_it_as_a_misdial(client, app, session, redis_conn):
    settings = get_settings(app)
    group = make_group(session)
    incident = _open(session, settings, group)
    first = call_back(session, incident)
    session.commit()
    assert call_back(session, incident).call_ids == []
    [callback_id] = first.call_ids

    screen = ET.fromstring(signed_post(client, f"/twilio/voice/screen?n={callback_id}", {"CallSid": call_sid()}).data)
    assert "误拨请按9" in screen.find("Gather/Say").text
    answer = signed_post(
        client, f"/twilio/voice/screen/answer?n={callback_id}", {"CallSid": call_sid(), "Digits": "9"}
    )
    assert "已为您取消" in ET.fromstring(answer.data).find("Say").text

    session.expire_all()
    closed = session.get(Incident, incident.id)
    assert closed is not None and (closed.status, closed.outcome) == ("closed", "misdial")
    notices = session.scalars(select(Notification).where(Notification.purpose == Purpose.CANCEL_NOTICE)).all()
    assert {n.phone for n in notices} == {m.phone for m in _others(group, incident) if m.reachable_by_sms}
    assert cancel_as_misdial(session, settings, closed).sms_ids == []  # a second 9 changes nothing


def test_the_greeting_offers_9_and_any_other_key_goes_on_ringing(client, session, redis_conn):
    group = make_group(session)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    root = ET.fromstring(
        signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": "+8657188880000"}).data
    )
    gather = root.find("Gather")
    assert gather is not None and "误拨请按9" in gather.find("Say").text
    incident = session.scalar(select(Incident))
    key_page = gather.get("action").split("5000", 1)[1]
    pressed = ET.fromstring(signed_post(client, key_page, {"CallSid": incident.call_sid, "Digits": "5"}).data)
    assert pressed.find("Dial") is not None and pressed.find("Gather") is None
    assert session.scalar(select(TimelineEvent.id).where(TimelineEvent.kind == "caller_cancelled")) is None


def test_a_conference_caller_waits_on_a_page_that_says_where_the_alert_stands(client, session, redis_conn):
    group = make_group(session, ring_mode=RingMode.CONFERENCE)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    root = ET.fromstring(
        signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": "+8657188880000"}).data
    )
    conference = root.find("Dial/Conference")
    assert conference.get("startConferenceOnEnter") == "false" and conference.get("endConferenceOnExit") == "true"
    wait_page = conference.get("waitUrl").split("5000", 1)[1]
    wait = ET.fromstring(signed_post(client, wait_page, {"CallSid": call_sid()}).data)
    assert "已通知" in wait.find("Say").text and wait.find("Pause") is not None
