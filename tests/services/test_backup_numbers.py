"""Backup numbers: a member's second number is rung or texted once when their own cannot be reached."""

from __future__ import annotations

import time

import pytest
from rq import Queue
from sqlalchemy import select

from hotline.extensions import get_settings, use_carrier
from hotline.models import (
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    Member,
    Notification,
    Purpose,
    Response,
    Role,
    TimelineEvent,
    utcnow,
)
from hotline.services.backup import add_backup, backup_key, needs_backup
from hotline.services.incidents import open_incident
from hotline.services.outbox import send_job_id
from tests.factories import call_sid, make_group, message_sid, signed_post
from tests.support.stack import rows, running_stack
from tests.workers.test_jobs import FakeCarrier, refusal
from workers import runtime
from workers.jobs import place_call, send_sms

HOTLINE = "+8657188880000"
OWN = "+8613800100001"
BACKUP = "+8613900199999"


# --- the decision ----------------------------------------------------------------------------


def _member(**fields) -> Member:
    values = {"id": 7, "name": "王五", "phone": OWN, "backup_phone": BACKUP, "role": Role.HOUSEHOLD,
              "active": True, "opted_out": False}
    values.update(fields)
    return Member(**values)


def _failed(channel: Channel = Channel.SMS, status: str = "undelivered", **fields) -> Notification:
    values = {"id": 11, "member_id": 7, "phone": OWN, "channel": channel, "purpose": Purpose.ALERT,
              "status": status, "failure_reason": "unreachable"}
    values.update(fields)
    notification = Notification(**values)
    notification.incident = Incident(id=3, status=IncidentStatus.OPEN)
    return notification


@pytest.mark.parametrize(
    ("channel", "status", "reason"),
    [
        (Channel.SMS, "undelivered", "unreachable"),
        (Channel.SMS, "failed", "invalid_number"),
        (Channel.SMS, "failed", "not_textable"),
        (Channel.SMS, "failed", "blocked"),
        (Channel.CALL, "failed", "invalid_number"),
        (Channel.CALL, "busy", None),
        (Channel.CALL, "no-answer", None),
        (Channel.CALL, "failed", None),
    ],
)
def test_a_failure_of_the_members_own_number_needs_the_backup(channel, status, reason):
    assert needs_backup(_failed(channel, status, failure_reason=reason), _member())


@pytest.mark.parametrize(
    ("channel", "status"),
    [
        (Channel.SMS, "delivered"),
        (Channel.SMS, "sent"),
        (Channel.SMS, "queued"),
        (Channel.CALL, "completed"),
        (Channel.CALL, "ringing"),
        (Channel.CALL, "canceled"),  # stopped because someone else accepted
    ],
)
def test_what_is_not_a_failure_needs_no_backup(channel, status):
    assert not needs_backup(_failed(channel, status), _member())


def test_opting_out_is_no_reason_to_text_the_backup_but_a_call_still_is():
    assert not needs_backup(_failed(Channel.SMS, "failed", failure_reason="opted_out"), _member())
    assert not needs_backup(_failed(Channel.SMS, "failed"), _member(opted_out=True))
    assert needs_backup(_failed(Channel.CALL, "no-answer", failure_reason=None), _member(opted_out=True))


@pytest.mark.parametrize("purpose", [Purpose.CONFIRMATION, Purpose.ACK_NOTICE, Purpose.HELP, Purpose.RECEIPT])
def test_only_alerts_and_escalations_are_backed_up(purpose):
    assert needs_backup(_failed(purpose=Purpose.ESCALATION), _member())
    assert not needs_backup(_failed(purpose=purpose), _member())


@pytest.mark.parametrize("status", [IncidentStatus.ACKNOWLEDGED, IncidentStatus.CLOSED])
def test_an_incident_no_longer_open_needs_no_backup(status):
    notification = _failed()
    assert notification.incident is not None
    notification.incident.status = status
    assert not needs_backup(notification, _member())


def test_no_backup_without_a_member_a_backup_number_or_a_failure_of_the_own_number():
    assert not needs_backup(_failed(), None)
    assert not needs_backup(_failed(), _member(backup_phone=None))
    assert not needs_backup(_failed(), _member(backup_phone=""))
    assert not needs_backup(_failed(), _member(backup_phone=OWN))
    assert not needs_backup(_failed(), _member(active=False))
    assert not needs_backup(_failed(member_id=8), _member())
    # The backup's own failure starts nothing more.
    assert not needs_backup(_failed(phone=BACKUP), _member())
    notification = _failed()
    notification.incident = None
    assert not needs_backup(notification, _member())


# --- delivery reports through the status webhook --------------------------------------------


def _with_backup(session, group, index: int = 1) -> Member:
    member = group.members[index]
    member.backup_phone = BACKUP
    session.commit()
    return member


