"""The broadcasts pages of the console: the station's quiet hours, set with CSRF, logged and kept to the station."""

from __future__ import annotations

from sqlalchemy import select

from hotline.models import AuditLog, Station
from tests.support.console import STATION_A, STATION_B, csrf_token, login


def _station(session, name: str) -> Station:
    session.expire_all()
    station = session.scalar(select(Station).where(Station.name == name))
    assert station is not None
    return station


def test_station_staff_see_and_set_their_quiet_hours(app, session, world):
    client = app.test_client()
    login(client, "a_staff")
    page = client.get("/broadcasts/").get_data(as_text=True)
    assert 'id="quiet-hours"' in page and "21:00-08:00（默认）" in page
    token = csrf_token(page)
    station = _station(session, STATION_A)

    refused = client.post("/broadcasts/quiet-hours", data={"quiet_hours": "22:00-07:00"})
    assert refused.status_code == 400, "no CSRF token, no change"
    assert _station(session, STATION_A).quiet_hours is None

    # Typed on a Chinese keyboard: full-width colons, spaces round the dash.
    saved = client.post("/broadcasts/quiet-hours", data={"csrf_token": token, "quiet_hours": "22：00 - 7:30"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#quiet-hours")
    assert _station(session, STATION_A).quiet_hours == "22:00-07:30"
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "免打扰时段：22:00-07:30。" in page and 'value="22:00-07:30"' in page

    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "station"))
    assert entry is not None and (entry.actor, entry.station_id, entry.action) == ("a_staff", station.id, "quiet_hours")
    assert entry.before == {"quiet_hours": None} and entry.after == {"quiet_hours": "22:00-07:30"}
    log = client.get("/directory/audit").get_data(as_text=True)
    assert "修改免打扰时段" in log and f"{STATION_A}：默认 → 22:00-07:30" in log

    bad = client.post("/broadcasts/quiet-hours", data={"csrf_token": token, "quiet_hours": "25:00-08:00"})
    page = client.get(bad.headers["Location"]).get_data(as_text=True)
    assert "免打扰时段应写成两个时间，如 21:00-08:00；“25:00-08:00”不符合。" in page
    assert _station(session, STATION_A).quiet_hours == "22:00-07:30"

    # The same value again logs nothing; empty goes back to the default.
    client.post("/broadcasts/quiet-hours", data={"csrf_token": token, "quiet_hours": "22:00-07:30"})
    client.post("/broadcasts/quiet-hours", data={"csrf_token": token, "quiet_hours": " "})
    assert _station(session, STATION_A).quiet_hours is None
    entries = list(session.scalars(select(AuditLog).where(AuditLog.entity == "station").order_by(AuditLog.id)))
    assert [e.after for e in entries] == [{"quiet_hours": "22:00-07:30"}, {"quiet_hours": None}]


def test_quiet_hours_stay_within_the_station(app, session, world):
    station_a = _station(session, STATION_A)
    other = app.test_client()
    login(other, "b_staff")
    token = csrf_token(other.get("/broadcasts/").get_data(as_text=True))
    assert other.get(f"/broadcasts/?station={station_a.id}").status_code == 404
    answer = other.post(
        f"/broadcasts/quiet-hours?station={station_a.id}", data={"csrf_token": token, "quiet_hours": "20:00-09:00"}
    )
    assert answer.status_code == 404
    assert _station(session, STATION_A).quiet_hours is None
    other.post("/broadcasts/quiet-hours", data={"csrf_token": token, "quiet_hours": "20:00-09:00"})
    assert _station(session, STATION_B).quiet_hours == "20:00-09:00"
    assert _station(session, STATION_A).quiet_hours is None
    # Station A's staff do not read station B's change in their log; the city-wide user may set either.
    mine = app.test_client()
    login(mine, "a_staff")
    assert "20:00-09:00" not in mine.get("/directory/audit").get_data(as_text=True)
    city = app.test_client()
    login(city, "city")
    token = csrf_token(city.get("/broadcasts/").get_data(as_text=True))
    city.post(
        f"/broadcasts/quiet-hours?station={station_a.id}", data={"csrf_token": token, "quiet_hours": "23:00-06:00"}
    )
    assert _station(session, STATION_A).quiet_hours == "23:00-06:00"


def test_the_command_line_sets_quiet_hours_and_logs_the_change(app, session, world):
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["broadcast", "quiet-hours", "--station", STATION_A])
    assert shown.exit_code == 0 and "21:00-08:00（默认）" in shown.output
    changed = runner.invoke(args=["broadcast", "quiet-hours", "--station", STATION_A, "21:30～7:00"])
    assert changed.exit_code == 0 and "21:30-07:00" in changed.output
    bad = runner.invoke(args=["broadcast", "quiet-hours", "--station", STATION_A, "晚上九点"])
    assert bad.exit_code != 0 and "应写成 21:00-08:00" in bad.output
    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "station"))
    assert entry is not None and entry.actor == "cli" and entry.after == {"quiet_hours": "21:30-07:00"}
