"""Drills on the real alert path: every text and prompt says so, the duty line only when asked,
schedules started once, readiness measured and ranked, drills apart from real statistics."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.extensions import get_settings
from hotline.models import (
    Answer,
    Channel,
    Drill,
    DrillSchedule,
    EventKind,
    Incident,
    Notification,
    Purpose,
    Role,
    TimelineEvent,
)
from hotline.services.drills import (
    DrillError,
    next_occurrence,
    schedule_drill,
    start_due,
    start_now,
)
from hotline.services.escalation import escalate, max_level_for, next_check, run_check
from hotline.services.messages import compose, render_for
from hotline.services.prompts import call_prompt
from hotline.services.readiness import report_table, station_report
from hotline.services.responses import record_response
from tests.factories import call_sid, make_group

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
DUTY = "+861088880000"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _drill(session, settings, group, *, duty_line=False, at=T0) -> Drill:
    started = start_now(session, settings, [group], duty_line=duty_line, now=at)
    session.commit()
    assert len(started.drills) == 1, started.skipped
    return started.drills[0]


def _accept(session, settings, incident, member, at):
    record_response(
        session, settings, incident, phone=member.phone, channel=Channel.CALL, answer=Answer.ACCEPT,
        source_sid=call_sid(), now=at,
    )
    session.commit()


def test_a_drill_opens_a_drill_incident_for_a_household_that_is_neither_rung_nor_texted(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    drill = _drill(session, settings, group)
    incident = drill.incident
    assert incident is not None and incident.is_drill and incident.source == "drill"
    household = drill.household
    assert household is not None and household.role == Role.HOUSEHOLD
    assert incident.caller_phone == household.phone
    phones = {n.phone for n in incident.notifications}
    assert household.phone not in phones  # no confirmation, no call: nobody is on the line
    assert {m.phone for m in group.members if m.phone != household.phone} <= phones
    # Nobody is on the line, so every member is called by a worker.
    assert all(not n.via_dial for n in incident.notifications)
    kinds = session.scalars(select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)).all()
    assert EventKind.DRILL_STARTED in kinds and EventKind.CALL_RECEIVED not in kinds


def test_the_next_drill_is_raised_for_another_household(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    first = _drill(session, settings, group)
    assert first.incident is not None
    first.incident.status = "closed"
    session.commit()
    second = _drill(session, settings, group, at=_at(600))
    assert second.household_id != first.household_id


def test_a_group_with_an_open_alert_is_left_out(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    _drill(session, settings, group)
    again = start_now(session, settings, [group], now=_at(5))
    assert not again.drills and "未结束的演练" in again.skipped[0][1]


def test_every_text_and_prompt_of_a_drill_starts_by_saying_so(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="1,1")
    drill = _drill(session, settings, group, duty_line=True)
    incident = drill.incident
    assert incident is not None
    for level, at in ((1, _at(2)), (2, _at(3)), (3, _at(400))):
        escalate(session, settings, incident, level, at)
        session.commit()
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    _accept(session, settings, incident, officer, _at(401))
    texts = session.scalars(
        select(Notification).where(Notification.incident_id == incident.id, Notification.channel == Channel.SMS)
    ).all()
    assert {n.purpose for n in texts} >= {Purpose.ALERT, Purpose.ESCALATION, Purpose.ACK_NOTICE}
    assert all(n.body.startswith("【演练】") for n in texts), [n.body for n in texts]
    calls = session.scalars(
        select(Notification).where(Notification.incident_id == incident.id, Notification.channel == Channel.CALL)
    ).all()
    for call in calls:
        prompt = call_prompt(settings, call)
        assert prompt is not None
        assert compose(settings, incident, prompt.template, **prompt.params).text.startswith("这是一次联防演练。")
    for name in ("voice_screen", "voice_screen_accepted", "voice_screen_ack_only", "voice_goodbye"):
        assert render_for(settings, incident, name).startswith("这是一次联防演练。")
    # A real alert's words are unchanged.
    real = Incident(caller_phone="+8613800100001", caller_name="甲", opened_at=T0, is_drill=False)
    assert not compose(settings, real, "sms_misdial").text.startswith("【演练】")


def test_a_long_drill_text_still_fits_two_parts_with_its_prefix(app, session):
    from hotline.services.segments import count_segments

    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    for member in group.members:
        member.address = "很长的地址" * 40
    session.commit()
    drill = _drill(session, settings, group)
    alert = next(n for n in drill.incident.notifications if n.channel == Channel.SMS)  # type: ignore[union-attr]
    assert alert.body.startswith("【演练】") and count_segments(alert.body) <= 2


def test_a_drill_without_the_duty_line_stops_at_the_officers(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="1,1")
    incident = _drill(session, settings, group).incident
    assert incident is not None
    assert max_level_for(incident) == 1
    fired, work = run_check(session, settings, incident, 1, _at(2))
    session.commit()
    assert fired == "fired" and work.escalation is None  # no check of the duty line's level is scheduled
    assert escalate(session, settings, incident, 2, _at(60)).fired is False
    assert escalate(session, settings, incident, 3, _at(600)).fired is False
    assert next_check(settings, incident) is None  # nor does the sweeper find one
    rung = session.scalars(select(Notification.phone).where(Notification.incident_id == incident.id)).all()
    assert DUTY not in rung


def test_a_drill_with_the_duty_line_escalates_to_it(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="1,1")
    incident = _drill(session, settings, group, duty_line=True).incident
    assert incident is not None and max_level_for(incident) is None
    escalate(session, settings, incident, 1, _at(2))
    assert escalate(session, settings, incident, 2, _at(3)).fired
    session.commit()
    duty = session.scalars(
        select(Notification).where(Notification.incident_id == incident.id, Notification.phone == DUTY)
    ).all()
    assert {n.channel for n in duty} == {Channel.SMS, Channel.CALL}
    # The household is never told the station has "its" alert.
    household_texts = session.scalars(
        select(Notification).where(
            Notification.incident_id == incident.id, Notification.phone == incident.caller_phone
        )
    ).all()
    assert household_texts == []


def test_first_monday_of_each_month_at_ten():
    rule = "FREQ=MONTHLY;BYDAY=1MO"
    first = datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)
    following = next_occurrence(rule, first, first, SHANGHAI)
    assert following == datetime(2027, 1, 4, 10, 0, tzinfo=SHANGHAI)
    assert next_occurrence(rule, first, datetime(2027, 1, 4, 10, 0, tzinfo=SHANGHAI), SHANGHAI) == datetime(
        2027, 2, 1, 10, 0, tzinfo=SHANGHAI
    )
    with pytest.raises(DrillError):
        next_occurrence("FREQ=SOMETIMES", first, first, SHANGHAI)


@pytest.mark.parametrize("rule", ["FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=HOURLY;INTERVAL=6", "FREQ=DAILY;BYHOUR=8,20"])
def test_a_drill_repeated_more_often_than_once_a_day_is_refused(app, session, rule):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    with pytest.raises(DrillError, match="至少要隔一天"):
        schedule_drill(session, settings, group.village.station, at=T0, rule=rule, group=group, now=_at(-3600))
    schedule = schedule_drill(
        session, settings, group.village.station, at=T0, rule="FREQ=DAILY", group=group, now=_at(-3600)
    )
    assert schedule.rule == "FREQ=DAILY"


def test_a_due_schedule_is_started_once_even_when_run_twice(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    schedule = schedule_drill(
        session, settings, group.village.station, at=T0, rule="FREQ=MONTHLY;BYDAY=1MO", group=group,
        now=_at(-3600),
    )
    session.commit()
    assert start_due(session, settings, now=_at(-1)).drills == []
    first = start_due(session, settings, now=_at(5))
    session.commit()
    second = start_due(session, settings, now=_at(6))
    session.commit()
    assert len(first.drills) == 1 and second.drills == []
    session.refresh(schedule)
    assert schedule.last_run_at == T0
    assert schedule.next_run_at == datetime(2027, 1, 4, 10, 0, tzinfo=SHANGHAI)
    assert first.drills[0].run_at == T0 and first.drills[0].schedule_id == schedule.id


def test_a_second_worker_holding_the_same_occurrence_starts_nothing(app, session):
    """Both read the schedule as due; the conditional update lets only the first start it."""
    from hotline.extensions import db

    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    schedule_drill(session, settings, group.village.station, at=T0, group=group, now=_at(-60))
    session.commit()
    with db.state(app).sessionmaker() as other:
        stale = other.scalars(select(DrillSchedule)).all()  # the other worker read it before the first moved it
        assert start_due(session, settings, now=_at(1)).drills
        session.commit()
        assert stale[0].next_run_at is not None
        assert start_due(other, settings, now=_at(1)).drills == []
        other.commit()
    assert session.scalar(select(Drill.id).where(Drill.group_id == group.id).offset(1)) is None


def test_an_occurrence_missed_by_hours_is_skipped_not_started_at_night(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="60,180")
    schedule_drill(session, settings, group.village.station, at=T0, rule="FREQ=DAILY", group=group, now=_at(-60))
    session.commit()
    assert start_due(session, settings, now=_at(12 * 3600)).drills == []


def test_the_report_ranks_groups_flags_those_over_the_standard_and_leaves_real_alerts_out(app, session):
    from hotline.services.incidents import open_incident

    settings = get_settings(app)
    fast = make_group(session, village_name="东村", group_name="一组", delays="600,600", prefix="+86138001")
    slow = make_group(session, village_name="西村", group_name="二组", delays="600,600", prefix="+86138002")
    never = make_group(session, village_name="南村", group_name="三组", delays="600,600", prefix="+86138003")
    station = fast.village.station
    station.drill_standard_seconds = 120
    slow.min_acceptances = 2
    session.commit()
    # An earlier drill of the fast group, slower than today's: the change is reported.
    earlier = _drill(session, settings, fast, at=T0 - timedelta(days=30))
    leader = next(m for m in fast.members if m.role == Role.LEADER)
    _accept(session, settings, earlier.incident, leader, T0 - timedelta(days=30) + timedelta(seconds=100))
    drills = start_now(session, settings, [fast, slow, never], now=T0)
    session.commit()
    by_group = {d.group_id: d.incident for d in drills.drills}
    _accept(session, settings, by_group[fast.id], leader, _at(40))
    slow_members = [m for m in slow.members if m.role != Role.HOUSEHOLD]
    _accept(session, settings, by_group[slow.id], slow_members[0], _at(30))
    _accept(session, settings, by_group[slow.id], slow_members[1], _at(200))  # covered at 200 s: over 120
    # A real alert in the never-answering group, answered at once, counts for nothing here.
    real = open_incident(
        session, settings, caller_phone=never.members[1].phone, source="call", call_sid=call_sid(), now=_at(1)
    ).incident
    session.commit()
    _accept(session, settings, real, never.members[0], _at(2))

    report = station_report(session, settings, station)
    assert report.standard == 120
    assert [row.readiness.group for row in report.rows] == ["一组", "二组", "三组"]
    assert [row.misses_standard for row in report.rows] == [False, True, True]
    first = report.rows[0].readiness
    assert first.first_seconds == 40 and first.covered_seconds == 40 and first.change_seconds == -60
    second = report.rows[1].readiness
    assert second.first_seconds == 30 and second.covered_seconds == 200 and second.needed == 2
    third = report.rows[2].readiness
    assert third.accepted == 0 and third.covered_seconds is None

    table = report_table(report, "zh", SHANGHAI)
    assert table[0][:3] == ["排名", "村", "小组"]
    assert [row[-1] for row in table[1:]] == ["是", "否", "否"]
    assert table[1][3] == "2026-12-07 10:00" and table[1][12] == -60


def test_readiness_counts_members_reached_and_the_numbers_that_failed(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="600,600")
    group.members[2].opted_out = True
    session.commit()
    drill = _drill(session, settings, group)
    incident = drill.incident
    assert incident is not None
    others = list(incident.notifications)
    calls = [n for n in others if n.channel == Channel.CALL]
    texts = [n for n in others if n.channel == Channel.SMS]
    calls[0].status = "completed"
    calls[1].status = "busy"
    calls[2].status = "failed"
    calls[2].failure_reason = "invalid_number"
    texts[0].status = "delivered"
    texts[1].status = "undelivered"
    texts[1].failure_reason = "unreachable"
    session.commit()
    ready = station_report(session, settings, group.village.station).rows[0].readiness
    assert ready.reached_by_call == 1 and ready.reached_by_sms == 1
    reasons = {(f.phone, f.channel, f.reason) for f in ready.failures}
    assert (calls[1].phone, "call", "busy") in reasons
    assert (calls[2].phone, "call", "invalid_number") in reasons
    assert (texts[1].phone, "sms", "unreachable") in reasons
    assert (group.members[2].phone, "sms", "opted_out") in reasons


def test_drills_never_count_in_real_statistics(app, session, console):
    from hotline.services.stations import add_user
    from tests.support.console import PASSWORD, login

    settings = get_settings(app)
    group = make_group(session, delays="600,600")
    drill = _drill(session, settings, group)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    _accept(session, settings, drill.incident, leader, _at(5))
    add_user(session, "wang", PASSWORD, group.village.station.name)
    session.commit()
    login(console, "wang")
    stats = console.get("/api/stats").get_json()
    assert stats["total"]["incidents"] == 0
    page = console.get("/stats")
    assert page.status_code == 200


def test_the_report_exports_as_csv_with_cells_made_safe(app, session):
    from hotline.csvsafe import csv_bytes

    settings = get_settings(app)
    group = make_group(session, group_name="=HYPERLINK(1)", delays="600,600")
    _drill(session, settings, group)
    table = report_table(station_report(session, settings, group.village.station), "zh", SHANGHAI)
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert rows[1][2] == "'=HYPERLINK(1)"


# --- the console ----------------------------------------------------------------------------------


def test_the_console_starts_a_drill_and_shows_the_ranked_report(console, world, session):
    from tests.support.console import login

    login(console, "a_staff")
    page = console.get("/drills/").get_data(as_text=True)
    assert 'href="/drills/"' in page and "演练" in page and "还没有演练" in page
    answer = console.post(
        "/drills/start", data={"scope": "group", "group": world.group_a.id, "duty_line": "1"}
    )
    assert answer.status_code == 302
    drill = session.scalar(select(Drill))
    assert drill is not None and drill.group_id == world.group_a.id and drill.duty_line
    assert drill.created_by == "a_staff" and drill.incident is not None and drill.incident.escalation_cap is None
    page = console.get("/drills/").get_data(as_text=True)
    assert 'id="readiness"' in page and "东村 / 一组" in page and "未达标" in page
    exported = console.get("/drills/report.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "排名" and rows[1][2] == "一组" and rows[1][-1] == "否"
    assert console.get("/drills/report.xlsx").get_data()[:2] == b"PK"


def test_the_console_schedules_a_monthly_drill_and_cancels_it(console, world, session):
    from tests.support.console import login

    login(console, "a_staff")
    answer = console.post(
        "/drills/start",
        data={"scope": "all", "at": "2030-01-07T10:00", "repeat": "monthly-first-monday"},
    )
    assert answer.status_code == 302
    schedule = session.scalar(select(DrillSchedule))
    assert schedule is not None and schedule.rule == "FREQ=MONTHLY;BYDAY=1MO" and not schedule.duty_line
    assert schedule.next_run_at == datetime(2030, 1, 7, 10, 0, tzinfo=SHANGHAI)
    assert "2030-01-07 10:00" in console.get("/drills/").get_data(as_text=True)
    assert console.post(f"/drills/schedules/{schedule.id}/cancel").status_code == 302
    session.refresh(schedule)
    assert schedule.next_run_at is None and schedule.cancelled_at is not None


def test_another_station_s_groups_and_schedules_are_not_found(console, world, session):
    from tests.support.console import login

    login(console, "a_staff")
    console.post("/drills/start", data={"scope": "all", "at": "2030-01-07T10:00"})
    schedule = session.scalar(select(DrillSchedule))
    assert schedule is not None
    console.post("/logout")
    login(console, "b_staff")
    assert console.post("/drills/start", data={"scope": "group", "group": world.group_a.id}).status_code == 404
    assert console.post(f"/drills/schedules/{schedule.id}/cancel").status_code == 404
    assert console.get(f"/drills/?station={schedule.station_id}").status_code == 404
    assert session.scalar(select(Drill)) is None