@pytest.fixture
def alerted(client, session, redis_conn) -> tuple[Incident, Member]:
    """A call for help in a simultaneous-ring group whose second member has a backup number."""
    group = make_group(session)
    member = _with_backup(session, group, 2)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.id != member.id)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": HOTLINE})
    assert response.status_code == 200
    session.commit()
    session.expire_all()
    return session.scalar(select(Incident)), member


def _alert_to(session, incident: Incident, member: Member, channel: str) -> Notification:
    return session.scalars(
        select(Notification).where(
            Notification.incident_id == incident.id, Notification.member_id == member.id,
            Notification.channel == channel, Notification.purpose == Purpose.ALERT,
        ).order_by(Notification.id)
    ).first()


def _backups(session, incident: Incident) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(
        select(Notification).where(Notification.incident_id == incident.id, Notification.phone == BACKUP)
        .order_by(Notification.id)
    ))


def _queued(redis_conn) -> list[str]:
    return Queue("alerts", connection=redis_conn).job_ids


def _report_sms(client, notification: Notification, sid: str, status: str, code: str = "30003") -> None:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, "ErrorCode": code}
    response = signed_post(client, f"/twilio/sms-status?n={notification.id}", params)
    assert response.status_code == 204, response.data


def _sent_sms(session, incident, member) -> tuple[Notification, str]:
    notification = _alert_to(session, incident, member, "sms")
    sid = message_sid()
    notification.provider_sid, notification.status = sid, "sent"
    session.commit()
    return notification, sid


def test_an_undelivered_alert_sms_texts_the_backup_once(client, session, redis_conn, alerted):
    incident, member = alerted
    first, sid = _sent_sms(session, incident, member)
    already = set(_queued(redis_conn))

    _report_sms(client, first, sid, "undelivered")
    _report_sms(client, first, sid, "undelivered")  # the carrier reports again
    _report_sms(client, first, sid, "failed")  # and differently

    [backup] = _backups(session, incident)
    assert (backup.channel, backup.purpose, backup.status, backup.via_dial) == ("sms", "alert", "pending", False)
    assert (backup.member_id, backup.recipient_name) == (member.id, member.name)
    assert (backup.body, backup.template, backup.template_params) == (first.body, first.template, first.template_params)
    assert backup.dedupe_key.endswith(f":{backup_key(first.id)}:{BACKUP}")
    assert set(_queued(redis_conn)) - already == {send_job_id("sms", backup.id)}, "enqueued after commit"
    [event] = session.scalars(select(TimelineEvent).where(TimelineEvent.kind == EventKind.BACKUP_NOTIFIED)).all()
    assert event.notification_id == backup.id and event.member_id == member.id
    assert event.detail["phone"] == BACKUP and event.detail["first_phone"] == member.phone
    assert event.detail["failed"] == "undelivered" and event.detail["channel"] == "sms"


def test_an_opted_out_member_is_not_texted_at_the_backup(client, session, redis_conn, alerted):
    incident, member = alerted
    first, sid = _sent_sms(session, incident, member)
    _report_sms(client, first, sid, "failed", code="21610")
    assert _backups(session, incident) == []


def test_no_backup_once_someone_has_accepted(client, session, redis_conn, alerted):
    incident, member = alerted
    first, sid = _sent_sms(session, incident, member)
    incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()
    _report_sms(client, first, sid, "undelivered")
    assert _backups(session, incident) == []


def test_a_dial_leg_not_answered_rings_the_backup_by_itself(client, session, redis_conn, alerted):
    incident, member = alerted
    leg = _alert_to(session, incident, member, "call")
    assert leg.via_dial
    params = {"CallSid": call_sid(), "CallStatus": "no-answer"}
    for _ in range(2):
        assert signed_post(client, f"/twilio/call-status?n={leg.id}", params).status_code == 204

    [backup] = _backups(session, incident)
    assert (backup.channel, backup.purpose, backup.via_dial, backup.status) == ("call", "alert", False, "pending")
    assert send_job_id("call", backup.id) in _queued(redis_conn)

    # The member's SMS failing too texts the backup: once per channel.
    first, sid = _sent_sms(session, incident, member)
    _report_sms(client, first, sid, "undelivered")
    assert [b.channel for b in _backups(session, incident)] == ["call", "sms"]


def test_a_backup_that_is_itself_a_member_alerted_is_not_alerted_again(session, app, redis_conn):
    group = make_group(session)
    son = group.members[3]
    member = group.members[2]
    member.backup_phone = son.phone
    session.commit()
    caller = group.members[1]
    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="sms", message_sid=message_sid(), now=utcnow()
    )
    session.commit()
    first = _alert_to(session, opened.incident, member, "sms")
    first.status = "undelivered"
    session.commit()
    assert needs_backup(first, member)
    assert add_backup(session, first) is None, "the son was texted as a member already"


