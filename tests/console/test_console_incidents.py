"""The live board, the incident list with filters and exports, the incident page, closing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select

from hotline.console.queries import IncidentFilter
from hotline.models import Incident, TimelineEvent, User, utcnow
from tests.support.console import at, login, make_incident


@pytest.fixture
def signed_in(console, world):
    login(console, "a_staff")
    return console


def test_board_shows_open_incidents_with_elapsed_time_responders_and_level(signed_in, session, world):
    now = utcnow()
    waiting = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=90), level=1)
    answered = make_incident(
        session, world.group_a2, opened_at=now - timedelta(seconds=30), accept_after=12, decline_after=5
    )
    make_incident(session, world.group_a, opened_at=now - timedelta(hours=3), accept_after=10, closed=True)

    data = signed_in.get("/board.json").get_json()
    rows = {row["id"]: row for row in data["incidents"]}
    assert set(rows) == {waiting.id, answered.id}  # the closed one is off the board
    assert 88 <= rows[waiting.id]["elapsed_seconds"] <= 100
    assert rows[waiting.id]["escalation_level"] == 1
    assert rows[waiting.id]["level_label"] == "民警"
    assert rows[waiting.id]["responders"] == []
    responders = rows[answered.id]["responders"]
    assert [(r["answer"], r["seconds"]) for r in responders] == [("decline", 5), ("accept", 12)]
    assert responders[1]["name"] == "王组长"

    page = signed_in.get("/board").get_data(as_text=True)
    assert "值班看板" in page and "王组长 · 接警 · 电话 · +0:12" in page
    assert 'data-source="/board.json"' in page  # the page refreshes itself from the JSON


def test_board_says_so_when_nothing_is_open(signed_in):
    assert "当前没有未结警情" in signed_in.get("/board").get_data(as_text=True)


@pytest.fixture
def history(session, world):
    """Five incidents over two weeks in station A (Beijing = UTC+8)."""
    return [
        make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=20),
        make_incident(session, world.group_a, opened_at=at("2026-03-03 02:00:00"), level=2, closed=True),
        make_incident(session, world.group_a2, opened_at=at("2026-03-04 03:00:00"), accept_after=40, drill=True),
        make_incident(session, world.group_a2, opened_at=at("2026-03-09 15:59:59"), accept_after=90),
        # 16:00 UTC on the 9th is already the 10th in Beijing.
        make_incident(session, world.group_a, opened_at=at("2026-03-09 16:00:00")),
    ]


def _ids(client, query: str) -> list[int]:
    return [item["id"] for item in client.get(f"/api/incidents?{query}").get_json()["items"]]


def test_incident_list_filters(signed_in, world, history):
    one, two, three, four, five = (incident.id for incident in history)
    assert _ids(signed_in, "") == [five, four, three, two, one]
    assert _ids(signed_in, f"village={world.group_a2.village_id}") == [four, three]
    assert _ids(signed_in, f"group={world.group_a.id}") == [five, two, one]
    assert _ids(signed_in, "status=closed") == [two]
    assert _ids(signed_in, "status=open") == [five]
    assert _ids(signed_in, "drill=drill") == [three]
    assert _ids(signed_in, "drill=real") == [five, four, two, one]
    # Dates are Beijing calendar days, both ends included.
    assert _ids(signed_in, "from=2026-03-03&to=2026-03-09") == [four, three, two]
    assert _ids(signed_in, "from=2026-03-10") == [five]
    # Nonsense filters are refused with a page that says which one is wrong (never a 500).
    for nonsense in ("status=bogus", "from=yesterday", "group=x", "village=²", "drill=maybe"):
        refused = signed_in.get(f"/incidents?{nonsense}")
        assert refused.status_code == 400, nonsense
        assert nonsense.split("=")[0] in refused.get_data(as_text=True)
    assert _ids(signed_in, "status=&group=") == [five, four, three, two, one]

    page = signed_in.get(f"/incidents?group={world.group_a.id}").get_data(as_text=True)
    assert "共 3 起警情" in page


def test_filter_round_trips_through_query_arguments():
    flt = IncidentFilter.from_args({"village": "3", "status": "open", "from": "2026-01-02", "drill": "real"})
    assert IncidentFilter.from_args(flt.to_args()) == flt


def test_incident_list_is_paginated(signed_in, session, world):
    start = at("2026-01-01 00:00:00")
    for index in range(53):
        make_incident(session, world.group_a, opened_at=start + timedelta(hours=index))
    first = signed_in.get("/api/incidents").get_json()
    assert (first["total"], first["pages"], len(first["items"])) == (53, 2, 50)
    second = signed_in.get("/api/incidents?page=2").get_json()
    assert len(second["items"]) == 3
    page = signed_in.get("/incidents?page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in page and 'rel="prev"' in page


def test_csv_export_holds_the_filtered_incidents(signed_in, world, history):
    response = signed_in.get(f"/incidents.csv?group={world.group_a2.id}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["警情编号", "报警时间", "村", "小组"]
    assert [row[0] for row in rows[1:]] == [str(history[3].id), str(history[2].id)]
    four = rows[1]
    assert four[1] == "2026-03-09 23:59:59"  # Beijing time
    assert four[2:4] == ["西村", "二组"]
    assert four[5] == "138 0030 0001"  # as dialled at home, kept as text by Excel
    assert four[7] == "否" and rows[2][7] == "是"  # drill column
    assert four[10] == "90.0"


def test_csv_export_defuses_spreadsheet_formulas(signed_in, session, world):
    incident = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), closed=True)
    incident.close_note = "=HYPERLINK(\"http://x\")"
    session.commit()
    rows = list(csv.reader(io.StringIO(signed_in.get("/incidents.csv").data.decode("utf-8-sig"))))
    assert rows[1][-1].startswith("'=")


def test_xlsx_export_holds_the_same_rows(signed_in, world, history):
    response = signed_in.get("/incidents.xlsx?drill=real")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "警情编号"
    assert [row[0] for row in rows[1:]] == [history[4].id, history[3].id, history[1].id, history[0].id]
    assert rows[-1][10] == 20  # seconds to first response, as a number


def test_english_export_headings(signed_in, history):
    signed_in.get("/board?lang=en")
    rows = list(csv.reader(io.StringIO(signed_in.get("/incidents.csv").data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Incident", "Opened", "Village"]


def test_incident_page_shows_timeline_alerts_answers_and_escalations(signed_in, session, world):
    incident = make_incident(
        session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=75, decline_after=8, level=1,
        failed_phones=("+8613800100002",),
    )
    page = signed_in.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert f"警情 #{incident.id}" in page
    # Timeline with seconds since the call.
    assert "+0:00" in page and "收到求助电话" in page
    assert "+0:08" in page and "短信答复" in page
    assert "+1:00" in page and "升级" in page
    assert "+1:15" in page and "电话接警" in page
    assert "09:00:00" in page  # opened at 01:00 UTC, shown in Beijing time
    # Who was alerted, by which channel, with delivery status.
    assert "村民2" in page and "失败" in page and "已送达" in page and "通话结束" in page
    # Who answered and when.
    assert "拒绝" in page and "接警" in page and "+1:15" in page
    # The close form is offered while the incident is open.
    assert "结案" in page

    detail = signed_in.get(f"/api/incidents/{incident.id}").get_json()
    assert [event["seconds"] for event in detail["timeline"]] == [0.0, 0.0, 8.0, 60.0, 75.0, 75.0]
    assert detail["first_response_seconds"] == 75.0
    assert {n["status"] for n in detail["notifications"]} == {"delivered", "failed", "completed"}
    assert [r["answer"] for r in detail["responses"]] == ["decline", "accept"]


def test_closing_an_incident_records_outcome_note_who_and_when(signed_in, session, world):
    incident = make_incident(session, world.group_a, opened_at=utcnow() - timedelta(minutes=10), accept_after=30)
    before = utcnow()
    response = signed_in.post(
        f"/incidents/{incident.id}/close", data={"outcome": "false_alarm", "note": "老人误按"}
    )
    assert response.status_code == 302
    session.expire_all()
    closed = session.get(Incident, incident.id)
    user = session.scalar(select(User).where(User.username == "a_staff"))
    assert closed.status == "closed"
    assert closed.outcome == "false_alarm"
    assert closed.close_note == "老人误按"
    assert closed.closed_by_id == user.id
    assert before <= closed.closed_at <= utcnow()
    event = session.scalar(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "closed")
    )
    assert event.detail["by"] == "a_staff"

    page = signed_in.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "误报" in page and "老人误按" in page and "a_staff" in page
    assert f'action="/incidents/{incident.id}/close"' not in page
    assert incident.id not in [row["id"] for row in signed_in.get("/board.json").get_json()["incidents"]]


def test_closing_twice_keeps_the_first_outcome(signed_in, session, world):
    incident = make_incident(session, world.group_a, opened_at=utcnow())
    signed_in.post(f"/incidents/{incident.id}/close", data={"outcome": "misdial"})
    again = signed_in.post(f"/incidents/{incident.id}/close", data={"outcome": "resolved"}, follow_redirects=True)
    assert "该警情已结案" in again.get_data(as_text=True)
    session.expire_all()
    assert session.get(Incident, incident.id).outcome == "misdial"


def test_closing_with_an_unknown_outcome_is_refused(signed_in, session, world):
    incident = make_incident(session, world.group_a, opened_at=utcnow())
    response = signed_in.post(f"/incidents/{incident.id}/close", data={"outcome": "whatever"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Incident, incident.id).status == "open"
