"""Inbound SMS: replies, opt-outs and silent calls for help.

Each behaviour is checked through the signed ``/twilio/sms`` webhook and, where
the webhook adds nothing but transport, directly through ``handle_inbound_sms``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select

from config.settings import load_settings
from config.templates import render
from hotline.app import create_app
from hotline.extensions import get_settings
from hotline.models import (
    BroadcastOptOut,
    InboundMessage,
    Incident,
    Member,
    Notification,
    Response,
    Role,
    TimelineEvent,
    utcnow,
)
from hotline.services.delivery import mark_opted_out
from hotline.services.inbound_sms import handle_inbound_sms
from hotline.services.incidents import open_incident
from tests.factories import call_sid, make_group, message_sid, signed_post

HOTLINE = "+8657188880000"


def _households(group) -> list[Member]:
    return [m for m in group.members if m.role == Role.HOUSEHOLD]


def _member(group, role: Role) -> Member:
    return next(m for m in group.members if m.role == role)


def _fresh(session) -> None:
    """End the test session's transaction so it sees what the app committed."""
    session.commit()
    session.expire_all()


def _call_in(client, session, caller: Member) -> Incident:
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": HOTLINE})
    assert response.status_code == 200
    _fresh(session)
    return session.scalar(select(Incident).where(Incident.caller_phone == caller.phone))


def _text(client, phone: str, body: str, sid: str | None = None):
    response = signed_post(
        client, "/twilio/sms", {"MessageSid": sid or message_sid(), "From": phone, "To": HOTLINE, "Body": body}
    )
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/xml"
    assert ET.fromstring(response.data).tag == "Response"
    return response


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _kinds(session, incident_id: int) -> list[str]:
    return list(
        session.scalars(
            select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident_id).order_by(TimelineEvent.id)
        )
    )


def _queued(redis_conn) -> set[str]:
    return set(Queue("alerts", connection=redis_conn).job_ids)


def _notices(session, incident_id: int) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.incident_id == incident_id, Notification.purpose == "ack_notice")
            .order_by(Notification.id)
        )
    )


def _details_jobs(session, incident_id: int) -> set[str]:
    """The send jobs of the texts giving responders the caller's number and address."""
    return {
        f"sms-{n.id}"
        for n in session.scalars(
            select(Notification).where(
                Notification.incident_id == incident_id, Notification.purpose == "accepted_details"
            )
        )
    }


# --- through the webhook ---------------------------------------------------------------------


def test_reply_1_acknowledges_and_tells_everyone_else(client, session, redis_conn):
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _call_in(client, session, caller)
    before = _queued(redis_conn)
    sid = message_sid()

    _text(client, responder.phone, "1", sid)
    _fresh(session)

    incident = session.get(Incident, incident.id)
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by_id == responder.id
    assert incident.acknowledged_at is not None
    response = session.scalar(select(Response))
    assert (response.member_id, response.channel, response.answer, response.source_sid) == (
        responder.id,
        "sms",
        "accept",
        sid,
    )
    assert response.responder_name == responder.name
    inbound = session.scalar(select(InboundMessage))
    assert (inbound.handled_as, inbound.incident_id, inbound.body) == ("reply", incident.id, "1")

    notices = _notices(session, incident.id)
    everyone_but_responder = {m.phone for m in group.members} - {responder.phone}
    assert {n.phone for n in notices} == everyone_but_responder
    assert len(notices) == len(everyone_but_responder)
    assert caller.phone in {n.phone for n in notices}
    for notice in notices:
        assert notice.channel == "sms" and notice.status == "pending"
        assert responder.name in notice.body and caller.name in notice.body and "正在赶往" in notice.body
    # Besides the notices, the responder is texted the caller's number and address.
    assert _queued(redis_conn) - before == {f"sms-{n.id}" for n in notices} | _details_jobs(session, incident.id)
    kinds = _kinds(session, incident.id)
    assert kinds.count("sms_reply") == 1 and kinds.count("acknowledged") == 1
    assert kinds.index("sms_reply") < kinds.index("acknowledged")


