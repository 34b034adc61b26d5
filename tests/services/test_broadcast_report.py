"""A repeating broadcast's report: its sends' figures added up, one line per send, on the console's page, in the
export and on the command line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hotline.csvsafe import csv_bytes
from hotline.extensions import get_settings
from hotline.models import InboundMessage, Notification
from hotline.services import broadcasts as service
from hotline.services.broadcast_report import build, report_table
from tests.factories import message_sid
from tests.support.console import login

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
FIRST = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _repeating(session, settings, group):
    """A daily SMS to the group's village at 18:00, sent twice: the first send reaches all but one number
    (and gets a reply), the second fails two."""
    composed = service.plan(
        session,
        settings,
        group.village.station,
        audience=service.Audience(villages=(group.village_id,)),
        channel="sms",
        kind="free",
        values={"text": "今晚村委会放映防诈骗电影"},
        now=NOON,
    )
    parent, _ids = service.create(session, settings, composed, at=FIRST, rule="FREQ=DAILY;BYHOUR=18", now=NOON)
    session.commit()
    sends = []
    for day in range(2):
        moment = FIRST + timedelta(days=day, seconds=5)
        service.start_due(session, settings, moment)
        session.commit()
        [send] = [b for b in service.children(session, parent) if b not in sends]
        rows = list(session.scalars(select(Notification).where(Notification.broadcast_id == send.id)))
        for row in rows:
            row.status, row.sent_at = "delivered", moment
        for row in rows[: day + 1]:
            row.status, row.failure_reason = "failed", "unreachable"
        send.status, send.finished_at = "done", moment + timedelta(minutes=1)
        sends.append(send)
    session.add(
        InboundMessage(
            message_sid=message_sid(),
            from_phone=rows[-1].phone,
            body="收到",
            handled_as="broadcast_reply",
            received_at=FIRST + timedelta(hours=1),
        )
    )
    session.commit()
    return parent, sends, len(rows)


def test_a_repeating_broadcast_reports_its_sends_added_up_and_one_line_each(app, session, world):
    settings = get_settings(app)
    parent, sends, numbers = _repeating(session, settings, world.group_a)
    report = build(session, parent, "zh", now=FIRST + timedelta(days=2))
    assert report.repeating and [line.broadcast.id for line in report.sends] == [s.id for s in sends]
    assert [(line.numbers, line.reached, line.failed) for line in report.sends] == [
        (numbers, numbers - 1, 1),
        (numbers, numbers - 2, 2),
    ]
    [village] = report.villages
    assert (village.village, village.numbers, village.reached, village.failed) == (
        "东村",
        2 * numbers,
        2 * numbers - 3,
        3,
    )
    assert report.total.reached == 2 * numbers - 3
    assert [f.send.id for f in report.failures if f.send] == [sends[0].id, sends[1].id, sends[1].id]
    assert [r.body for r in report.replies] == ["收到"], "a reply in two sends' windows is listed once"
    # A send's own report is still its own.
    own = build(session, sends[0], "zh", now=FIRST + timedelta(days=2))
    assert not own.repeating and own.sends == [] and own.villages[0].numbers == numbers

    table = report_table(report, "zh", SHANGHAI)
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))
    assert rows[0] == ["各次发送"] and rows[1][:3] == ["发送时间", "群发编号", "状态"]
    assert rows[2] == ["2026-12-07 18:00", str(sends[0].id), "已完成", str(numbers), str(numbers - 1), "1"]
    assert rows[3] == ["2026-12-08 18:00", str(sends[1].id), "已完成", str(numbers), str(numbers - 2), "2"]
    assert rows[4] == ["合计", "", "", str(2 * numbers), str(2 * numbers - 3), "3"]
    assert rows[6] == ["各村送达情况（各次合计）"] and rows[8][:3] == ["东村", str(2 * numbers), str(2 * numbers - 3)]
    failures = rows[rows.index(["失败明细"]) + 1 :]
    assert failures[0][0] == "发送时间" and failures[1][0] == "2026-12-07 18:00" and "无法接通" in failures[1]


def test_the_console_page_export_and_command_line_show_the_combined_report(app, session, world):
    settings = get_settings(app)
    parent, sends, numbers = _repeating(session, settings, world.group_a)
    client = app.test_client()
    login(client, "a_staff")
    page = client.get(f"/broadcasts/{parent.id}").get_data(as_text=True)
    assert 'id="sends"' in page and 'id="totals"' in page and 'id="progress"' not in page
    assert f'href="/broadcasts/{sends[0].id}"' in page and "2026-12-08 18:00" in page
    assert f"{numbers - 2}/{numbers}" in page and "各村送达情况（各次合计）" in page
    assert f'<dd id="reached-total">{2 * numbers - 3}</dd>' in page
    # The newest send first on the page.
    assert page.index(f'href="/broadcasts/{sends[1].id}"') < page.index(f'href="/broadcasts/{sends[0].id}"')
    exported = client.get(f"/broadcasts/{parent.id}/report.csv").get_data().decode("utf-8-sig")
    assert exported.startswith("各次发送") and "合计" in exported
    assert client.get(f"/broadcasts/{parent.id}/report.xlsx").get_data()[:2] == b"PK"
    one_send = client.get(f"/broadcasts/{sends[0].id}").get_data(as_text=True)
    assert 'id="progress"' in one_send and 'id="sends"' not in one_send

    other = app.test_client()
    login(other, "b_staff")
    assert other.get(f"/broadcasts/{parent.id}").status_code == 404
    assert other.get(f"/broadcasts/{parent.id}/report.csv").status_code == 404

    runner = app.test_cli_runner()
    status = runner.invoke(args=["broadcast", "status", str(parent.id)])
    assert status.exit_code == 0, status.output
    assert f"已发送 2 次，合计：号码 {2 * numbers} 个次，已送达/已接听 {2 * numbers - 3}，失败 3" in status.output
    assert f"#{sends[1].id} 2026-12-08 18:00 已完成：已送达/已接听 {numbers - 2}/{numbers}，失败 2" in status.output
    written = runner.invoke(args=["broadcast", "report", str(parent.id)])
    assert written.exit_code == 0 and written.output.lstrip("\ufeff").startswith("各次发送")


def test_a_repeating_broadcast_not_sent_yet_says_so(app, session, world):
    settings = get_settings(app)
    composed = service.plan(
        session,
        settings,
        world.group_a.village.station,
        audience=service.Audience(),
        channel="sms",
        kind="free",
        values={"text": "明早停水"},
        now=NOON,
    )
    parent, _ids = service.create(session, settings, composed, at=FIRST, rule="FREQ=WEEKLY", now=NOON)
    session.commit()
    report = build(session, parent, "zh")
    assert report.repeating and report.sends == [] and report.villages == []
    client = app.test_client()
    login(client, "a_staff")
    assert "还没有发送过。" in client.get(f"/broadcasts/{parent.id}").get_data(as_text=True)
    status = app.test_cli_runner().invoke(args=["broadcast", "status", str(parent.id)])
    assert "还没有发送过" in status.output
