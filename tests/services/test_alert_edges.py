"""Edges of the alert flow: settled alerts, unknown senders, the duty line, dead numbers."""

from datetime import timedelta

from sqlalchemy import select, update

from hotline.extensions import get_settings
from hotline.models import Incident, Notification, Role, utcnow
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.services.incidents import open_incident
from hotline.services.responses import record_response
from tests.factories import call_sid, make_group, message_sid, signed_post


def _households(group):
    return [m for m in group.members if m.role == Role.HOUSEHOLD]


def _open(app, session, group, caller):
    opened = open_incident(session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid())
    session.commit()
    return opened.incident


def test_household_alerted_earlier_can_still_text_for_help(app, session):
    group = make_group(session)
    first, second = _households(group)[:2]
    earlier = _open(app, session, group, first)
    settings = get_settings(app)
    record_response(
        session,
        settings,
        earlier,
        phone=group.members[0].phone,
        channel="sms",
        answer="accept",
        source_sid=message_sid(),
    )
    past = utcnow() - timedelta(minutes=30)
    session.execute(update(Incident).where(Incident.id == earlier.id).values(opened_at=past, acknowledged_at=past))
    session.commit()

    handled = handle_inbound_sms(
        session, settings, message_sid=message_sid(), from_phone=second.phone, body="救命 有人闯进来"
    )
    session.commit()
    assert handled.handled_as == "incident"
    assert handled.incident.caller_phone == second.phone and handled.incident.source == "sms"


def test_free_text_during_an_open_alert_gets_help_not_a_new_incident(app, session):
    group = make_group(session)
    first, second = _households(group)[:2]
    _open(app, session, group, first)
    handled = handle_inbound_sms(
        session, get_settings(app), message_sid=message_sid(), from_phone=second.phone, body="什么情况"
    )
    session.commit()
    assert handled.handled_as == "help"


def test_unregistered_text_is_recorded_and_forwarded_to_the_duty_line(app, session):
    make_group(session)
    handled = handle_inbound_sms(
        session, get_settings(app), message_sid=message_sid(), from_phone="+8613700000001", body="我在路边，车坏了"
    )
    session.commit()
    assert handled.handled_as == "unregistered"
    assert handled.incident.unregistered
    forwarded = session.get(Notification, handled.sms_ids[0])
    assert forwarded.phone == "+861088880000"
    assert "+8613700000001" in forwarded.body and "车坏了" in forwarded.body


def test_duty_line_talking_to_the_caller_stops_escalation(app, client, session):
    group = make_group(session)
    incident = _open(app, session, group, _households(group)[0])
    response = signed_post(
        client,
        f"/twilio/voice/dial-result?incident={incident.id}&stage=2",
        {"CallSid": incident.call_sid, "DialCallStatus": "completed"},
    )
    assert response.status_code == 200
    session.expire_all()
    incident = session.get(Incident, incident.id)
    assert incident.status == "acknowledged"
    assert [e.kind for e in incident.events][-2:] == ["caller_connected", "acknowledged"]


def test_on_the_way_notice_skips_numbers_that_cannot_receive(app, session):
    group = make_group(session)
    caller, dead, responder = _households(group)[:3]
    incident = _open(app, session, group, caller)
    session.execute(
        update(Notification)
        .where(Notification.incident_id == incident.id, Notification.phone == dead.phone, Notification.channel == "sms")
        .values(status="failed", error_code=21211, failure_reason="invalid_number")
    )
    session.commit()
    recorded = record_response(
        session,
        get_settings(app),
        incident,
        phone=responder.phone,
        channel="sms",
        answer="accept",
        source_sid=message_sid(),
    )
    session.commit()
    notified = set(session.scalars(select(Notification.phone).where(Notification.id.in_(recorded.sms_ids))))
    assert dead.phone not in notified
    assert caller.phone in notified and responder.phone not in notified
