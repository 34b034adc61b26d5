"""The broadcasts pages of the console: the station's quiet hours, set with CSRF, logged and kept to the station;
channels, repeat rules and numbers in words on the broadcast and drill pages and the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline.console.present import broadcast_channel_text, repeat_text
from hotline.extensions import get_settings
from hotline.models import AuditLog, Broadcast, Drill, Station, utcnow
from hotline.services import broadcasts as service
from hotline.services.drills import schedule_drill, start_now
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


# --- codes in words ---------------------------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
SIX_PM = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Monday 7 December, 18:00 in Shanghai


@pytest.mark.parametrize(
    ("rule", "chinese", "english"),
    [
        ("FREQ=DAILY", "每天18:00", "every day at 18:00"),
        ("FREQ=DAILY;BYHOUR=18", "每天18:00", "every day at 18:00"),
        ("FREQ=DAILY;BYHOUR=8,18;BYMINUTE=30", "每天08:30、18:30", "every day at 08:30, 18:30"),
        ("FREQ=DAILY;INTERVAL=2", "每2天18:00", "every 2 days at 18:00"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "每个工作日18:00", "every working day at 18:00"),
        ("FREQ=WEEKLY", "每周一18:00", "every Monday at 18:00"),
        ("FREQ=WEEKLY;BYDAY=WE,MO", "每周一、周三18:00", "every Monday, Wednesday at 18:00"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SA", "每2周的周六18:00", "every 2 weeks on Saturday at 18:00"),
        ("FREQ=MONTHLY;BYDAY=1MO;BYHOUR=10", "每月第一个周一10:00", "every month on the first Monday at 10:00"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "每月最后一个周五18:00", "every month on the last Friday at 18:00"),
        ("FREQ=MONTHLY", "每月7日18:00", "every month on day 7 at 18:00"),
        ("FREQ=MONTHLY;INTERVAL=3", "每3个月的7日18:00", "every 3 months on day 7 at 18:00"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "每月1、15日18:00", "every month on day 1, 15 at 18:00"),
        ("FREQ=YEARLY", "每年12月7日18:00", "every year on 12/7 at 18:00"),
        ("FREQ=DAILY;COUNT=5", "每天18:00，共5次", "every day at 18:00, 5 times in all"),
        (
            "RRULE:FREQ=DAILY;UNTIL=20261231T000000Z",
            "每天18:00，至2026-12-31止",
            "every day at 18:00, until 2026-12-31",
        ),
        # What the words cannot say is shown as written, never dropped.
        ("FREQ=HOURLY", "FREQ=HOURLY", "FREQ=HOURLY"),
        ("FREQ=MONTHLY;BYDAY=MO", "FREQ=MONTHLY;BYDAY=MO", "FREQ=MONTHLY;BYDAY=MO"),
        ("FREQ=DAILY;BYSETPOS=1", "FREQ=DAILY;BYSETPOS=1", "FREQ=DAILY;BYSETPOS=1"),
        ("FREQ=DAILY;BYHOUR=25", "FREQ=DAILY;BYHOUR=25", "FREQ=DAILY;BYHOUR=25"),
    ],
)
def test_repeat_rules_read_as_words(rule, chinese, english):
    assert repeat_text(rule, SIX_PM, SHANGHAI, "zh") == chinese
    assert repeat_text(rule, SIX_PM, SHANGHAI, "en") == english


def test_no_rule_and_no_first_run():
    assert repeat_text(None, SIX_PM, SHANGHAI, "zh") == ""
    assert repeat_text("FREQ=DAILY", None, SHANGHAI, "zh") == "每天"
    assert repeat_text("FREQ=DAILY;BYHOUR=18", None, SHANGHAI, "zh") == "每天18:00"
    assert [broadcast_channel_text(code, "zh") for code in ("sms", "voice", "both")] == [
        "短信",
        "语音电话",
        "短信和语音电话",
    ]


def _plan(
    session,
    settings,
    station,
    channel="voice",
    text="今晚七点村委会放映防诈骗电影，请各家各户准时到场观看，带好小板凳，不见不散，散场后注意安全",
):
    return service.plan(
        session, settings, station, audience=service.Audience(), channel=channel, kind="free", values={"text": text}
    )


def test_pages_show_channels_and_repeats_in_words_and_numbers_as_read(app, session, world):
    settings = get_settings(app)
    station = world.group_a.village.station
    voice, _ids = service.create(session, settings, _plan(session, settings, station))
    daily, _ids = service.create(
        session,
        settings,
        _plan(session, settings, station, "both"),
        at=utcnow() + timedelta(days=1),
        rule="FREQ=MONTHLY;BYDAY=1MO",
    )
    start_now(session, settings, [world.group_a])
    session.commit()
    schedule_drill(
        session, settings, station, at=datetime(2030, 1, 7, 10, 0, tzinfo=SHANGHAI), rule="FREQ=MONTHLY;BYDAY=1MO"
    )
    drill = session.scalar(select(Drill))
    for row in drill.incident.notifications:
        row.status, row.failure_reason = "failed", "unreachable"
    session.commit()
    client = app.test_client()
    login(client, "a_staff")

    listing = client.get("/broadcasts/").get_data(as_text=True)
    assert "FREQ=" not in listing and "每月第一个周一" in listing
    assert (
        "语音电话" in listing and "短信和语音电话" in listing and ">voice<" not in listing and ">both<" not in listing
    )
    # Each text is cut short (the spoken one for a spoken broadcast), never shown whole.
    for broadcast, text in ((voice, voice.voice_text), (daily, daily.sms_text)):
        [row] = [row for row in listing.split("<tr>") if f'href="/broadcasts/{broadcast.id}"' in row]
        assert len(text) > 45 and text[:20] in row and text not in row and "..." in row
    assert voice.sms_text[-6:] not in listing.split(f'href="/broadcasts/{voice.id}"')[1].split("</tr>")[0]

    page = client.get(f"/broadcasts/{daily.id}").get_data(as_text=True)
    assert "FREQ=" not in page and "短信和语音电话" in page and ">both<" not in page
    local = daily.starts_at.astimezone(SHANGHAI)
    assert f'<span id="repeat">每月第一个周一{local:%H:%M}</span>' in page

    drills = client.get("/drills/").get_data(as_text=True)
    assert "FREQ=" not in drills and "每月第一个周一10:00" in drills
    assert "+86" not in drills and "138 0010 0000" in drills  # the leader, not reached, as people write it


def test_the_command_line_summary_says_the_channel_in_words(app, session, world):
    runner = app.test_cli_runner()
    args = ["broadcast", "send", "--station", STATION_A, "--channel", "both", "--text", "明早停水"]
    refused = runner.invoke(args=args, input="n\n")
    assert "渠道：短信和语音电话" in refused.output and "渠道：both" not in refused.output
    planned = runner.invoke(args=[*args, "--at", "2030-01-07 18:00", "--repeat", "FREQ=DAILY", "--yes"])
    assert planned.exit_code == 0, planned.output
    assert planned.output.strip().endswith("已计划：2030-01-07 18:00，重复：每天18:00")
    broadcast_id = planned.output.split("#", 1)[1].split(" ", 1)[0]
    status = runner.invoke(args=["broadcast", "status", broadcast_id])
    assert "短信和语音电话" in status.output and "重复：每天18:00" in status.output
    assert "\t短信和语音电话\t" in runner.invoke(args=["broadcast", "list"]).output


# --- several roles -----------------------------------------------------------------------------------------------


def test_the_form_sends_to_several_roles_at_once(app, session, world, redis_conn):
    client = app.test_client()
    login(client, "a_staff")
    page = client.get("/broadcasts/").get_data(as_text=True)
    assert page.count('type="checkbox" name="role"') == 4
    form = {"csrf_token": csrf_token(page), "kind": "free", "content": "明早八点村委会开会", "channel": "sms"}
    leaders_and_officers = {**form, "role": ["leader", "officer"]}
    preview = client.post("/broadcasts/preview", data=leaders_and_officers).get_data(as_text=True)
    # Station A: two groups, each with one leader and one officer.
    assert '<dd id="recipients">4</dd>' in preview
    assert preview.count('name="role" value="leader"') == 1 and preview.count('name="role" value="officer"') == 1
    sent = client.post("/broadcasts/send", data={**leaders_and_officers, "confirm": "1"})
    assert sent.status_code == 302
    broadcast = session.scalar(select(Broadcast))
    assert broadcast.audience["roles"] == ["leader", "officer"]
    assert "（联防组长、社区民警）" in client.get(sent.headers["Location"]).get_data(as_text=True)
    everyone = client.post("/broadcasts/preview", data=form).get_data(as_text=True)
    assert '<dd id="recipients">' in everyone and '<dd id="recipients">4</dd>' not in everyone
    assert client.post("/broadcasts/preview", data={**form, "role": ["leader", "mayor"]}).status_code == 400