def test_second_acceptance_is_logged_but_does_not_reacknowledge(client, session, redis_conn):
    group = make_group(session)
    caller, first, second = _households(group)[:3]
    incident = _call_in(client, session, caller)
    _text(client, first.phone, "1")
    _fresh(session)
    notices_after_first = len(_notices(session, incident.id))
    acknowledged_at = session.get(Incident, incident.id).acknowledged_at
    before = _queued(redis_conn)

    _text(client, second.phone, "收到")
    _fresh(session)

    incident = session.get(Incident, incident.id)
    assert incident.acknowledged_by_id == first.id
    assert incident.acknowledged_at == acknowledged_at
    responses = session.scalars(select(Response).order_by(Response.id)).all()
    assert [(r.member_id, r.answer) for r in responses] == [(first.id, "accept"), (second.id, "accept")]
    assert len(_notices(session, incident.id)) == notices_after_first
    assert _kinds(session, incident.id).count("acknowledged") == 1
    assert _queued(redis_conn) == before


def test_reply_2_is_a_decline_and_acknowledges_nothing(client, session, redis_conn):
    group = make_group(session)
    caller, decliner = _households(group)[:2]
    incident = _call_in(client, session, caller)
    before = _queued(redis_conn)

    _text(client, decliner.phone, "２")
    _fresh(session)

    incident = session.get(Incident, incident.id)
    assert incident.status == "open" and incident.acknowledged_by_id is None
    response = session.scalar(select(Response))
    assert (response.member_id, response.answer, response.channel) == (decliner.id, "decline", "sms")
    assert _notices(session, incident.id) == []
    assert "acknowledged" not in _kinds(session, incident.id)
    assert _queued(redis_conn) == before


def test_unrecognised_reply_gets_help_text(client, session, redis_conn):
    group = make_group(session)
    caller, confused = _households(group)[:2]
    incident = _call_in(client, session, caller)
    before = _queued(redis_conn)
    sid = message_sid()

    _text(client, confused.phone, "怎么回复？", sid)
    _fresh(session)

    helps = session.scalars(select(Notification).where(Notification.purpose == "help")).all()
    assert len(helps) == 1
    help_sms = helps[0]
    assert (help_sms.phone, help_sms.member_id, help_sms.channel) == (confused.phone, confused.id, "sms")
    assert help_sms.recipient_name == confused.name
    assert help_sms.body == render("zh", "sms_help")
    assert help_sms.incident_id == incident.id
    assert _queued(redis_conn) - before == {f"sms-{help_sms.id}"}
    assert _count(session, Response) == 0
    assert session.get(Incident, incident.id).status == "open"
    assert session.scalar(select(InboundMessage.handled_as)) == "help"
    assert "sms_unrecognised" in _kinds(session, incident.id)


def test_sms_from_a_household_opens_an_incident_with_rest_calls(client, session, redis_conn):
    group = make_group(session)
    caller = _households(group)[0]
    sid = message_sid()

    _text(client, caller.phone, "家里进贼了，快来", sid)
    _fresh(session)

    incident = session.scalar(select(Incident))
    assert (incident.source, incident.message_sid, incident.call_sid) == ("sms", sid, None)
    assert incident.caller_member_id == caller.id and incident.group_id == group.id
    assert not incident.unregistered
    calls = session.scalars(select(Notification).where(Notification.channel == "call")).all()
    others = {m.phone for m in group.members} - {caller.phone}
    assert {c.phone for c in calls} == others and len(calls) == len(others)
    assert not any(c.via_dial for c in calls)
    sms = session.scalars(select(Notification).where(Notification.channel == "sms")).all()
    assert {n.phone for n in sms if n.purpose == "alert"} == others
    assert [n.phone for n in sms if n.purpose == "confirmation"] == [caller.phone]
    queue = Queue("alerts", connection=redis_conn)
    assert set(queue.job_ids) == {f"call-{c.id}" for c in calls} | {f"sms-{n.id}" for n in sms}
    # The first escalation check, and the first round of calling again whoever has not answered.
    assert sorted(queue.scheduled_job_registry.get_job_ids()) == [
        f"escalation-{incident.id}-1",
        f"recall-{incident.id}-1",
    ]
    assert _kinds(session, incident.id) == ["sms_received", "fan_out", "caller_sms"]
    assert session.scalar(select(InboundMessage.handled_as)) == "incident"