# --- a refusal when sending -----------------------------------------------------------------


@pytest.fixture
def carrier(app) -> FakeCarrier:
    fake = FakeCarrier()
    use_carrier(app, fake)
    runtime.use_app(app)
    return fake


def test_a_call_refused_as_an_invalid_number_calls_the_backup(session, app, redis_conn, carrier):
    group = make_group(session)
    member = _with_backup(session, group, 2)
    caller = group.members[1]
    # An SMS for help: every member is called by a worker, not by a <Dial>.
    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="sms", message_sid=message_sid(), now=utcnow()
    )
    session.commit()
    first = _alert_to(session, opened.incident, member, "call")
    carrier.fail_next(refusal("The 'To' number is not a valid phone number.", code=21211, http_status=400))

    assert place_call(first.id).startswith("failed:")

    [backup] = _backups(session, opened.incident)
    assert (backup.channel, backup.purpose, backup.member_id, backup.status) == ("call", "alert", member.id, "pending")
    assert send_job_id("call", backup.id) in _queued(redis_conn), "the job enqueued it after commit"
    kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == opened.incident.id)).all()
    assert EventKind.BACKUP_NOTIFIED in kinds

    assert place_call(backup.id) != "skipped: not pending"
    assert [a["to"] for a in carrier.attempts] == [member.phone, BACKUP]


def test_a_throttled_sms_that_will_be_retried_has_no_backup_yet(session, app, redis_conn, carrier, monkeypatch):
    from workers import jobs

    group = make_group(session)
    member = _with_backup(session, group, 2)
    opened = open_incident(
        session, get_settings(app), caller_phone=group.members[1].phone, source="sms",
        message_sid=message_sid(), now=utcnow(),
    )
    session.commit()
    first = _alert_to(session, opened.incident, member, "sms")
    carrier.fail_next(refusal("too many requests", code=20429, http_status=429))
    monkeypatch.setattr(jobs, "get_current_job", lambda: type("Job", (), {"should_retry": True})())

    with pytest.raises(Exception, match="too many"):
        send_sms(first.id)
    assert _backups(session, opened.incident) == []


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_an_unreachable_phone_rings_the_backup_which_accepts(environ, app, session, tmp_path):
    group = make_group(session, delays="600,600")
    member = _with_backup(session, group, 2)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD and m.id != member.id)
    with running_stack(environ, tmp_path) as stack:
        # Nobody else picks up (the simulator's phones ring unanswered unless scripted).
        stack.sim.script(member.phone, fail=True, undeliverable=True)  # switched off: calls fail, texts bounce
        stack.sim.script(BACKUP, answer_after=1.0, press="1", press_after=0.5)

        stack.sim.dial(caller.phone)

        def acknowledged():
            found = rows(stack.app, lambda s: s.scalar(select(Incident)))
            return found is not None and found.status == "acknowledged" and found

        incident = stack.wait_for(acknowledged, timeout=30, what="the backup number to accept")
        assert incident.acknowledged_by_id == member.id, "an acceptance from the backup is the member's"
        responses = rows(stack.app, lambda s: s.scalars(select(Response)).all())
        assert [(r.phone, r.channel, r.answer, r.member_id) for r in responses] == [
            (BACKUP, "call", "accept", member.id)
        ]
        backup_phone = stack.sim.phone(BACKUP)
        assert any("需要帮助" in text for call in backup_phone["calls"] for text in call["heard"])
        assert not any(call["status"] == "completed" for call in stack.sim.phone(member.phone)["calls"])

        def texted():
            bodies = [m["body"] for m in stack.sim.phone(BACKUP)["messages"]]
            return [body for body in bodies if body.startswith("【联防求助】")]

        stack.wait_for(texted, what="the bounced alert SMS to reach the backup")
        time.sleep(1)
        assert len(texted()) == 1 and len(stack.sim.phone(BACKUP)["calls"]) == 1, "once each"
        kinds = rows(stack.app, lambda s: s.scalars(
            select(TimelineEvent.detail).where(TimelineEvent.kind == EventKind.BACKUP_NOTIFIED)).all())
        assert sorted(detail["channel"] for detail in kinds) == ["call", "sms"]


def test_group_health_still_shows_the_own_number_failing_when_the_backup_got_through(client, session, alerted):
    from hotline.console.stats_queries import last_failures

    incident, member = alerted
    first, sid = _sent_sms(session, incident, member)
    _report_sms(client, first, sid, "undelivered")
    [backup] = _backups(session, incident)
    backup.status = "delivered"
    session.commit()

    assert last_failures(session, [member.id]) == {member.id: [("sms", "undelivered")]}
