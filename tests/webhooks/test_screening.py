"""Voice screening (press 1 to accept) and what the caller hears after each ``<Dial>``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
from rq import Queue
from sqlalchemy import select

from config.templates import render
from hotline.extensions import SETTINGS_KEY, get_settings
from hotline.models import Incident, Member, Notification, Response, RingMode, Role, TimelineEvent, utcnow
from hotline.services.escalation import escalate
from tests.factories import PUBLIC_URL, call_sid, make_group, message_sid, signed_post

HOTLINE = "+8657188880000"
DUTY = "+861088880000"


def _fresh(session) -> None:
    session.commit()
    session.expire_all()


def _caller(group) -> Member:
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _staff(group) -> list[Member]:
    return [m for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT)]


def _xml(response) -> ET.Element:
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/xml"
    return ET.fromstring(response.data)


def _verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def _path(url: str) -> str:
    """A callback URL from our TwiML, as the path the carrier will POST to."""
    assert url.startswith(PUBLIC_URL)
    return url[len(PUBLIC_URL):]


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _use_settings(app, **changes) -> None:
    """Run ``app`` with some settings changed (settings are frozen: a changed copy replaces them)."""
    app.extensions[SETTINGS_KEY] = get_settings(app).model_copy(update=changes)


def _call_in(client, session, group) -> tuple[Incident, ET.Element, str]:
    sid = call_sid()
    root = _xml(signed_post(client, "/twilio/voice", {"CallSid": sid, "From": _caller(group).phone, "To": HOTLINE}))
    _fresh(session)
    return session.scalar(select(Incident).where(Incident.call_sid == sid)), root, sid


def _text_in(client, session, group) -> Incident:
    sid = message_sid()
    response = signed_post(
        client, "/twilio/sms", {"MessageSid": sid, "From": _caller(group).phone, "To": HOTLINE, "Body": "救命"}
    )
    assert response.status_code == 200
    _fresh(session)
    return session.scalar(select(Incident).where(Incident.message_sid == sid))


def _alert_call(session, incident: Incident, phone: str | None = None) -> Notification:
    query = select(Notification).where(
        Notification.incident_id == incident.id, Notification.channel == "call", Notification.purpose == "alert"
    )
    if phone:
        query = query.where(Notification.phone == phone)
    return session.scalars(query.order_by(Notification.id)).first()


def _answer(client, notification_id: int, digits: str | None, sid: str | None = None) -> ET.Element:
    params = {"CallSid": sid or call_sid()}
    if digits is not None:
        params["Digits"] = digits
    return _xml(signed_post(client, f"/twilio/voice/screen/answer?n={notification_id}", params))


def _dial_result(client, action_url: str, status: str = "no-answer") -> ET.Element:
    return _xml(signed_post(client, _path(action_url), {"CallSid": call_sid(), "DialCallStatus": status}))


# --- the screening page ------------------------------------------------------------------------


def test_screen_names_the_caller_and_address_and_asks_for_1(client, session, redis_conn):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    leg = _alert_call(session, incident)

    root = _xml(signed_post(client, f"/twilio/voice/screen?n={leg.id}", {"CallSid": call_sid()}))

    assert _verbs(root) == ["Gather", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_URL}/twilio/voice/screen/answer?n={leg.id}"
    assert gather.get("method") == "POST"
    says = gather.findall("Say")
    caller = _caller(group)
    expected = f"联防求助。{caller.name}在{caller.address}需要帮助。接听请按1，不能前往请按2。"
    assert says and all(say.text == expected for say in says)
    assert all(say.get("language") == "cmn-CN" for say in says)


def test_escalation_screen_says_where_and_that_nobody_answered(client, session, redis_conn, app):
    group = make_group(session)
    incident = _text_in(client, session, group)
    incident.opened_at = utcnow().replace(year=2000)
    session.commit()
    assert escalate(session, get_settings(app), incident, 1).fired
    session.commit()
    call = session.scalars(
        select(Notification).where(Notification.purpose == "escalation", Notification.channel == "call")
    ).first()

    root = _xml(signed_post(client, f"/twilio/voice/screen?n={call.id}", {"CallSid": call_sid()}))

    text = root.find("Gather/Say").text
    assert text.startswith("联防求助升级。") and "东村一组" in text and _caller(group).address in text


def test_screen_for_an_unknown_notification_is_404(client, session, redis_conn):
    make_group(session)
    assert signed_post(client, "/twilio/voice/screen?n=424242", {"CallSid": call_sid()}).status_code == 404
    assert (
        signed_post(client, "/twilio/voice/screen/answer?n=424242", {"CallSid": call_sid(), "Digits": "1"}).status_code
        == 404
    )


def test_screen_requires_a_signature(client, session, redis_conn):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    leg = _alert_call(session, incident)
    assert (
        client.post(f"/twilio/voice/screen/answer?n={leg.id}", data={"CallSid": call_sid(), "Digits": "1"}).status_code
        == 403
    )
    _fresh(session)
    assert session.scalar(select(Response)) is None


# --- the answer ----------------------------------------------------------------------------------


def test_pressing_1_on_a_dial_leg_accepts_and_bridges(client, session, redis_conn):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    responder = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.phone != _caller(group).phone)
    leg = _alert_call(session, incident, responder.phone)
    assert leg.via_dial
    queued = set(Queue("alerts", connection=redis_conn).job_ids)
    sid = call_sid()

    root = _answer(client, leg.id, "1", sid)

    # Ending the leg's document without <Hangup> is what lets <Dial> bridge it.
    assert _verbs(root) == ["Say"]
    assert root.find("Say").text == render("zh", "voice_screen_accepted")
    _fresh(session)
    response = session.scalar(select(Response))
    assert (response.member_id, response.channel, response.answer, response.source_sid) == (
        responder.id,
        "call",
        "accept",
        sid,
    )
    incident = session.get(Incident, incident.id)
    assert (incident.status, incident.acknowledged_by_id) == ("acknowledged", responder.id)
    notices = session.scalars(select(Notification).where(Notification.purpose == "ack_notice")).all()
    assert notices and responder.phone not in {n.phone for n in notices}
    # The others are told who is coming; the one who accepted is texted the caller's number and address.
    details = session.scalars(select(Notification).where(Notification.purpose == "accepted_details")).all()
    assert [n.phone for n in details] == [responder.phone]
    assert set(Queue("alerts", connection=redis_conn).job_ids) - queued == {
        f"sms-{n.id}" for n in [*notices, *details]
    }
    kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()
    assert "call_accepted" in kinds and "acknowledged" in kinds


def test_pressing_1_twice_on_the_same_leg_records_once(client, session, redis_conn):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    leg = _alert_call(session, incident)
    sid = call_sid()
    first = _answer(client, leg.id, "1", sid)
    second = _answer(client, leg.id, "1", sid)
    assert _verbs(first) == _verbs(second) == ["Say"]
    _fresh(session)
    assert len(session.scalars(select(Response)).all()) == 1


@pytest.mark.parametrize("digits", [None, "", "3", "*", "#", "9"])
def test_no_digits_or_another_key_hangs_up(client, session, redis_conn, digits):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    leg = _alert_call(session, incident)

    root = _answer(client, leg.id, digits)

    assert _verbs(root) == ["Hangup"]
    _fresh(session)
    assert session.scalar(select(Response)) is None
    assert session.get(Incident, incident.id).status == "open"


def test_pressing_2_declines_and_hangs_up(client, session, redis_conn):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    leg = _alert_call(session, incident)

    root = _answer(client, leg.id, "2")

    assert _verbs(root) == ["Say", "Hangup"]
    _fresh(session)
    assert session.scalar(select(Response.answer)) == "decline"
    assert session.get(Incident, incident.id).status == "open"


def test_conference_mode_acceptance_joins_the_conference(client, session, redis_conn):
    group = make_group(session, ring_mode=RingMode.CONFERENCE)
    incident, _, _ = _call_in(client, session, group)
    call = _alert_call(session, incident)
    assert not call.via_dial

    root = _answer(client, call.id, "1")

    assert _verbs(root) == ["Say", "Dial"]
    conference = root.find("Dial/Conference")
    assert conference.text == f"hotline-incident-{incident.id}"
    # Only the caller's leaving ends the conference.
    assert conference.get("endConferenceOnExit") == "false"
    assert conference.get("startConferenceOnEnter") == "true"
    _fresh(session)
    assert session.get(Incident, incident.id).status == "acknowledged"


def test_accepting_an_sms_incident_gives_the_callers_number(client, session, redis_conn):
    group = make_group(session)
    incident = _text_in(client, session, group)
    call = _alert_call(session, incident)
    assert not call.via_dial

    root = _answer(client, call.id, "1")

    assert _verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == f"已确认，求助人电话{_caller(group).phone}，请尽快联系。"
    _fresh(session)
    assert session.get(Incident, incident.id).status == "acknowledged"


def test_accepting_an_escalation_call_gives_the_callers_number(client, session, redis_conn, app):
    group = make_group(session)
    incident, _, _ = _call_in(client, session, group)
    incident.opened_at = utcnow().replace(year=2000)
    session.commit()
    assert escalate(session, get_settings(app), incident, 1).fired
    session.commit()
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    call = session.scalars(
        select(Notification).where(
            Notification.purpose == "escalation", Notification.channel == "call", Notification.phone == officer.phone
        )
    ).one()

    root = _answer(client, call.id, "1")

    assert _verbs(root) == ["Say", "Hangup"]
    assert _caller(group).phone in root.find("Say").text
    _fresh(session)
    assert session.get(Incident, incident.id).acknowledged_by_id == officer.id


# --- what the caller hears after each <Dial> -------------------------------------------------


def test_nobody_accepted_rings_the_officers_then_the_duty_line_then_gives_up(client, session, redis_conn):
    group = make_group(session)
    incident, root, _ = _call_in(client, session, group)
    action = root.find("Dial").get("action")
    assert _query(action) == {"incident": str(incident.id), "stage": "0"}

    officers = _dial_result(client, action)
    assert _verbs(officers) == ["Say", "Dial"]
    # The caller first hears where the alert stands ("已通知8人。"), then where they are put through.
    assert officers.find("Say").text.endswith(render("zh", "voice_transfer_officer"))
    dial = officers.find("Dial")
    assert _query(dial.get("action")) == {"incident": str(incident.id), "stage": "1"}
    numbers = dial.findall("Number")
    assert {n.text for n in numbers} == {m.phone for m in _staff(group)}
    _fresh(session)
    legs = session.scalars(
        select(Notification).where(Notification.purpose == "escalation", Notification.via_dial.is_(True))
    ).all()
    assert {n.phone for n in legs} == {m.phone for m in _staff(group)}
    for number in numbers:
        leg = next(n for n in legs if n.phone == number.text)
        # Screened like the group's legs, so an officer's voicemail cannot take the call.
        assert number.get("url") == f"{PUBLIC_URL}/twilio/voice/screen?n={leg.id}"
        assert number.get("statusCallback") == f"{PUBLIC_URL}/twilio/call-status?n={leg.id}"

    duty = _dial_result(client, dial.get("action"))
    assert _verbs(duty) == ["Say", "Dial"]
    assert duty.find("Say").text.endswith(render("zh", "voice_transfer_duty"))
    assert duty.find("Dial/Number").text == DUTY
    assert _query(duty.find("Dial").get("action")) == {"incident": str(incident.id), "stage": "2"}

    nobody = _dial_result(client, duty.find("Dial").get("action"))
    assert _verbs(nobody) == ["Say", "Hangup"]
    assert nobody.find("Say").text == render("zh", "voice_nobody")

    _fresh(session)
    kinds = session.scalars(
        select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.id)
    ).all()
    assert kinds.count("transferred") == 2 and kinds[-1] == "caller_told_nobody_answered"


def test_a_retried_dial_result_reuses_the_officer_legs(client, session, redis_conn):
    group = make_group(session)
    _incident, root, _ = _call_in(client, session, group)
    action = root.find("Dial").get("action")
    first = _dial_result(client, action)
    second = _dial_result(client, action)
    assert [n.get("url") for n in first.iter("Number")] == [n.get("url") for n in second.iter("Number")]
    _fresh(session)
    assert (
        len(
            session.scalars(
                select(Notification).where(Notification.via_dial.is_(True), Notification.purpose == "escalation")
            ).all()
        )
        == 2
    )


def test_officer_accepting_on_the_transfer_bridges(client, session, redis_conn):
    group = make_group(session)
    incident, root, _ = _call_in(client, session, group)
    officers = _dial_result(client, root.find("Dial").get("action"))
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    number = next(n for n in officers.iter("Number") if n.text == officer.phone)
    leg_id = int(_query(number.get("url"))["n"])

    assert _verbs(_answer(client, leg_id, "1")) == ["Say"]
    _fresh(session)
    assert session.get(Incident, incident.id).acknowledged_by_id == officer.id
    # Once bridged and finished, the caller is not sent on to the duty line.
    assert _verbs(_dial_result(client, officers.find("Dial").get("action"), "completed")) == ["Hangup"]


def test_acknowledged_incident_hangs_up_after_the_dial(client, session, redis_conn):
    group = make_group(session)
    incident, _root, _ = _call_in(client, session, group)
    _answer(client, _alert_call(session, incident).id, "1")
    for stage in ("0", "1", "2"):
        path = f"/twilio/voice/dial-result?incident={incident.id}&stage={stage}"
        ended = _xml(signed_post(client, path, {"CallSid": call_sid(), "DialCallStatus": "completed"}))
        assert _verbs(ended) == ["Hangup"]


def test_unknown_incident_hangs_up(client, session, redis_conn):
    make_group(session)
    ended = _xml(signed_post(client, "/twilio/voice/dial-result?incident=999999&stage=0", {"CallSid": call_sid()}))
    assert _verbs(ended) == ["Hangup"]


def test_the_officers_transfer_dials_at_most_one_ring_group_and_the_escalation_calls_the_rest(
    client, session, redis_conn
):
    from datetime import timedelta

    group = make_group(session)
    for index in range(10):  # twelve officers and assistants in all
        session.add(Member(group_id=group.id, name=f"民警{index}", phone=f"+8613900200{index:03d}", role=Role.OFFICER))
    session.commit()
    session.refresh(group)
    staff = {m.phone for m in _staff(group)}
    assert len(staff) == 12
    incident, root, _ = _call_in(client, session, group)

    officers = _dial_result(client, root.find("Dial").get("action"))
    rung = [n.text for n in officers.iter("Number")]
    assert len(rung) == 10 and set(rung) <= staff
    _fresh(session)
    legs = session.scalars(
        select(Notification.phone).where(Notification.purpose == "escalation", Notification.via_dial.is_(True))
    ).all()
    assert sorted(legs) == sorted(rung)

    # The officers' level calls those the transfer could not hold, and not those it is ringing.
    result = escalate(session, get_settings(client.application), incident, 1, now=utcnow() + timedelta(seconds=61))
    session.commit()
    called = session.scalars(select(Notification.phone).where(Notification.id.in_(result.call_ids))).all()
    assert result.fired and set(called) == staff - set(rung) and len(called) == 2


def test_ring_all_never_puts_more_than_ten_numbers_in_one_dial(app):
    from hotline.carriers.twilio import twiml

    legs = [(f"+86139002{index:05d}", index) for index in range(1, 13)]
    document = ET.fromstring(str(twiml.ring_all(get_settings(app), greeting="您好", legs=legs, action="http://x/a")))
    assert [n.text for n in document.iter("Number")] == [phone for phone, _ in legs[:10]]


def test_group_without_officers_goes_straight_to_the_duty_line(client, session, redis_conn):
    group = make_group(session)
    for member in _staff(group):
        member.active = False
    session.commit()
    _incident, root, _ = _call_in(client, session, group)
    duty = _dial_result(client, root.find("Dial").get("action"))
    assert duty.find("Dial/Number").text == DUTY
    assert _query(duty.find("Dial").get("action"))["stage"] == "2"


def test_no_officers_and_no_duty_line_gives_up_at_once(client, session, redis_conn):
    group = make_group(session, duty_phone=None)
    for member in _staff(group):
        member.active = False
    session.commit()
    _incident, root, _ = _call_in(client, session, group)
    nobody = _dial_result(client, root.find("Dial").get("action"))
    assert _verbs(nobody) == ["Say", "Hangup"]
    # No duty line will be called: the station is not said to have the alert.
    assert nobody.find("Say").text == render("zh", "voice_nobody_call_110") == "暂时无人接听，请立即拨打110。"
    assert "派出所" not in nobody.find("Say").text


def test_a_duty_line_the_escalation_never_calls_is_not_said_to_have_the_alert(client, session, redis_conn, app):
    # One delay and no repeats: the escalation stops at the officers and never calls the duty line.
    group = make_group(session, delays="60")
    _use_settings(app, escalation_repeat=0)
    _incident, root, _ = _call_in(client, session, group)
    officers = _dial_result(client, root.find("Dial").get("action"))
    duty = _dial_result(client, officers.find("Dial").get("action"))
    assert duty.find("Dial/Number").text == DUTY
    nobody = _dial_result(client, duty.find("Dial").get("action"))
    assert _verbs(nobody) == ["Say", "Hangup"]
    assert nobody.find("Say").text == render("zh", "voice_nobody_call_110")


def test_a_stranger_put_through_to_the_fallback_line_is_not_told_the_station_has_the_alert(
    client, session, redis_conn, app
):
    # A second station: a stranger on the shared number belongs to neither.
    make_group(session)
    make_group(session, station_name="南山派出所", duty_phone="+861088881111", prefix="+86138002")
    _use_settings(app, fallback_phone="+861066660000")
    root = _xml(signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": "+8613999999999", "To": HOTLINE}))
    assert root.find("Dial/Number").text == "+861066660000"
    _fresh(session)
    assert session.scalar(select(Incident).where(Incident.caller_phone == "+8613999999999")).station_id is None
    # Unanswered, the caller hears only to dial 110: no station will be called.
    unanswered = _dial_result(client, root.find("Dial").get("action"))
    assert _verbs(unanswered) == ["Say", "Hangup"]
    assert unanswered.find("Say").text == render("zh", "voice_nobody_call_110")


def test_a_caller_called_back_is_not_told_members_are_coming_when_none_accepted(client, app, session, redis_conn):
    from hotline.services.caller import call_back

    group = make_group(session)
    incident, _root, _ = _call_in(client, session, group)
    [callback_id] = call_back(session, incident).call_ids
    session.commit()
    answer = f"/twilio/voice/screen/answer?n={callback_id}"
    kept = _xml(signed_post(client, answer, {"CallSid": call_sid(), "Digits": "1"}))
    said = kept.find("Say").text
    assert said == render("zh", "voice_caller_check_kept") and "正在赶来" not in said


def test_caller_who_talked_to_the_duty_line_is_not_told_nobody_answered(client, session, redis_conn):
    group = make_group(session)
    incident, root, _ = _call_in(client, session, group)
    officers = _dial_result(client, root.find("Dial").get("action"))
    duty = _dial_result(client, officers.find("Dial").get("action"))

    # The duty officer answered, talked, and hung up first.
    ended = _dial_result(client, duty.find("Dial").get("action"), "completed")

    assert _verbs(ended) == ["Hangup"]
    _fresh(session)
    kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()
    assert "caller_told_nobody_answered" not in kinds
    assert "caller_connected" in kinds
