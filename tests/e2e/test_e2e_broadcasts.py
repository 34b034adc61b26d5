"""End to end: broadcasts from the command line on the simulator with a real worker.

Texts end with how to unsubscribe and reach each number once; a number that
texted TD gets nothing more from broadcasts; spoken broadcasts are read out
with nothing to press, and wait out the station's quiet hours; progress and
the report count what the phones saw, failures with their reasons and the
replies; a broadcast can be paused, resumed and cancelled, and one planned
for later is started by the worker.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.cli import main
from hotline.models import Broadcast, InboundMessage, Notification, Role, Station, utcnow
from tests.factories import make_group
from tests.support.stack import rows, running_stack

pytestmark = pytest.mark.e2e
STOP_LINE = "回复TD退订"
# Sweeps every second; texts paced two a second, so there is time to pause.
QUICK = {"HOTLINE_SWEEP_INTERVAL": "1", "HOTLINE_SWEEP_GRACE": "3", "HOTLINE_SMS_PER_SECOND": "2"}


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack({**environ, **QUICK}, tmp_path) as running:
        yield running


def _cli(stack, *args: str, **kwargs):
    return stack.app.test_cli_runner().invoke(main, ["broadcast", *args], catch_exceptions=False, **kwargs)


def _texts(stack, phone: str) -> list[str]:
    return [m["body"] for m in stack.sim.phone(phone)["messages"]]


def _heard(stack, phone: str) -> list[str]:
    return [said for call in stack.sim.phone(phone)["calls"] for said in call["heard"]]


def _broadcast(stack) -> Broadcast:
    return rows(stack.app, lambda s: s.scalars(select(Broadcast).order_by(Broadcast.id.desc())).first())


def _statuses(stack, broadcast_id: int, channel: str = "sms") -> list[str]:
    return rows(stack.app, lambda s: list(s.scalars(select(Notification.status).where(
        Notification.broadcast_id == broadcast_id, Notification.channel == channel))))


def _set_quiet_hours(stack, station_id: int, hours: str | None) -> None:
    from hotline.extensions import db

    with db.state(stack.app).sessionmaker() as session:
        session.get(Station, station_id).quiet_hours = hours
        session.commit()


def test_sms_and_spoken_broadcast_with_an_opt_out_quiet_hours_a_reply_and_the_report(stack, session, tmp_path):
    group = make_group(session)
    station = group.village.station
    members = list(group.members)
    stopped, failing, replying = members[1], members[2], members[3]
    stack.sim.send_sms(stopped.phone, "TD")
    stack.sim.script(failing.phone, undeliverable=True)
    for member in members:
        if member.phone != failing.phone:
            stack.sim.script(member.phone, answer_after=0.3)
    now = utcnow().astimezone(ZoneInfo("Asia/Shanghai"))
    quiet = f"{(now - timedelta(hours=1)):%H:00}-{(now + timedelta(hours=2)):%H:00}"
    _set_quiet_hours(stack, station.id, quiet)  # now is in the station's quiet hours

    result = _cli(stack, "send", "--station", station.name, "--channel", "both", "--yes",
                  "--text", "今晚停电检修，请注意用电安全")
    assert result.exit_code == 0, result.output
    broadcast = _broadcast(stack)
    reached = [m for m in members if m.phone != stopped.phone]
    stack.wait_for(lambda: all(_texts(stack, m.phone) for m in reached if m.phone != failing.phone),
                   what="every text delivered")
    for member in reached:
        if member.phone != failing.phone:
            [text] = _texts(stack, member.phone)
            assert text.startswith(f"【{station.name}】今晚停电检修") and text.endswith(STOP_LINE)
    assert _texts(stack, stopped.phone) == [] and _heard(stack, stopped.phone) == []
    time.sleep(3)  # sweeps come every second: none may place a call in quiet hours
    assert all(not stack.sim.phone(m.phone)["calls"] for m in members), "no call in quiet hours"
    assert set(_statuses(stack, broadcast.id, "call")) == {"held"}

    # The morning: the quiet hours are over, and the worker's sweeps let the calls go.
    _set_quiet_hours(stack, station.id, f"{(now + timedelta(hours=3)):%H:00}-{(now + timedelta(hours=4)):%H:00}")
    from hotline.extensions import db

    with db.state(stack.app).sessionmaker() as other:
        other.get(Broadcast, broadcast.id).calls_after = utcnow()
        other.commit()
    spoken = f"这里是{station.name}的通知。今晚停电检修，请注意用电安全。"
    stack.wait_for(lambda: all(_heard(stack, m.phone) for m in reached if m.phone != failing.phone),
                   what="every call answered and read out", timeout=30)
    assert _heard(stack, replying.phone) == [spoken], "read out once; nothing to press"

    stack.sim.send_sms(replying.phone, "收到，谢谢")
    stack.wait_for(lambda: rows(stack.app, lambda s: s.scalar(select(InboundMessage.handled_as).where(
        InboundMessage.from_phone == replying.phone))) == "broadcast_reply", what="the reply recorded")
    stack.wait_for(lambda: "undelivered" in _statuses(stack, broadcast.id), what="the undeliverable text")
    stack.wait_for(lambda: _broadcast(stack).status == "done", what="the broadcast done", timeout=30)

    status = _cli(stack, "status", str(broadcast.id))
    assert "已完成" in status.output and "已退订 1" in status.output, status.output
    report = tmp_path / "report.csv"
    assert _cli(stack, "report", str(broadcast.id), str(report)).exit_code == 0
    table = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert table[2][:2] == ["东村", "8"], table
    assert any(failing.phone in row and "未送达" in row for row in table), table
    assert any(replying.phone in row and "收到，谢谢" in row for row in table), table


def test_pause_resume_cancel_and_a_planned_broadcast(stack, session, environ):
    group = make_group(session)
    station = group.village.station
    households = [m for m in group.members if m.role == Role.HOUSEHOLD]
    result = _cli(stack, "send", "--station", station.name, "--channel", "sms", "--role", "求助户",
                  "--template", "fraud", "--var", "content=冒充客服退款的都是诈骗", "--yes")
    assert result.exit_code == 0, result.output
    broadcast = _broadcast(stack)
    stack.wait_for(lambda: sum(bool(_texts(stack, m.phone)) for m in households) >= 1, what="the first text")
    assert "已暂停" in _cli(stack, "pause", str(broadcast.id)).output
    time.sleep(1)
    sent = sum(bool(_texts(stack, m.phone)) for m in households)
    time.sleep(3)
    assert sum(bool(_texts(stack, m.phone)) for m in households) == sent < len(households), "nothing more while paused"
    assert "held" in _statuses(stack, broadcast.id)
    assert "已继续发送" in _cli(stack, "resume", str(broadcast.id)).output
    stack.wait_for(lambda: all(len(_texts(stack, m.phone)) == 1 for m in households), what="the rest after resuming",
                   timeout=30)

    at = (utcnow() + timedelta(seconds=3)).astimezone(ZoneInfo("Asia/Shanghai"))
    planned = _cli(stack, "send", "--station", station.name, "--channel", "sms", "--group", "一组", "--role",
                   "officer", "--text", "明早八点村委会开会", "--at", f"{at:%Y-%m-%d %H:%M:%S}", "--yes")
    assert "已计划" in planned.output, planned.output
    cancelled = _cli(stack, "send", "--station", station.name, "--channel", "sms", "--role", "leader", "--text",
                     "这条不会发出", "--at", f"{at:%Y-%m-%d %H:%M:%S}", "--yes")
    cancelled_id = _broadcast(stack).id
    assert "已取消" in _cli(stack, "cancel", str(cancelled_id)).output, cancelled.output
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    leader = next(m for m in group.members if m.role == Role.LEADER)
    stack.wait_for(lambda: any("明早八点" in t for t in _texts(stack, officer.phone)), what="the planned broadcast",
                   timeout=20)
    time.sleep(2)
    assert not any("不会发出" in t for t in _texts(stack, leader.phone))