def test_sms_incident_escalation_uses_the_station_delay(client, session, redis_conn):
    group = make_group(session, delays="45,90")
    caller = _households(group)[0]
    _text(client, caller.phone, "救命")
    queue = Queue("alerts", connection=redis_conn)
    registry = queue.scheduled_job_registry
    _fresh(session)
    incident = session.scalar(select(Incident))
    job_id = f"escalation-{incident.id}-1"
    assert job_id in registry.get_job_ids()
    due = registry.get_scheduled_time(job_id)
    assert abs((due - incident.opened_at).total_seconds() - 45) < 5


def test_same_message_sid_twice_is_handled_once(client, session, redis_conn):
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _call_in(client, session, caller)
    sid = message_sid()
    _text(client, responder.phone, "1", sid)
    _fresh(session)
    notifications = _count(session, Notification)
    queued = _queued(redis_conn)

    _text(client, responder.phone, "1", sid)
    _fresh(session)

    assert _count(session, Response) == 1
    assert _count(session, InboundMessage) == 1
    assert _count(session, Notification) == notifications
    assert _kinds(session, incident.id).count("sms_reply") == 1
    assert _queued(redis_conn) == queued


def test_incident_sms_retried_by_twilio_opens_one_incident(client, session, redis_conn):
    group = make_group(session)
    caller = _households(group)[0]
    sid = message_sid()
    _text(client, caller.phone, "救命", sid)
    _fresh(session)
    notifications = _count(session, Notification)
    _text(client, caller.phone, "救命", sid)
    _fresh(session)
    assert _count(session, Incident) == 1
    assert _count(session, Notification) == notifications


def test_stop_stop_start_sets_opted_out_idempotently(client, session, redis_conn):
    group = make_group(session)
    officer = _member(group, Role.OFFICER)
    # The same officer serves a second group: the opt-out belongs to the number, not one membership.
    other = make_group(session, village_name="西村", prefix="+86139002")
    session.add(Member(group_id=other.id, name=officer.name, phone=officer.phone, role=Role.OFFICER))
    session.commit()

    def flags() -> list[bool]:
        # STOP opts the number out of broadcasts, for every membership at once; never out of alerts.
        _fresh(session)
        stopped = session.scalar(select(BroadcastOptOut.id).where(BroadcastOptOut.phone == officer.phone))
        memberships = session.scalars(select(Member.opted_out).where(Member.phone == officer.phone)).all()
        return [stopped is not None] * len(memberships)

    _text(client, officer.phone, "STOP")
    assert flags() == [True, True]
    _text(client, officer.phone, "退订")
    assert flags() == [True, True]
    _text(client, officer.phone, "START")
    assert flags() == [False, False]
    handled = list(session.scalars(select(InboundMessage.handled_as).order_by(InboundMessage.id)))
    assert handled == ["opt_out", "opt_out", "opt_in"]
    # Nobody else's flag moved.
    assert _count(session, Member, Member.opted_out.is_(True)) == 0


def test_opted_out_member_gets_no_alert_sms_but_is_still_rung(client, session, redis_conn):
    group = make_group(session)
    caller, quiet = _households(group)[:2]
    # The carrier refused a text to this number as opted out (21610); a STOP keyword alone stops only broadcasts.
    mark_opted_out(session, quiet.phone, True)
    session.commit()
    incident = _call_in(client, session, caller)
    mine = session.scalars(select(Notification).where(Notification.phone == quiet.phone)).all()
    assert [(n.channel, n.purpose) for n in mine] == [("call", "alert")]
    assert incident is not None


