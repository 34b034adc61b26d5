"""End to end: a station in mainland China broadcasts by SMS and by a spoken call through Aliyun.

The simulator plays Aliyun and a real worker sends: every number but the one
that texted TD gets the registered broadcast template by SMS and a voice
notice (SingleCallByTts) read out with nothing to press, in the registered
words with the station's name and the sender's values; Aliyun's receipts
come back and the broadcast's progress counts them. A value longer than a
registered template's variable is refused before anything is written.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline.cli import main
from hotline.models import Broadcast, BroadcastOptOut, Notification, Station, utcnow
from tests.factories import make_group
from tests.support.aliyun_stack import SIGN_NAME, running_aliyun_stack
from tests.support.stack import rows

pytestmark = pytest.mark.e2e
QUICK = {"HOTLINE_SWEEP_INTERVAL": "1", "HOTLINE_SWEEP_GRACE": "3"}
WARNING = "冒充客服要求转账的一律是诈骗"


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_aliyun_stack({**environ, **QUICK}, tmp_path) as running:
        yield running


def _cli(stack, *args: str):
    return stack.app.test_cli_runner().invoke(main, ["broadcast", *args], catch_exceptions=False)


def _outside_quiet_hours(stack, station_id: int) -> None:
    """Quiet hours that start two hours from now: the spoken broadcast goes at once, whatever the time of day."""
    from hotline.extensions import db

    now = utcnow().astimezone(ZoneInfo("Asia/Shanghai"))
    hours = f"{(now + timedelta(hours=2)):%H:00}-{(now + timedelta(hours=3)):%H:00}"
    with db.state(stack.app).sessionmaker() as session:
        session.get(Station, station_id).quiet_hours = hours
        session.commit()


def test_an_sms_and_spoken_fraud_warning_reach_everyone_but_who_opted_out(stack, session):
    group = make_group(session, households=3)
    station = group.village.station
    members = list(group.members)
    stopped = members[1]
    for member in members:
        stack.sim.script(member.phone, answer_after=0.5, press="1")  # a notice takes no key, whatever the phone does
    stack.sim.send_sms(stopped.phone, "TD")
    stack.wait_for(lambda: rows(stack.app, lambda s: s.scalar(select(BroadcastOptOut.phone))), what="the opt-out")
    _outside_quiet_hours(stack, station.id)

    # Too long for a TTS variable (20 by default): refused before anything is written, saying what to do.
    refused = stack.app.test_cli_runner().invoke(main, [
        "broadcast", "send", "--station", station.name, "--channel", "both", "--template", "fraud",
        "--var", "content=冒充公检法、快递客服、银行要求您转账到安全账户的电话一律是诈骗", "--yes",
    ])
    assert refused.exit_code != 0
    assert "变量 content 有 31 字" in refused.output and "[voice_broadcast_fraud]" in refused.output
    assert rows(stack.app, lambda s: s.scalar(select(func.count(Broadcast.id)))) == 0

    sent = _cli(stack, "send", "--station", station.name, "--channel", "both", "--template", "fraud",
                "--var", f"content={WARNING}", "--yes")
    assert sent.exit_code == 0, sent.output
    reached = [m for m in members if m.phone != stopped.phone]
    warning = f"反诈预警：{WARNING}。陌生人要您转账汇款一律是诈骗，拿不准请拨打96110。"
    text = f"【{SIGN_NAME}】{station.name}：{warning}回复TD退订"
    notice = f"这里是{station.name}的通知。{warning}"
    for member in reached:
        phone = stack.wait_for(
            lambda m=member: (p := stack.sim.phone(m.phone))["messages"] and p["calls"]
            and p["calls"][0]["status"] == "completed" and p,
            what=f"{member.name}'s text and notice", timeout=40,
        )
        assert [m["body"] for m in phone["messages"]] == [text]
        assert [call["heard"] for call in phone["calls"]] == [[notice, notice]]
        assert not phone["calls"][0]["digits"]
    assert not stack.sim.phone(stopped.phone)["messages"] and not stack.sim.phone(stopped.phone)["calls"]

    # Aliyun's receipts came back: every text delivered, every notice heard to the end.
    def reported(s):
        found = s.execute(select(Notification.channel, Notification.template, Notification.status)
                          .where(Notification.broadcast_id.is_not(None))).all()
        return len(found) == 2 * len(reached) and set(found) == {
            ("sms", "sms_broadcast_fraud", "delivered"), ("call", "voice_broadcast_fraud", "completed"),
        }

    stack.wait_for(lambda: rows(stack.app, reported), what="the receipts", timeout=40)
    status = _cli(stack, "status", str(rows(stack.app, lambda s: s.scalar(select(Broadcast.id)))), "--once")
    assert f"已送达 {2 * len(reached)}" in status.output and "已退订 1" in status.output, status.output
