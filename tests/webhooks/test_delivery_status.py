"""Carrier status callbacks: a notification's status moves forward, never back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hotline.models import Incident, Member, Notification, Role, TimelineEvent
from hotline.services.delivery import record_status, status_rank
from tests.factories import call_sid, make_group, message_sid, signed_post

HOTLINE = "+8657188880000"


def _fresh(session) -> None:
    session.commit()
    session.expire_all()


def _households(group) -> list[Member]:
    return [m for m in group.members if m.role == Role.HOUSEHOLD]


@pytest.fixture
def incident(client, session, redis_conn) -> Incident:
    """An incident opened by a call in a simultaneous-ring group: SMS alerts plus ``<Dial>`` legs."""
    group = make_group(session)
    caller = _households(group)[0]
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": HOTLINE})
    assert response.status_code == 200
    _fresh(session)
    return session.scalar(select(Incident))


def _alert(session, incident: Incident, channel: str, phone: str | None = None) -> Notification:
    query = select(Notification).where(
        Notification.incident_id == incident.id, Notification.channel == channel, Notification.purpose == "alert"
    )
    if phone:
        query = query.where(Notification.phone == phone)
    return session.scalars(query.order_by(Notification.id)).first()


def _submitted_sms(session, incident: Incident, phone: str | None = None) -> tuple[Notification, str]:
    """An alert SMS as a worker leaves it: handed to the carrier, status queued."""
    notification = _alert(session, incident, "sms", phone)
    sid = message_sid()
    notification.provider_sid = sid
    notification.status = "queued"
    session.commit()
    return notification, sid


def _sms_status(client, notification_id: int, sid: str, status: str, **extra: str):
    params = {"MessageSid": sid, "MessageStatus": status, "SmsStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
    response = signed_post(client, f"/twilio/sms-status?n={notification_id}", params)
    assert response.status_code == 204, response.data
    return response


def _call_status(client, notification_id: int, sid: str, status: str, **extra: str):
    response = signed_post(
        client, f"/twilio/call-status?n={notification_id}", {"CallSid": sid, "CallStatus": status, **extra}
    )
    assert response.status_code == 204, response.data
    return response


def _events(session, notification_id: int) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent).where(TimelineEvent.notification_id == notification_id).order_by(TimelineEvent.id)
        )
    )


def test_sms_moves_forward_with_timeline_events(client, session, incident):
    notification, sid = _submitted_sms(session, incident)

    _sms_status(client, notification.id, sid, "sent")
    _fresh(session)
    row = session.get(Notification, notification.id)
    assert row.status == "sent" and row.status_at is not None
    first_at = row.status_at

    _sms_status(client, notification.id, sid, "delivered")
    _fresh(session)
    row = session.get(Notification, notification.id)
    assert row.status == "delivered" and row.status_at >= first_at
    events = _events(session, notification.id)
    assert [e.kind for e in events] == ["sms_sent", "sms_delivered"]
    event = events[-1]
    assert event.incident_id == incident.id and event.member_id == notification.member_id
    assert event.detail["phone"] == notification.phone
    assert event.detail["purpose"] == "alert"
    assert event.detail["name"] == notification.recipient_name


def test_duplicate_and_out_of_order_callbacks_change_nothing(client, session, incident):
    notification, sid = _submitted_sms(session, incident)
    _sms_status(client, notification.id, sid, "delivered")
    _fresh(session)
    status_at = session.get(Notification, notification.id).status_at

    _sms_status(client, notification.id, sid, "delivered")
    _sms_status(client, notification.id, sid, "sent")
    _sms_status(client, notification.id, sid, "sending")
    _sms_status(client, notification.id, sid, "undelivered", ErrorCode="30003")
    _fresh(session)

    row = session.get(Notification, notification.id)
    assert (row.status, row.status_at, row.error_code) == ("delivered", status_at, None)
    assert [e.kind for e in _events(session, notification.id)] == ["sms_delivered"]


def test_unknown_status_is_ignored(client, session, incident):
    notification, sid = _submitted_sms(session, incident)
    _sms_status(client, notification.id, sid, "exploded")
    _call = _alert(session, incident, "call")
    _call_status(client, _call.id, call_sid(), "teleported")
    _fresh(session)
    assert session.get(Notification, notification.id).status == "queued"
    call_row = session.get(Notification, _call.id)
    assert (call_row.status, call_row.provider_sid) == ("pending", None)
    assert _events(session, notification.id) == [] and _events(session, _call.id) == []


def test_failure_21610_marks_the_member_opted_out(client, session, incident):
    target = _households(incident.group)[1]
    notification, sid = _submitted_sms(session, incident, target.phone)

    _sms_status(client, notification.id, sid, "failed", ErrorCode="21610")
    _fresh(session)

    row = session.get(Notification, notification.id)
    assert (row.status, row.error_code) == ("failed", 21610)
    assert session.get(Member, target.id).opted_out is True
    assert session.scalar(select(func.count()).select_from(Member).where(Member.opted_out.is_(True))) == 1
    [event] = _events(session, notification.id)
    assert event.kind == "sms_failed" and event.detail["error_code"] == 21610


def test_other_delivery_failures_keep_the_member_subscribed(client, session, incident):
    target = _households(incident.group)[1]
    notification, sid = _submitted_sms(session, incident, target.phone)
    _sms_status(client, notification.id, sid, "undelivered", ErrorCode="30003")
    _fresh(session)
    row = session.get(Notification, notification.id)
    assert (row.status, row.error_code) == ("undelivered", 30003)
    assert session.get(Member, target.id).opted_out is False


def test_callback_before_the_worker_recorded_the_sid(client, session, incident):
    # The carrier can call back before the job has written its response down.
    notification = _alert(session, incident, "sms")
    notification.status = "claimed"
    session.commit()
    sid = message_sid()
    _sms_status(client, notification.id, sid, "sent")
    _fresh(session)
    row = session.get(Notification, notification.id)
    assert (row.status, row.provider_sid) == ("sent", sid)


def test_sms_status_only_in_the_legacy_field(client, session, incident):
    notification, sid = _submitted_sms(session, incident)
    response = signed_post(client, f"/twilio/sms-status?n={notification.id}", {"MessageSid": sid, "SmsStatus": "sent"})
    assert response.status_code == 204
    _fresh(session)
    assert session.get(Notification, notification.id).status == "sent"


def test_dial_leg_takes_its_sid_from_the_first_callback(client, session, incident):
    leg = _alert(session, incident, "call")
    assert leg.via_dial and leg.provider_sid is None and leg.status == "pending"
    sid = call_sid()

    for status in ("initiated", "ringing", "in-progress", "completed"):
        _call_status(client, leg.id, sid, status)
    _fresh(session)

    row = session.get(Notification, leg.id)
    assert (row.provider_sid, row.status) == (sid, "completed")
    assert [e.kind for e in _events(session, leg.id)] == [
        "call_initiated",
        "call_ringing",
        "call_in_progress",
        "call_completed",
    ]


def test_a_second_sid_for_the_same_leg_is_refused(client, session, incident):
    leg = _alert(session, incident, "call")
    sid = call_sid()
    _call_status(client, leg.id, sid, "ringing")
    _call_status(client, leg.id, call_sid(), "completed")
    _fresh(session)
    row = session.get(Notification, leg.id)
    assert (row.provider_sid, row.status) == (sid, "ringing")


def test_call_callbacks_late_and_twice(client, session, incident):
    leg = _alert(session, incident, "call")
    sid = call_sid()
    _call_status(client, leg.id, sid, "no-answer")
    _call_status(client, leg.id, sid, "ringing")
    _call_status(client, leg.id, sid, "no-answer")
    _call_status(client, leg.id, sid, "completed")
    _fresh(session)
    assert session.get(Notification, leg.id).status == "no-answer"
    assert [e.kind for e in _events(session, leg.id)] == ["call_no_answer"]


def test_sid_identifies_the_notification_even_with_a_wrong_n(client, session, incident):
    first, first_sid = _submitted_sms(session, incident)
    other = session.scalars(
        select(Notification).where(Notification.channel == "sms", Notification.id != first.id).order_by(Notification.id)
    ).first()
    _sms_status(client, other.id, first_sid, "delivered")
    _fresh(session)
    assert session.get(Notification, first.id).status == "delivered"
    assert session.get(Notification, other.id).status == "pending"


def test_unknown_notification_is_ignored(client, session, incident):
    _sms_status(client, 999999, message_sid(), "delivered")
    _call_status(client, 999999, call_sid(), "completed")
    _fresh(session)
    assert session.scalar(select(func.count()).select_from(Notification).where(Notification.status != "pending")) == 0


def test_unsigned_or_malformed_callbacks_are_refused(client, session, incident):
    notification, sid = _submitted_sms(session, incident)
    unsigned = client.post(
        f"/twilio/sms-status?n={notification.id}", data={"MessageSid": sid, "MessageStatus": "delivered"}
    )
    assert unsigned.status_code == 403
    no_n = signed_post(client, "/twilio/sms-status", {"MessageSid": sid, "MessageStatus": "delivered"})
    assert no_n.status_code == 400
    bad_sid = signed_post(
        client, f"/twilio/sms-status?n={notification.id}", {"MessageSid": "XX1", "MessageStatus": "delivered"}
    )
    assert bad_sid.status_code == 400
    _fresh(session)
    assert session.get(Notification, notification.id).status == "queued"


@pytest.mark.parametrize(
    ("channel", "current", "new", "expected"),
    [
        ("sms", "pending", "queued", True),
        ("sms", "claimed", "sent", True),
        ("sms", "queued", "sent", True),
        ("sms", "sent", "delivered", True),
        ("sms", "delivered", "read", True),
        ("sms", "delivered", "sent", False),
        ("sms", "delivered", "delivered", False),
        ("sms", "delivered", "failed", False),
        ("sms", "sent", "bogus", False),
        ("call", "pending", "initiated", True),
        ("call", "ringing", "in-progress", True),
        ("call", "in-progress", "completed", True),
        ("call", "completed", "ringing", False),
        ("call", "busy", "no-answer", False),
        ("call", "queued", "ringing", True),
    ],
)
def test_record_status_only_ever_moves_a_stored_status_forward(session, incident, channel, current, new, expected):
    # record_status decides in its UPDATE's WHERE clause, against the row as
    # stored, so that is what is set up and read back here.
    notification = _alert(session, incident, channel)
    notification.status = current
    session.commit()

    changed = record_status(session, notification, status=new)
    session.commit()
    _fresh(session)

    assert changed is expected
    assert session.get(Notification, notification.id).status == (new if expected else current)
    kinds = [e.kind for e in _events(session, notification.id)]
    assert kinds == ([f"{channel}_{new}".replace("-", "_")] if expected else [])


def test_a_report_read_before_a_newer_one_was_stored_does_not_undo_it(session, incident):
    # Two callbacks racing: this session loaded the row while it said
    # "queued", and another has since stored "delivered".
    notification, _sid = _submitted_sms(session, incident)
    assert notification.status == "queued"
    with Session(session.get_bind()) as other:
        other.execute(update(Notification).where(Notification.id == notification.id).values(status="delivered"))
        other.commit()

    assert record_status(session, notification, status="sent") is False
    session.commit()
    _fresh(session)

    assert session.get(Notification, notification.id).status == "delivered"
    assert _events(session, notification.id) == []


def test_status_rank_is_per_channel():
    assert status_rank("sms", "delivered") is not None
    assert status_rank("call", "delivered") is None
    assert status_rank("call", "in-progress") > status_rank("call", "ringing")