def test_reply_from_unknown_number_is_ignored(client, session, redis_conn):
    group = make_group(session)
    caller = _households(group)[0]
    incident = _call_in(client, session, caller)
    notifications = _count(session, Notification)
    queued = _queued(redis_conn)

    _text(client, "+8613999999999", "1")
    _fresh(session)

    assert _count(session, Response) == 0
    assert session.get(Incident, incident.id).status == "open"
    assert _count(session, Notification) == notifications
    assert _count(session, Incident) == 1
    assert _queued(redis_conn) == queued
    inbound = session.scalar(select(InboundMessage))
    assert (inbound.handled_as, inbound.incident_id) == ("ignored", None)


def test_no_ack_notices_when_notify_on_ack_is_off(environ, session, redis_conn, app):
    environ["HOTLINE_NOTIFY_ON_ACK"] = "0"
    quiet = create_app(environ)
    assert get_settings(quiet).notify_on_ack is False
    client = quiet.test_client()
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _call_in(client, session, caller)
    queued = _queued(redis_conn)

    _text(client, responder.phone, "1")
    _fresh(session)

    assert session.get(Incident, incident.id).status == "acknowledged"
    assert _notices(session, incident.id) == []
    # Only the responder's own text with the caller's number and address.
    assert _queued(redis_conn) - queued == _details_jobs(session, incident.id)


# --- directly through the service -------------------------------------------------------------


@pytest.fixture
def settings(app):
    return get_settings(app)


def _open(session, settings, caller: Member, **kwargs) -> Incident:
    opened = open_incident(session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid(), **kwargs)
    session.commit()
    return opened.incident


def test_service_reply_acknowledges_and_returns_notices(session, settings):
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _open(session, settings, caller)

    handled = handle_inbound_sms(
        session, settings, message_sid=message_sid(), from_phone=responder.phone, body="马上到"
    )
    session.commit()

    assert handled.handled_as == "reply" and handled.incident.id == incident.id
    assert handled.call_ids == [] and handled.opened is None
    notices = _notices(session, incident.id)
    assert sorted(handled.sms_ids) == [n.id for n in notices]
    assert responder.phone not in {n.phone for n in notices}
    assert caller.phone in {n.phone for n in notices}
    session.refresh(incident)
    assert incident.status == "acknowledged" and incident.acknowledged_by_id == responder.id


def test_service_escalation_recipient_can_reply(session, settings):
    from hotline.services.escalation import escalate

    group = make_group(session)
    caller = _households(group)[0]
    officer = _member(group, Role.OFFICER)
    opened_at = utcnow() - timedelta(minutes=5)
    incident = _open(session, settings, caller, now=opened_at)
    assert escalate(session, settings, incident, 1).fired
    session.commit()

    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=officer.phone, body="1")
    session.commit()
    assert handled.handled_as == "reply"
    session.refresh(incident)
    assert incident.acknowledged_by_id == officer.id


def test_service_decline_help_unknown_and_duplicate(session, settings):
    group = make_group(session)
    caller, decliner, confused = _households(group)[:3]
    incident = _open(session, settings, caller)

    sid = message_sid()
    declined = handle_inbound_sms(session, settings, message_sid=sid, from_phone=decliner.phone, body="2")
    assert (declined.handled_as, declined.sms_ids) == ("reply", [])
    again = handle_inbound_sms(session, settings, message_sid=sid, from_phone=decliner.phone, body="2")
    assert again.handled_as == "duplicate" and again.incident is None

    confused_result = handle_inbound_sms(
        session, settings, message_sid=message_sid(), from_phone=confused.phone, body="？？"
    )
    assert confused_result.handled_as == "help"
    [help_id] = confused_result.sms_ids
    assert session.get(Notification, help_id).phone == confused.phone

    unknown = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone="+8613999999999", body="1")
    assert (unknown.handled_as, unknown.incident, unknown.sms_ids) == ("ignored", None, [])
    session.commit()

    session.refresh(incident)
    assert incident.status == "open"
    assert [(r.member_id, r.answer) for r in session.scalars(select(Response))] == [(decliner.id, "decline")]
    assert _count(session, InboundMessage) == 3


