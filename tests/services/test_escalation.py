"""Escalation: officers and assistant first, then the station's duty line, each once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config.settings import load_settings
from hotline.extensions import get_settings
from hotline.models import Incident, IncidentStatus, Notification, Role, Station, TimelineEvent
from hotline.services.escalation import due_at, escalate, escalation_delays, needs_escalation, resume_escalation
from hotline.services.incidents import open_incident
from tests.factories import call_sid, make_group

T0 = datetime(2024, 11, 27, 6, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the pure decision -------------------------------------------------------------------------


def _row(status: str = "open", level: int = 0) -> Incident:
    return Incident(status=status, escalation_level=level, opened_at=T0)


@pytest.mark.parametrize(
    ("status", "fired", "level", "delays", "seconds", "expected"),
    [
        ("open", 0, 1, (60, 180), 60, True),
        ("open", 0, 1, (60, 180), 3600, True),
        ("open", 0, 1, (60, 180), 59, False),
        ("open", 0, 1, (60, 180), -5, False),
        ("open", 1, 1, (60, 180), 600, False),  # level 1 already fired
        ("open", 1, 2, (60, 180), 240, True),  # due 60 + 180 after opening
        ("open", 1, 2, (60, 180), 239, False),
        ("open", 0, 2, (60, 180), 9999, False),  # level 1 must fire first
        ("open", 2, 2, (60, 180), 9999, False),
        ("open", 1, 2, (60,), 9999, False),  # no second delay: no second level
        ("open", 2, 3, (60, 180, 300), 9999, False),  # nothing beyond the duty line
        ("open", 0, 0, (60, 180), 9999, False),
        ("open", 0, 1, (30, 90), 30, True),
        ("open", 1, 2, (30, 90), 119, False),
        ("open", 1, 2, (30, 90), 120, True),
        ("acknowledged", 0, 1, (60, 180), 9999, False),
        ("acknowledged", 1, 2, (60, 180), 9999, False),
        ("closed", 0, 1, (60, 180), 9999, False),
    ],
)
def test_needs_escalation(status, fired, level, delays, seconds, expected):
    assert needs_escalation(_row(status, fired), level, delays, _at(seconds)) is expected


def test_needs_escalation_is_pure():
    row = _row()
    needs_escalation(row, 1, (60, 180), _at(100))
    assert (row.status, row.escalation_level, row.escalated_at) == ("open", 0, None)


def test_due_at_counts_each_delay_from_the_previous_level():
    assert due_at(_row(), (60, 180), 1) == _at(60)
    assert due_at(_row(), (60, 180), 2) == _at(240)


# --- firing ------------------------------------------------------------------------------------


@pytest.fixture
def settings(app):
    # The levels as configured, without the repeats past the last one (test_never_silent.py covers those).
    return get_settings(app).model_copy(update={"escalation_repeat": 0})


def _open(session, settings, group, *, at: datetime = T0) -> Incident:
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    opened = open_incident(session, settings, caller_phone=caller.phone, source="call", call_sid=call_sid(), now=at)
    session.commit()
    return opened.incident


def _escalations(session, incident: Incident, level: int | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.incident_id == incident.id, Notification.purpose == "escalation")
    if level is not None:
        query = query.where(Notification.escalation_level == level)
    return list(session.scalars(query.order_by(Notification.id)))


def _escalated_events(session, incident: Incident) -> list[TimelineEvent]:
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "escalated")
            .order_by(TimelineEvent.id)
        )
    )


def test_level_one_alerts_officer_and_assistant_by_sms_and_call(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    staff = [m for m in group.members if m.role in (Role.OFFICER, Role.ASSISTANT)]

    result = escalate(session, settings, incident, 1, now=_at(61))
    session.commit()

    assert result.fired
    notifications = _escalations(session, incident)
    sms = [n for n in notifications if n.channel == "sms"]
    calls = [n for n in notifications if n.channel == "call"]
    assert {n.phone for n in sms} == {n.phone for n in calls} == {m.phone for m in staff}
    assert {n.member_id for n in notifications} == {m.id for m in staff}
    assert sorted(result.sms_ids) == [n.id for n in sms]
    assert sorted(result.call_ids) == [n.id for n in calls]
    assert all(n.escalation_level == 1 and n.status == "pending" and not n.via_dial for n in notifications)
    for message in sms:
        assert message.body.startswith("【联防升级】")
        assert incident.caller_name in message.body and "东村一组" in message.body and "1分钟" in message.body
    session.refresh(incident)
    assert (incident.escalation_level, incident.escalated_at) == (1, _at(61))
    [event] = _escalated_events(session, incident)
    assert event.detail["level"] == 1
    assert {r["phone"] for r in event.detail["recipients"]} == {m.phone for m in staff}
    assert (result.next_level, result.next_delay) == (2, pytest.approx(179.0))


def test_level_two_calls_and_texts_the_duty_line(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    session.commit()

    result = escalate(session, settings, incident, 2, now=_at(245))
    session.commit()

    assert result.fired and result.next_level is None and result.next_delay is None
    level_two = _escalations(session, incident, 2)
    assert {(n.channel, n.phone, n.member_id, n.recipient_name) for n in level_two} == {
        ("sms", "+861088880000", None, "城关派出所"),
        ("call", "+861088880000", None, "城关派出所"),
    }
    assert "4分钟" in next(n.body for n in level_two if n.channel == "sms")
    session.refresh(incident)
    assert incident.escalation_level == 2
    assert [e.detail["level"] for e in _escalated_events(session, incident)] == [1, 2]


def test_each_level_fires_at_most_once(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    assert escalate(session, settings, incident, 1, now=_at(60)).fired
    session.commit()
    again = escalate(session, settings, incident, 1, now=_at(90))
    session.commit()
    assert not again.fired and again.sms_ids == [] and again.call_ids == [] and again.next_level is None
    assert escalate(session, settings, incident, 2, now=_at(300)).fired
    session.commit()
    assert not escalate(session, settings, incident, 2, now=_at(400)).fired
    assert not escalate(session, settings, incident, 1, now=_at(400)).fired
    session.commit()
    assert len(_escalations(session, incident, 1)) == 4
    assert len(_escalations(session, incident, 2)) == 2
    assert len(_escalated_events(session, incident)) == 2


def test_two_workers_checking_at_once_fire_once(app, session, settings):
    from hotline.extensions import db

    group = make_group(session)
    incident = _open(session, settings, group)
    with db.state(app).sessionmaker() as other:
        stale = other.get(Incident, incident.id)
        assert stale.escalation_level == 0
        assert escalate(session, settings, incident, 1, now=_at(60)).fired
        session.commit()
        # The other worker read the row before the first one fired; the conditional update stops it.
        late = escalate(other, settings, stale, 1, now=_at(61))
        other.commit()
        assert not late.fired and late.sms_ids == [] and late.call_ids == []
    assert len(_escalations(session, incident, 1)) == 4


def test_acknowledged_incident_does_not_escalate(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()

    for level, seconds in ((1, 61), (1, 9999), (2, 9999)):
        result = escalate(session, settings, incident, level, now=_at(seconds))
        assert not result.fired and result.next_level is None and result.next_delay is None
    session.commit()
    session.refresh(incident)
    assert incident.escalation_level == 0
    assert _escalations(session, incident) == [] and _escalated_events(session, incident) == []


def test_acknowledged_after_level_one_stops_level_two(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()
    result = escalate(session, settings, incident, 2, now=_at(300))
    assert not result.fired and result.next_level is None
    assert _escalations(session, incident, 2) == []


def test_early_check_asks_to_be_rescheduled(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)

    early = escalate(session, settings, incident, 1, now=_at(20))
    assert (early.fired, early.next_level, early.next_delay) == (False, 1, pytest.approx(40.0))
    escalate(session, settings, incident, 1, now=_at(60))
    early_two = escalate(session, settings, incident, 2, now=_at(200))
    assert (early_two.fired, early_two.next_level, early_two.next_delay) == (False, 2, pytest.approx(40.0))
    session.commit()
    session.refresh(incident)
    assert incident.escalation_level == 1
    assert _escalations(session, incident, 2) == []


def test_late_first_check_makes_the_next_level_due_now(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    result = escalate(session, settings, incident, 1, now=_at(1000))
    assert result.fired and (result.next_level, result.next_delay) == (2, 0.0)


def test_station_delays_override_the_global_setting(session, environ, app):
    settings = load_settings(dict(environ, HOTLINE_ESCALATION_DELAYS="300,600"))
    group = make_group(session, delays="30,90")
    incident = _open(session, settings, group)
    assert escalation_delays(settings, incident) == (30, 90)

    early = escalate(session, settings, incident, 1, now=_at(10))
    assert (early.fired, early.next_delay) == (False, pytest.approx(20.0))
    fired = escalate(session, settings, incident, 1, now=_at(30))
    assert fired.fired and (fired.next_level, fired.next_delay) == (2, pytest.approx(90.0))
    assert not escalate(session, settings, incident, 2, now=_at(119)).fired
    assert escalate(session, settings, incident, 2, now=_at(120)).fired


def test_global_setting_applies_when_the_station_has_none(session, environ, app):
    settings = load_settings(dict(environ, HOTLINE_ESCALATION_DELAYS="10,20"))
    group = make_group(session)
    incident = _open(session, settings, group)
    assert escalation_delays(settings, incident) == (10, 20)
    assert escalate(session, settings, incident, 1, now=_at(10)).fired
    assert escalate(session, settings, incident, 2, now=_at(30)).fired


def test_single_delay_means_one_level(session, settings):
    group = make_group(session, delays="45")
    incident = _open(session, settings, group)
    result = escalate(session, settings, incident, 1, now=_at(45))
    assert result.fired and result.next_level is None
    assert not escalate(session, settings, incident, 2, now=_at(9999)).fired


def test_opted_out_officer_is_called_but_not_texted(session, settings):
    group = make_group(session)
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    officer.opted_out = True
    session.commit()
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    session.commit()
    mine = _escalations(session, incident, 1)
    assert sorted((n.channel, n.phone) for n in mine if n.phone == officer.phone) == [("call", officer.phone)]


def test_inactive_staff_and_missing_duty_phone(session, settings):
    group = make_group(session, duty_phone=None)
    assistant = next(m for m in group.members if m.role == Role.ASSISTANT)
    assistant.active = False
    session.commit()
    incident = _open(session, settings, group)
    escalate(session, settings, incident, 1, now=_at(60))
    result = escalate(session, settings, incident, 2, now=_at(240))
    session.commit()
    assert {n.phone for n in _escalations(session, incident, 1)} == {
        m.phone for m in group.members if m.role == Role.OFFICER
    }
    # No duty phone: the level is recorded as fired, with nobody to alert.
    assert result.fired and result.sms_ids == [] and result.call_ids == []
    assert _escalated_events(session, incident)[-1].detail["recipients"] == []


def test_station_delays_parse_and_fall_back():
    station = Station(name="x", escalation_delays="30, 90")
    assert station.delays((60, 180)) == (30, 90)
    assert Station(name="y").delays((60, 180)) == (60, 180)


def test_resume_returns_a_fired_levels_unsent_work(session, settings):
    group = make_group(session)
    incident = _open(session, settings, group)
    assert resume_escalation(session, settings, incident, 1, now=_at(60)).sms_ids == []  # not fired yet
    fired = escalate(session, settings, incident, 1, now=_at(60))
    session.commit()

    resumed = resume_escalation(session, settings, incident, 1, now=_at(100))
    assert not resumed.fired
    assert (sorted(resumed.sms_ids), sorted(resumed.call_ids)) == (sorted(fired.sms_ids), sorted(fired.call_ids))
    assert (resumed.next_level, resumed.next_delay) == (2, pytest.approx(140.0))

    sent = session.get(Notification, fired.sms_ids[0])
    sent.status = "queued"
    session.commit()
    assert sent.id not in resume_escalation(session, settings, incident, 1, now=_at(100)).sms_ids

    incident.status = IncidentStatus.ACKNOWLEDGED
    session.commit()
    after_ack = resume_escalation(session, settings, incident, 1, now=_at(100))
    assert (after_ack.sms_ids, after_ack.call_ids, after_ack.next_level) == ([], [], None)
    assert len(_escalations(session, incident)) == 4

