"""The reshaped seams: carrier registry and words, the outbox for any sender, one escalation service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.settings import SettingsError, load_settings
from hotline.carriers import CARRIER_FACTORIES, FailureReason, build_carrier
from hotline.carriers.simulator import SimulatorCarrier
from hotline.carriers.twilio import TwilioCarrier
from hotline.carriers.twilio.codes import delivery_failure, failure_reason
from hotline.carriers.twilio.webhooks import call_report, sms_report
from hotline.carriers.webhook_events import BadWebhook
from hotline.extensions import get_carrier, get_settings, use_carrier
from hotline.models import Channel, Notification, Purpose, Role
from hotline.services.escalation import TransferTo, escalate, plan_transfer, ringing_now
from hotline.services.incidents import open_incident
from hotline.services.outbox import dedupe_key, escalation_job_id, send_job_id
from tests.factories import call_sid, make_group

TWILIO = {
    "HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "HOTLINE_TWILIO_AUTH_TOKEN": "token",
    "HOTLINE_TWILIO_NUMBER": "+8657188880000",
}
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


# --- the carrier registry --------------------------------------------------------------------------


def test_the_carrier_is_twilio_with_credentials_and_the_simulator_without():
    assert isinstance(build_carrier(load_settings({})), SimulatorCarrier)
    assert isinstance(build_carrier(load_settings(TWILIO)), TwilioCarrier)


def test_hotline_carrier_names_the_carrier_whatever_the_credentials_say():
    settings = load_settings({**TWILIO, "HOTLINE_CARRIER": "simulator"})
    assert settings.carrier == "simulator" and not settings.uses_twilio
    assert isinstance(build_carrier(settings), SimulatorCarrier)


def test_an_unknown_carrier_or_twilio_without_credentials_is_refused_by_name():
    with pytest.raises(SettingsError, match="HOTLINE_CARRIER：只能是 twilio、simulator、aliyun 之一，“nokia”不是"):
        load_settings({"HOTLINE_CARRIER": "nokia"})
    with pytest.raises(SettingsError, match="HOTLINE_CARRIER：设为 twilio 时还要设置 HOTLINE_TWILIO_ACCOUNT_SID"):
        load_settings({"HOTLINE_CARRIER": "twilio"})


def test_every_carrier_the_settings_accept_is_registered():
    from config.settings import CARRIERS

    assert set(CARRIERS) == set(CARRIER_FACTORIES)


def test_the_app_sends_through_the_carrier_it_was_given(app):
    assert isinstance(get_carrier(app), SimulatorCarrier)
    assert get_carrier(app) is get_carrier(app)
    stand_in = SimulatorCarrier(
        base_url="http://127.0.0.1:9", from_number="+8657188880000", public_url="http://127.0.0.1:5000"
    )
    use_carrier(app, stand_in)
    assert get_carrier(app) is stand_in


# --- Twilio's words, mapped inside the Twilio carrier ---------------------------------------------


@pytest.mark.parametrize(
    ("code", "http_status", "reason", "transient"),
    [
        (21211, 400, FailureReason.INVALID_NUMBER, False),
        (21610, 400, FailureReason.OPTED_OUT, False),
        (21614, 400, FailureReason.NOT_TEXTABLE, False),
        (21612, 400, FailureReason.UNREACHABLE, False),
        (21408, 400, FailureReason.BLOCKED, False),
        (20429, 429, FailureReason.THROTTLED, True),
        (None, 429, FailureReason.THROTTLED, True),
        (None, 503, FailureReason.CARRIER_ERROR, True),
        (None, None, FailureReason.CARRIER_ERROR, True),
        (None, 400, FailureReason.REJECTED, False),
        (21610, 500, FailureReason.OPTED_OUT, False),  # a known code decides, whatever the status
    ],
)
def test_twilio_refusals_in_the_projects_words(code, http_status, reason, transient):
    from hotline.carriers import CarrierError

    assert failure_reason(code, http_status) == reason
    assert CarrierError("refused", reason=failure_reason(code, http_status)).transient is transient


def test_twilio_delivery_reports_are_read_into_the_projects_words():
    report = sms_report({"MessageSid": "SM" + "a" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert (report.status, report.reason, report.carrier_code) == ("undelivered", FailureReason.UNREACHABLE, 30003)
    delivered = call_report({"CallSid": "CA" + "b" * 32, "CallStatus": "no-answer"})
    assert (delivered.status, delivered.reason) == ("no-answer", None)
    assert sms_report({"MessageSid": "SM" + "a" * 32, "MessageStatus": "receiving"}).status is None
    assert delivery_failure(None) == FailureReason.UNKNOWN
    with pytest.raises(BadWebhook, match="malformed MessageSid"):
        sms_report({"MessageSid": "SMnot-a-sid", "MessageStatus": "sent"})


# --- the outbox --------------------------------------------------------------------------------------


def test_job_ids_and_dedupe_keys_have_one_builder():
    assert send_job_id(Channel.SMS, 7) == "sms-7" and send_job_id("call", 7) == "call-7"
    assert escalation_job_id(3, 1) == "escalation-3-1" and escalation_job_id(3, 2, "-sweep") == "escalation-3-2-sweep"
    assert dedupe_key("broadcast", 5, Purpose.ALERT, Channel.SMS, "0", "+86138") != dedupe_key(
        "incident", 5, Purpose.ALERT, Channel.SMS, "0", "+86138"
    )


def test_a_notification_needs_no_incident_and_keeps_its_template(app, session):
    row = Notification(
        sender="broadcast", phone="+8613800138000", channel=Channel.SMS, purpose=Purpose.ALERT,
        body="通报", template="sms_bulletin", template_params={"text": "通报"},
        dedupe_key=dedupe_key("broadcast", 1, Purpose.ALERT, Channel.SMS, "0", "+8613800138000"),
    )
    session.add(row)
    session.commit()
    session.expire_all()
    stored = session.get(Notification, row.id)
    assert stored is not None and stored.incident_id is None
    assert (stored.template, stored.template_params) == ("sms_bulletin", {"text": "通报"})


def test_an_alerts_texts_carry_their_template_and_values(app, session):
    settings = get_settings(app)
    group = make_group(session)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    opened = open_incident(session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid())
    session.commit()
    alert = session.get(Notification, opened.sms_ids[0])
    assert alert is not None and alert.template == "sms_alert"
    assert alert.template_params["caller_name"] == caller.name
    assert alert.template_params["caller_name"] in alert.body


# --- one escalation service: never two rings at once to the same officer --------------------------


def _call(phone: str, status: str, created: datetime) -> Notification:
    return Notification(phone=phone, status=status, created_at=created, channel=Channel.CALL)


def test_ringing_now_counts_live_calls_only_while_they_could_ring():
    calls = [_call("+861", "ringing", T0), _call("+862", "completed", T0), _call("+863", "pending", T0)]
    assert ringing_now(calls, "+861", T0 + timedelta(seconds=10), ring_timeout=30)
    assert not ringing_now(calls, "+862", T0 + timedelta(seconds=10), ring_timeout=30)
    assert not ringing_now(calls, "+864", T0 + timedelta(seconds=10), ring_timeout=30)
    # A row whose report was lost stops counting once no call could still ring.
    assert not ringing_now(calls, "+863", T0 + timedelta(seconds=600), ring_timeout=30)


def _officers(group) -> set[str]:
    return {m.phone for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT)}


def test_the_escalation_does_not_call_an_officer_the_transfer_is_ringing(app, session):
    settings = get_settings(app)
    group = make_group(session)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    opened_at = datetime.now(UTC) - timedelta(seconds=31)  # rows are stamped with the real time
    incident = open_incident(
        session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid(), now=opened_at
    ).incident
    session.commit()

    transfer = plan_transfer(session, settings, incident, stage=1, now=opened_at + timedelta(seconds=31))
    session.commit()
    assert transfer.to == TransferTo.OFFICERS and {phone for phone, _ in transfer.legs} == _officers(group)

    result = escalate(session, settings, incident, 1, now=opened_at + timedelta(seconds=61))
    session.commit()
    calls = session.scalars(select(Notification).where(Notification.id.in_(result.call_ids))).all()
    texts = session.scalars(select(Notification).where(Notification.id.in_(result.sms_ids))).all()
    assert result.fired and calls == []  # the transfer is still ringing every officer
    assert {n.phone for n in texts} == _officers(group)  # but each is texted


def test_the_transfer_skips_an_officer_the_escalation_is_calling(app, session):
    settings = get_settings(app)
    group = make_group(session)
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    incident = open_incident(
        session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid(), now=T0
    ).incident
    session.commit()
    now = datetime.now(UTC)
    escalate(session, settings, incident, 1, now=now)
    session.commit()

    transfer = plan_transfer(session, settings, incident, stage=1, now=now + timedelta(seconds=5))
    session.commit()

    # Every officer is being called by the escalation: the caller goes on to the duty line.
    assert transfer.to == TransferTo.DUTY_LINE and transfer.phone == group.village.station.duty_phone


def test_the_addresses_twilio_is_given_are_the_service_s_webhooks(app):
    """What Twilio and the simulator are told to call back for an outbox row is a route of the app."""
    from hotline.carriers.twilio.callbacks import Callbacks

    callbacks = Callbacks("http://127.0.0.1:5000")
    adapter = app.url_map.bind("127.0.0.1:5000")
    expected = {"sms_status": callbacks.sms_status(7), "call_status": callbacks.call_status(7),
                "screen": callbacks.call_flow(7), "screen_answer": callbacks.key_pressed(7)}
    for view, address in expected.items():
        path, _, query = address.removeprefix("http://127.0.0.1:5000").partition("?")
        endpoint, _ = adapter.match(path, method="POST")
        assert endpoint.endswith("." + view), (address, endpoint)
        assert query == "n=7"