def test_service_household_sms_opens_incident(session, settings):
    group = make_group(session)
    caller = _households(group)[0]
    sid = message_sid()

    handled = handle_inbound_sms(session, settings, message_sid=sid, from_phone=caller.phone, body="有人闯进来了")
    session.commit()

    assert handled.handled_as == "incident" and handled.opened.created
    incident = handled.incident
    assert (incident.source, incident.message_sid) == ("sms", sid)
    calls = session.scalars(
        select(Notification).where(Notification.incident_id == incident.id, Notification.channel == "call")
    ).all()
    assert sorted(handled.call_ids) == sorted(c.id for c in calls)
    assert len(calls) == len(group.members) - 1 and not any(c.via_dial for c in calls)
    sms = session.scalars(
        select(Notification.id).where(Notification.incident_id == incident.id, Notification.channel == "sms")
    ).all()
    assert sorted(handled.sms_ids) == sorted(sms)


def test_service_caller_texting_again_updates_own_incident(session, settings):
    group = make_group(session)
    caller = _households(group)[0]
    first = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=caller.phone, body="救命")
    session.commit()
    second = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=caller.phone, body="在后院")
    session.commit()
    assert second.handled_as == "caller_update" and second.incident.id == first.incident.id
    assert second.sms_ids == [] and second.call_ids == []
    assert _count(session, Incident) == 1


@pytest.mark.parametrize("body", ["救命，我家着火了", "有贼在我家", "快报警 我被打了", "SOS", "家里進賊了"])
def test_service_member_of_a_neighbours_open_alert_calling_for_help_opens_their_own_incident(session, settings, body):
    group = make_group(session)
    neighbour, household = _households(group)[:2]
    neighbours = _open(session, settings, neighbour)
    sid = message_sid()

    handled = handle_inbound_sms(session, settings, message_sid=sid, from_phone=household.phone, body=body)
    session.commit()

    assert handled.handled_as == "incident" and handled.opened.created
    own = handled.incident
    assert (own.caller_phone, own.caller_member_id, own.source, own.message_sid) == (
        household.phone,
        household.id,
        "sms",
        sid,
    )
    assert own.id != neighbours.id
    calls = session.scalars(
        select(Notification).where(Notification.incident_id == own.id, Notification.channel == "call")
    ).all()
    assert sorted(handled.call_ids) == sorted(c.id for c in calls)
    assert neighbour.phone in {c.phone for c in calls} and household.phone not in {c.phone for c in calls}
    assert "caller_sms" in _kinds(session, own.id)
    # Nothing of it lands on the neighbour's alert: no answer, no help text, no unrecognised reply.
    session.refresh(neighbours)
    assert neighbours.status == "open"
    assert _count(session, Response) == 0
    assert _count(session, Notification, Notification.purpose == "help") == 0
    assert "sms_unrecognised" not in _kinds(session, neighbours.id)


@pytest.mark.parametrize("body", ["已报警", "我报警了", "贼跑了", "火灭了吗", "他家进贼了？", "你过来", "快来人"])
def test_service_member_talking_about_the_neighbours_alert_gets_the_help_text(session, settings, body):
    group = make_group(session)
    neighbour, household = _households(group)[:2]
    neighbours = _open(session, settings, neighbour)

    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=household.phone, body=body)
    session.commit()

    assert handled.handled_as == "help" and handled.incident.id == neighbours.id
    assert _count(session, Incident) == 1


def test_service_caller_of_an_open_incident_calling_for_help_again_updates_it(session, settings):
    # The caller's own alert is open, and a neighbour's newer one is waiting for the caller's answer.
    group = make_group(session)
    caller, neighbour = _households(group)[:2]
    own = _open(session, settings, caller, now=utcnow() - timedelta(minutes=5))
    _open(session, settings, neighbour)

    handled = handle_inbound_sms(
        session, settings, message_sid=message_sid(), from_phone=caller.phone, body="救命，我家着火了"
    )
    session.commit()

    assert handled.handled_as == "caller_update" and handled.incident.id == own.id
    assert handled.call_ids == [] and handled.sms_ids == []
    assert _count(session, Incident) == 2


