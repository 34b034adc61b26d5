"""The inbound call webhook, through the Flask test client."""

import xml.etree.ElementTree as ET

from rq import Queue
from sqlalchemy import func, select

from hotline.models import Incident, Member, Notification, RingMode, Role, TimelineEvent
from tests.factories import call_sid, make_group, signed_post


def _caller(session, group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def test_call_rings_every_other_member_in_one_dial(client, session, redis_conn):
    group = make_group(session)
    caller = _caller(session, group)
    sid = call_sid()
    response = signed_post(client, "/twilio/voice", {"CallSid": sid, "From": caller.phone, "To": "+8657188880000"})
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    says = root.findall("Say")
    assert "联防小组" in says[0].text
    assert says[0].get("language") == "cmn-CN"
    dials = root.findall("Dial")
    assert len(dials) == 1
    numbers = dials[0].findall("Number")
    expected = {m.phone for m in group.members} - {caller.phone}
    assert {n.text for n in numbers} == expected
    assert all("/twilio/voice/screen?n=" in n.get("url") for n in numbers)
    assert "/twilio/voice/dial-result" in dials[0].get("action")

    incident = session.scalar(select(Incident))
    assert incident.call_sid == sid and incident.group_id == group.id
    sms = session.scalars(select(Notification).where(Notification.channel == "sms")).all()
    # every other member gets an alert, the caller a confirmation
    assert sorted(n.purpose for n in sms).count("alert") == len(expected)
    confirmation = next(n for n in sms if n.purpose == "confirmation")
    assert confirmation.phone == caller.phone
    assert f"已通知{len(expected)}名联防成员" in confirmation.body
    alert = next(n for n in sms if n.purpose == "alert")
    assert caller.name in alert.body and caller.address in alert.body and "回复1" in alert.body

    queue = Queue("alerts", connection=redis_conn)
    assert sorted(queue.job_ids) == sorted(f"sms-{n.id}" for n in sms)
    scheduled = queue.scheduled_job_registry.get_job_ids()
    # The first escalation check, and the first round of calling again whoever has not answered.
    assert sorted(scheduled) == [f"escalation-{incident.id}-1", f"recall-{incident.id}-1"]


def test_retried_webhook_opens_nothing_new(client, session, redis_conn):
    group = make_group(session)
    params = {"CallSid": call_sid(), "From": _caller(session, group).phone, "To": "+8657188880000"}
    first = signed_post(client, "/twilio/voice", params)
    second = signed_post(client, "/twilio/voice", params)
    assert first.data == second.data
    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert session.scalar(select(func.count()).select_from(Notification).where(Notification.channel == "sms")) == 9


def test_forged_or_missing_signature_is_refused_and_writes_nothing(client, session, redis_conn):
    group = make_group(session)
    params = {"CallSid": call_sid(), "From": _caller(session, group).phone, "To": "+8657188880000"}
    assert client.post("/twilio/voice", data=params).status_code == 403
    forged = signed_post(client, "/twilio/voice", params, token="not-the-token")
    assert forged.status_code == 403
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_signature_checked_against_public_url_behind_a_proxy(app, session, redis_conn, environ):
    from hotline.app import create_app

    environ["HOTLINE_PUBLIC_URL"] = "https://hotline.example.org"
    proxied = create_app(environ).test_client()
    group = make_group(session)
    params = {"CallSid": call_sid(), "From": _caller(session, group).phone, "To": "+8657188880000"}
    ok = signed_post(proxied, "/twilio/voice", params, public_url="https://hotline.example.org")
    assert ok.status_code == 200
    wrong_scheme = signed_post(proxied, "/twilio/voice", dict(params, CallSid=call_sid()), public_url="http://hotline.example.org")
    assert wrong_scheme.status_code == 403


def test_every_configured_token_is_accepted(environ, migrated_engine, redis_conn, session):
    from hotline.app import create_app

    environ.update(
        HOTLINE_TWILIO_ACCOUNT_SID="AC" + "a" * 32,
        HOTLINE_TWILIO_AUTH_TOKEN="old-token,new-token",
        HOTLINE_TWILIO_NUMBER="+8657188880000",
    )
    twilio_client = create_app(environ).test_client()
    for token in ("old-token", "new-token"):
        response = signed_post(twilio_client, "/twilio/voice/fallback", {"CallSid": call_sid()}, token=token)
        assert response.status_code == 200
    assert signed_post(twilio_client, "/twilio/voice/fallback", {"CallSid": call_sid()}).status_code == 403


def test_garbage_parameters_get_400_and_write_nothing(client, session, redis_conn):
    make_group(session)
    for params in ({}, {"CallSid": "nonsense", "From": "+8613800100001"}, {"CallSid": call_sid()}):
        assert signed_post(client, "/twilio/voice", params).status_code == 400
    assert session.scalar(select(func.count()).select_from(Incident)) == 0


def test_unregistered_caller_goes_to_duty_line(client, session, redis_conn):
    make_group(session)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": "+8613999999999"})
    root = ET.fromstring(response.data)
    assert "尚未登记" in root.find("Say").text
    assert root.find("Dial/Number").text == "+861088880000"
    incident = session.scalar(select(Incident))
    assert incident.unregistered and incident.group_id is None
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_conference_mode_puts_caller_in_a_conference_and_queues_calls(client, session, redis_conn):
    group = make_group(session, ring_mode=RingMode.CONFERENCE)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": _caller(session, group).phone})
    root = ET.fromstring(response.data)
    incident = session.scalar(select(Incident))
    conference = root.find("Dial/Conference")
    assert conference.text == incident.conference_name
    assert conference.get("endConferenceOnExit") == "true"
    calls = session.scalars(select(Notification).where(Notification.channel == "call")).all()
    assert len(calls) == 8 and not any(c.via_dial for c in calls)
    queue = Queue("alerts", connection=redis_conn)
    assert {f"call-{c.id}" for c in calls} <= set(queue.job_ids)


def test_fallback_never_touches_the_database(environ, redis_conn):
    from hotline.app import create_app

    environ["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    environ["HOTLINE_FALLBACK_PHONE"] = "+861088880000"
    client = create_app(environ).test_client()
    response = signed_post(client, "/twilio/voice/fallback", {"CallSid": call_sid()})
    assert response.status_code == 200
    assert ET.fromstring(response.data).find("Dial/Number").text == "+861088880000"


def test_database_down_sends_caller_to_duty_line(environ, redis_conn):
    from hotline.app import create_app

    environ["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    environ["HOTLINE_FALLBACK_PHONE"] = "+861088880000"
    client = create_app(environ).test_client()
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": "+8613800100001"})
    assert response.status_code == 200
    assert ET.fromstring(response.data).find("Dial/Number").text == "+861088880000"


def test_timeline_starts_with_the_call(client, session, redis_conn):
    group = make_group(session)
    signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": _caller(session, group).phone})
    kinds = session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)).all()
    assert kinds[:2] == ["call_received", "fan_out"]
    assert session.scalar(select(Member).where(Member.role == "leader")) is not None
