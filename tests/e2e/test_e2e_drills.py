"""End to end: drills on the simulator with a real worker.

A drill started from the command line rings and texts the group through the
real alert path; every text and every prompt a phone receives says first
that it is a drill; the duty line is rung only by a drill that asks for it;
a scheduled drill is started once by the worker; readiness is measured and
the report ranks the groups; and drills never count in the real statistics.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.cli import main
from hotline.models import Drill, DrillSchedule, Incident, Notification, Role, utcnow
from tests.factories import make_group
from tests.support.stack import rows, running_stack

pytestmark = pytest.mark.e2e
DUTY = "+861088880000"
SMS_PREFIX = "【演练】"
VOICE_PREFIX = "这是一次联防演练。"
QUICK = {
    "HOTLINE_ESCALATION_REPEAT": "3",
    "HOTLINE_RECALL_INTERVAL": "5",
    "HOTLINE_RECALL_ROUNDS": "1",
}


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack({**environ, **QUICK}, tmp_path) as running:
        yield running


def _cli(stack, *args: str):
    return stack.app.test_cli_runner().invoke(main, ["drill", *args], catch_exceptions=False)


def _drill_incidents(stack) -> list[Incident]:
    return rows(stack.app, lambda s: list(s.scalars(select(Incident).where(Incident.is_drill.is_(True)))))


def _texts(stack, phone: str) -> list[str]:
    return [m["body"] for m in stack.sim.phone(phone)["messages"]]


def _heard(stack, phone: str) -> list[str]:
    return [said for call in stack.sim.phone(phone)["calls"] for said in call["heard"]]


def _calls_to(stack, phone: str) -> int:
    return len(stack.sim.phone(phone)["calls"])


def _nobody_answers(stack, group, but=()) -> None:
    for member in group.members:
        if member.phone not in but:
            stack.sim.script(member.phone, ignore=True)
    stack.sim.script(DUTY, ignore=True)


def test_a_drill_says_it_is_one_in_every_text_and_prompt_and_never_rings_the_duty_line(stack, session):
    group = make_group(session, delays="2,2")
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    _nobody_answers(stack, group, but=(leader.phone,))
    stack.sim.script(leader.phone, answer_after=0.5, press="2")  # picks up, hears it all, cannot come

    result = _cli(stack, "start", "--station", group.village.station.name, "--group", "东村/一组")
    assert result.exit_code == 0, result.output
    assert "演练已开始" in result.output
    [incident] = _drill_incidents(stack)
    household = incident.caller_phone

    stack.wait_for(lambda: _calls_to(stack, officer.phone) >= 2, what="the officers' escalation call", timeout=40)
    stack.wait_for(lambda: any("联防升级" in t for t in _texts(stack, officer.phone)), what="the escalation text")
    stack.wait_for(lambda: any("再见" in said for said in _heard(stack, leader.phone)), what="the leader's goodbye")
    time.sleep(8)  # the duty line's level and two repeats would have fired by now

    assert _calls_to(stack, DUTY) == 0 and _texts(stack, DUTY) == []
    # The household the drill was raised for is neither rung nor texted.
    assert _calls_to(stack, household) == 0 and _texts(stack, household) == []
    texts = [t for m in group.members for t in _texts(stack, m.phone)]
    assert texts and all(t.startswith(SMS_PREFIX) for t in texts), texts
    heard = [said for m in group.members for said in _heard(stack, m.phone)]
    assert heard and all(said.startswith(VOICE_PREFIX) for said in heard), heard
    after = rows(stack.app, lambda s: s.get(Incident, incident.id))
    assert after is not None and after.escalation_level == 1 and after.source == "drill"


def test_a_drill_with_the_duty_line_rings_it_and_is_covered_by_an_acceptance(stack, session):
    group = make_group(session, delays="1,1")
    _nobody_answers(stack, group)
    stack.sim.script(DUTY, answer_after=0.5, press="1")

    result = _cli(stack, "start", "--station", group.village.station.name, "--all", "--duty-line")
    assert result.exit_code == 0, result.output
    stack.wait_for(lambda: _calls_to(stack, DUTY) >= 1, what="the duty line rung", timeout=40)
    stack.wait_for(lambda: any(said.startswith(VOICE_PREFIX) for said in _heard(stack, DUTY)), what="duty line hears")
    assert all(said.startswith(VOICE_PREFIX) for said in _heard(stack, DUTY))
    assert all(t.startswith(SMS_PREFIX) for t in _texts(stack, DUTY))
    [incident] = _drill_incidents(stack)
    stack.wait_for(
        lambda: (i := rows(stack.app, lambda s: s.get(Incident, incident.id))) is not None and i.status != "open",
        what="covered by the duty line's acceptance", timeout=30,
    )


def test_readiness_is_measured_and_the_report_ranks_groups_and_flags_the_slow(stack, session, tmp_path):
    ready = make_group(session, village_name="东村", group_name="一组", delays="60,60", prefix="+86138001")
    silent = make_group(session, village_name="西村", group_name="二组", delays="60,60", prefix="+86138002")
    station = ready.village.station
    station.drill_standard_seconds = 20
    session.commit()
    _nobody_answers(stack, silent)
    _nobody_answers(stack, ready)
    leader = next(m for m in ready.members if m.role == Role.LEADER)
    stack.sim.script(leader.phone, answer_after=0.5, press="1")
    busy = next(m for m in silent.members if m.role == Role.ASSISTANT)
    stack.sim.script(busy.phone, busy=True)

    result = _cli(stack, "start", "--station", station.name, "--all")
    assert result.exit_code == 0, result.output
    assert len(_drill_incidents(stack)) == 2
    stack.wait_for(
        lambda: any(i.acknowledged_at is not None for i in _drill_incidents(stack)), what="the leader accepts"
    )
    stack.wait_for(
        lambda: rows(stack.app, lambda s: s.scalar(
            select(Notification.id).where(Notification.phone == busy.phone, Notification.status == "busy")
        )),
        what="the busy member's call ends",
    )
    report_file = tmp_path / "readiness.csv"
    result = _cli(stack, "report", "--station", station.name, "--format", "csv", str(report_file))
    assert result.exit_code == 0, result.output
    table = list(csv.reader(io.StringIO(report_file.read_text(encoding="utf-8-sig"))))
    assert table[0][0] == "排名"
    by_group = {row[2]: row for row in table[1:]}
    assert [row[2] for row in table[1:]] == ["一组", "二组"]
    assert by_group["一组"][-1] == "是" and by_group["二组"][-1] == "否"
    # Whole seconds: on a fast run the simulated leader accepts within half a second, shown as 0.
    assert 0 <= int(by_group["一组"][4]) <= 20 and by_group["二组"][4] == ""
    assert int(by_group["一组"][9]) >= 1  # the leader was reached by call
    assert busy.phone in by_group["二组"][11] and "占线" in by_group["二组"][11]

    xlsx = tmp_path / "readiness.xlsx"
    assert _cli(stack, "report", "--station", station.name, str(xlsx)).exit_code == 0
    assert xlsx.read_bytes()[:2] == b"PK"


def test_a_scheduled_drill_is_started_once_by_the_worker(stack, session):
    group = make_group(session, delays="60,60")
    _nobody_answers(stack, group)
    from hotline.extensions import get_settings
    from hotline.services.drills import schedule_drill

    schedule_drill(
        session, get_settings(stack.app), group.village.station, at=utcnow() + timedelta(seconds=3),
        rule="FREQ=MONTHLY;BYDAY=1MO", created_by="test",
    )
    session.commit()
    # A second worker's sweeps race the first's; the occurrence still starts once.
    stack.wait_for(lambda: _drill_incidents(stack), what="the scheduled drill", timeout=30)
    time.sleep(6)  # several more sweeps
    drills = rows(stack.app, lambda s: list(s.scalars(select(Drill))))
    assert len(drills) == 1 and len(_drill_incidents(stack)) == 1
    schedule = rows(stack.app, lambda s: s.scalar(select(DrillSchedule)))
    assert schedule is not None and schedule.next_run_at is not None and schedule.next_run_at > utcnow()
    assert schedule.next_run_at.astimezone().weekday() in (0, 6)  # a Monday in Shanghai (Sunday night in UTC)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    stack.wait_for(lambda: any(t.startswith(SMS_PREFIX) for t in _texts(stack, leader.phone)), what="drill text")


def test_drills_never_count_in_the_real_statistics(stack, session, console):
    from hotline.services.stations import add_user
    from tests.support.console import PASSWORD, login

    group = make_group(session, delays="60,60")
    leader = next(m for m in group.members if m.role == Role.LEADER)
    _nobody_answers(stack, group, but=(leader.phone,))
    stack.sim.script(leader.phone, answer_after=0.5, press="1")
    assert _cli(stack, "start", "--station", group.village.station.name, "--group", "一组").exit_code == 0
    stack.wait_for(lambda: any(i.acknowledged_at for i in _drill_incidents(stack)), what="the drill answered")

    add_user(session, "wang", PASSWORD, group.village.station.name)
    session.commit()
    login(console, "wang")
    assert console.get("/api/stats").get_json()["total"]["incidents"] == 0
    assert console.get("/api/stats?drill=drill").get_json()["total"]["incidents"] == 1