def test_service_caller_alerted_by_their_own_incident_keeps_the_help_text(session, settings):
    from hotline.models import Channel, Purpose
    from hotline.services.outbox import add_notification

    group = make_group(session)
    caller = _households(group)[0]
    incident = _open(session, settings, caller)
    # Only a directory edit can put a caller among their own alert's recipients.
    add_notification(session, incident, phone=caller.phone, channel=Channel.CALL, purpose=Purpose.ALERT, key="self")
    session.commit()

    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=caller.phone, body="救命")
    session.commit()

    assert handled.handled_as == "help" and handled.incident.id == incident.id
    assert _count(session, Incident) == 1


def test_service_reply_after_the_window_or_to_closed_incident_is_not_a_response(session, settings):
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _open(session, settings, caller, now=utcnow() - timedelta(hours=13))
    late = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=responder.phone, body="1")
    assert late.handled_as == "ignored"

    recent = _open(session, settings, _households(group)[2])
    recent.status = "closed"
    session.commit()
    closed = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=responder.phone, body="1")
    assert closed.handled_as == "ignored"
    session.commit()
    assert _count(session, Response) == 0
    assert incident.status == "open"


def test_service_reply_goes_to_newest_incident_that_alerted_the_member(session, settings):
    group = make_group(session)
    first_caller, second_caller, responder = _households(group)[:3]
    older = _open(session, settings, first_caller, now=utcnow() - timedelta(minutes=30))
    newer = _open(session, settings, second_caller)
    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=responder.phone, body="1")
    session.commit()
    assert handled.incident.id == newer.id
    session.refresh(older)
    session.refresh(newer)
    assert (older.status, newer.status) == ("open", "acknowledged")


def test_service_no_notices_when_notify_on_ack_is_off(session, environ, app):
    settings = load_settings(dict(environ, HOTLINE_NOTIFY_ON_ACK="0"))
    group = make_group(session)
    caller, responder = _households(group)[:2]
    incident = _open(session, settings, caller)
    handled = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=responder.phone, body="1")
    session.commit()
    assert handled.handled_as == "reply" and handled.sms_ids == []
    session.refresh(incident)
    assert incident.status == "acknowledged"
    assert _notices(session, incident.id) == []


def test_service_opted_out_members_get_no_ack_notice(session, settings):
    group = make_group(session)
    caller, responder, quiet = _households(group)[:3]
    incident = _open(session, settings, caller)
    mark_opted_out(session, quiet.phone, True)  # as the carrier's refusal (21610) marks it
    session.commit()
    handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=responder.phone, body="1")
    session.commit()
    phones = {n.phone for n in _notices(session, incident.id)}
    assert quiet.phone not in phones
    assert phones == {m.phone for m in group.members} - {responder.phone, quiet.phone}


def test_service_two_acceptances_at_once_acknowledge_once(session, settings, app):
    from hotline.extensions import db
    from hotline.services.responses import record_response

    group = make_group(session)
    caller, first, second = _households(group)[:3]
    incident = _open(session, settings, caller)
    with db.state(app).sessionmaker() as other:
        stale = other.get(Incident, incident.id)
        won = record_response(
            session, settings, incident, phone=first.phone, channel="sms", answer="accept", source_sid=message_sid()
        )
        session.commit()
        # The other request read the incident while it was still open.
        lost = record_response(
            other, settings, stale, phone=second.phone, channel="call", answer="accept", source_sid=call_sid()
        )
        other.commit()
    assert won.acknowledged and won.sms_ids
    assert lost.response is not None and not lost.acknowledged and lost.sms_ids == []
    session.refresh(incident)
    assert incident.acknowledged_by_id == first.id
    assert _count(session, Response) == 2
    assert len(_notices(session, incident.id)) == len(won.sms_ids)
