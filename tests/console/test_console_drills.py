"""The drills page of the console: the station's drill standard, set with CSRF, logged and kept to the station;
groups never drilled in the readiness report and its export."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from hotline.models import AuditLog, Station
from tests.support.console import STATION_A, STATION_B, csrf_token, login


def _station(session, name: str) -> Station:
    session.expire_all()
    station = session.scalar(select(Station).where(Station.name == name))
    assert station is not None
    return station


def test_station_staff_set_the_drill_standard(app, session, world):
    client = app.test_client()
    login(client, "a_staff")
    page = client.get("/drills/").get_data(as_text=True)
    assert 'id="standard"' in page and "180 秒（默认）" in page
    token = csrf_token(page)

    assert client.post("/drills/standard", data={"standard_seconds": "120"}).status_code == 400
    assert _station(session, STATION_A).drill_standard_seconds is None

    saved = client.post("/drills/standard", data={"csrf_token": token, "standard_seconds": " 120 "})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#standard")
    assert _station(session, STATION_A).drill_standard_seconds == 120
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "演练标准：120 秒。" in page and 'value="120"' in page and "120 秒内" in page

    for bad in ("2分钟", "5", "7200"):
        answer = client.post("/drills/standard", data={"csrf_token": token, "standard_seconds": bad})
        page = client.get(answer.headers["Location"]).get_data(as_text=True)
        assert f"演练标准应为 10 到 3600 之间的整数秒；“{bad}”不符合。" in page
    assert _station(session, STATION_A).drill_standard_seconds == 120

    client.post("/drills/standard", data={"csrf_token": token, "standard_seconds": ""})
    assert _station(session, STATION_A).drill_standard_seconds is None
    entries = list(session.scalars(select(AuditLog).where(AuditLog.entity == "station").order_by(AuditLog.id)))
    assert [(e.actor, e.action, e.before, e.after) for e in entries] == [
        ("a_staff", "drill_standard", {"drill_standard_seconds": None}, {"drill_standard_seconds": 120}),
        ("a_staff", "drill_standard", {"drill_standard_seconds": 120}, {"drill_standard_seconds": None}),
    ]
    log = client.get("/directory/audit").get_data(as_text=True)
    assert "修改演练标准" in log and f"{STATION_A}：默认 → 120 秒" in log and f"{STATION_A}：120 秒 → 默认" in log


def test_another_station_s_drill_standard_is_not_found(app, session, world):
    station_a = _station(session, STATION_A)
    other = app.test_client()
    login(other, "b_staff")
    token = csrf_token(other.get("/drills/").get_data(as_text=True))
    answer = other.post(
        f"/drills/standard?station={station_a.id}", data={"csrf_token": token, "standard_seconds": "60"}
    )
    assert answer.status_code == 404
    assert _station(session, STATION_A).drill_standard_seconds is None
    other.post("/drills/standard", data={"csrf_token": token, "standard_seconds": "60"})
    assert _station(session, STATION_B).drill_standard_seconds == 60
    assert (
        session.scalar(select(AuditLog.station_id).where(AuditLog.entity == "station"))
        == _station(session, STATION_B).id
    )


def test_groups_never_drilled_show_in_the_report_and_its_export(console, session, world):
    login(console, "a_staff")
    page = console.get("/drills/").get_data(as_text=True)
    assert 'id="readiness"' in page and page.count('class="misses not-drilled"') == 2
    assert "2 个小组未达标，其中 2 个未演练" in page and "东村 / 一组" in page and "西村 / 二组" in page
    assert console.post("/drills/start", data={"scope": "group", "group": world.group_a.id}).status_code == 302
    page = console.get("/drills/").get_data(as_text=True)
    assert page.count('class="misses not-drilled"') == 1 and "2 个小组未达标，其中 1 个未演练" in page
    rows = list(csv.reader(io.StringIO(console.get("/drills/report.csv").get_data().decode("utf-8-sig"))))
    assert [row[1:4] for row in rows[1:]] == [["东村", "一组", rows[1][3]], ["西村", "二组", "未演练"]]
    assert rows[2][0] == "" and rows[2][-1] == "否"
    assert console.get("/drills/report.xlsx").get_data()[:2] == b"PK"
