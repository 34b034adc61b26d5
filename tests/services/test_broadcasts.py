"""Broadcasts without a worker: composing and counting, opting out of broadcasts only, quiet hours, pausing,
schedules, the report, the command line's confirmation, the console and the JSON API with their scoping,
and the sending rate a broadcast may take."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select

from hotline.extensions import get_settings
from hotline.models import (
    Broadcast,
    BroadcastOptOut,
    InboundMessage,
    Member,
    Notification,
    Role,
    User,
)
from hotline.pacing import Priority, SendRate
from hotline.queues import BROADCASTS
from hotline.services import broadcasts as service
from hotline.services.broadcast_optouts import opt_out
from hotline.services.broadcast_report import build, report_table
from hotline.services.segments import count_segments
from hotline.services.stations import issue_api_token
from tests.factories import make_group, message_sid, signed_post
from tests.support.console import STATION_A, STATION_B, csrf_token, login

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
ZH_STOP = "回复TD退订"


def _plan(session, settings, group, channel="sms", now=NOON, **audience):
    return service.plan(
        session, settings, group.village.station, audience=service.Audience(**audience), channel=channel,
        kind="fraud", values={"content": "冒充公检法、快递客服、银行要求您转账到安全账户的电话一律是诈骗"}, now=now,
    )


def _rows(session, broadcast_id):
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.broadcast_id == broadcast_id)))


def test_plan_removes_duplicates_and_opt_outs_and_counts_parts_and_time(app, session):
    settings = get_settings(app)
    group = make_group(session)
    other = make_group(session, village_name="西村", prefix="+86139002")
    officer = next(m for m in group.members if m.role == Role.OFFICER)
    session.add(Member(group_id=other.id, name=officer.name, phone=officer.phone, role=Role.OFFICER))
    households = [m for m in group.members if m.role == Role.HOUSEHOLD]
    opt_out(session, households[0].phone, "TD")
    households[1].opted_out = True  # the carrier refuses its texts (21610): called, not texted
    households[2].sms_capable = False
    session.commit()

    composed = _plan(session, settings, group, channel="both")
    found = composed.recipients
    assert found.matched == 19 and found.duplicates == 1 and found.opted_out == 1 and found.no_sms == 2
    assert found.numbers == 17 and len(found.sms) == 15 and len(found.calls) == 17
    assert households[0].phone not in {m.phone for m in found.sms + found.calls}
    assert composed.texts.sms.startswith(f"【{group.village.station.name}】反诈预警：")
    assert composed.texts.sms.endswith(ZH_STOP)
    assert ZH_STOP not in composed.texts.voice and composed.texts.voice.startswith("这里是")
    assert composed.texts.segments == count_segments(composed.texts.sms) == 2
    assert composed.segments_total == 30
    # 15 texts at 10 a second, 17 calls at 5: with no emergency about, the calls take 4 s.
    assert composed.seconds == 4

    only_households = _plan(session, settings, group, roles=("household",), villages=(group.village_id,))
    assert {m.role for m in only_households.recipients.sms} == {Role.HOUSEHOLD}


def test_composing_names_what_is_missing_or_wrong(app, session):
    settings = get_settings(app)
    station = make_group(session).village.station
    with pytest.raises(service.BroadcastError, match="kind"):
        service.compose(settings, station, "weather", {"content": "暴雨"})
    with pytest.raises(service.BroadcastError, match="没有这些变量：colour"):
        service.compose(settings, station, "fraud", {"content": "x", "colour": "red"})
    with pytest.raises(service.BroadcastError, match="内容过长"):
        service.compose(settings, station, "free", {"text": "很长" * 200})
    bulletin = service.compose(settings, station, "bulletin", {"content": "昨日辖区发生盗窃案2起"}, NOON)
    assert "每日案情通报（12月7日）：昨日辖区发生盗窃案2起。" in bulletin.sms


def test_td_opts_out_of_broadcasts_only_and_start_opts_back_in(app, client, session):
    group = make_group(session)
    member = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    for body in ("TD", "退订"):
        signed_post(client, "/twilio/sms", {"MessageSid": message_sid(), "From": member.phone,
                                            "To": "+8657188880000", "Body": body})
    session.expire_all()
    assert session.scalar(select(BroadcastOptOut.phone)) == member.phone
    assert session.get(Member, member.id).opted_out is False, "an unsubscribe never stops emergency alerts"
    composed = _plan(session, get_settings(app), group)
    assert member.phone not in {m.phone for m in composed.recipients.sms}

    signed_post(client, "/twilio/sms", {"MessageSid": message_sid(), "From": member.phone,
                                        "To": "+8657188880000", "Body": "订阅"})
    session.expire_all()
    assert session.scalar(select(func.count(BroadcastOptOut.id))) == 0
    handled = session.scalars(select(InboundMessage.handled_as).order_by(InboundMessage.id)).all()
    assert handled == ["opt_out", "opt_out", "opt_in"]


def test_a_short_acknowledgement_after_a_broadcast_is_a_reply_and_a_call_for_help_is_not(app, session):
    from hotline.services.inbound_sms import handle_inbound_sms

    settings = get_settings(app)
    group = make_group(session)
    broadcast, _ids = service.create(session, settings, _plan(session, settings, group), now=NOON)
    session.execute(Notification.__table__.update().values(status="delivered", sent_at=NOON))
    session.commit()
    household = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    later = NOON + timedelta(hours=1)
    reply = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=household.phone,
                               body="好的，知道了", now=later)
    assert reply.handled_as == "broadcast_reply"
    help_call = handle_inbound_sms(session, settings, message_sid=message_sid(), from_phone=household.phone,
                                   body="救命，有人撬门", now=later)
    assert help_call.handled_as == "incident"
    session.commit()
    report = build(session, broadcast, "zh", now=later)
    assert [r.body for r in report.replies] == ["好的，知道了", "救命，有人撬门"]


def test_quiet_hours_hold_calls_until_the_morning_and_texts_go_at_once(app, session):
    settings = get_settings(app)
    group = make_group(session)
    broadcast, ids = service.create(session, settings, _plan(session, settings, group, "both", NIGHT), now=NIGHT)
    session.commit()
    rows = _rows(session, broadcast.id)
    assert {r.status for r in rows if r.channel == "call"} == {service.HELD}
    assert {r.id for r in rows if r.channel == "sms"} == set(ids)
    morning = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert broadcast.calls_after == morning
    assert service.release_calls(session, settings, morning - timedelta(minutes=1)) == []
    released = service.release_calls(session, settings, morning + timedelta(seconds=5))
    session.commit()
    assert sorted(released) == sorted(r.id for r in rows if r.channel == "call")

    station = group.village.station
    station.quiet_hours = "12:00-13:00"  # a station's own hours; noon is now quiet
    session.commit()
    assert service.quiet_until(settings, station, NOON) == NOON + timedelta(hours=1)


def test_pause_holds_resume_sends_and_cancel_stops(app, session):
    settings = get_settings(app)
    group = make_group(session)
    broadcast, ids = service.create(session, settings, _plan(session, settings, group), now=NOON)
    session.commit()
    service.pause(session, broadcast)
    session.commit()
    assert {r.status for r in _rows(session, broadcast.id)} == {service.HELD}
    assert service.progress(session, broadcast).held == len(ids)
    with pytest.raises(service.BroadcastError, match="不在发送中"):
        service.pause(session, broadcast)
    assert sorted(service.resume(session, settings, broadcast, NOON)) == sorted(ids)
    session.commit()
    first = _rows(session, broadcast.id)[0]
    first.status = "delivered"
    session.commit()
    assert service.cancel(session, broadcast) == len(ids) - 1
    session.commit()
    done = service.progress(session, broadcast)
    assert (done.delivered, done.canceled, done.queued) == (1, len(ids) - 1, 0)


def test_the_summary_says_calls_wait_for_the_morning_when_the_broadcast_starts_in_quiet_hours(app, session):
    settings = get_settings(app)
    group = make_group(session)

    def waits(now, at=None):
        return service.plan(
            session, settings, group.village.station, audience=service.Audience(), channel="voice", kind="fraud",
            values={"content": "谨防电信诈骗"}, now=now, at=at,
        ).calls_wait_until

    morning = datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, the default quiet hours' end
    assert waits(NOON) is None
    assert waits(NIGHT) == morning
    assert waits(NOON, at=NIGHT) == morning, "planned for 22:00 at noon: its calls wait"
    assert waits(NIGHT, at=morning + timedelta(hours=2)) is None, "planned at night for 10:00: nothing waits"

def test_a_repeating_broadcast_starts_a_send_each_time_once(app, session):
    settings = get_settings(app)
    group = make_group(session)
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    parent, ids = service.create(
        session, settings, _plan(session, settings, group), at=at, rule="FREQ=DAILY", now=NOON
    )
    session.commit()
    assert ids == [] and parent.next_run_at == at and parent.status == "scheduled"
    started = service.start_due(session, settings, at + timedelta(seconds=3))
    session.commit()
    assert service.start_due(session, settings, at + timedelta(seconds=4)) == []
    [child] = service.children(session, parent)
    assert child.status == "sending" and len(started) == len(_rows(session, child.id)) > 0
    assert parent.next_run_at == at + timedelta(days=1)
    with pytest.raises(service.BroadcastError, match="计划时间已过"):
        service.create(session, settings, _plan(session, settings, group), at=NOON - timedelta(hours=1), now=NOON)


TOO_OFTEN = ["FREQ=SECONDLY", "FREQ=MINUTELY;INTERVAL=30", "FREQ=HOURLY", "FREQ=DAILY;BYHOUR=8,20"]
TOO_OFTEN += ["FREQ=HOURLY;INTERVAL=23"]


@pytest.mark.parametrize("rule", TOO_OFTEN)
def test_a_broadcast_repeated_more_often_than_once_a_day_is_refused(app, session, rule):
    settings = get_settings(app)
    group = make_group(session)
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    with pytest.raises(service.BroadcastError, match="至少要隔一天") as refused:
        service.create(session, settings, _plan(session, settings, group), at=at, rule=rule, now=NOON)
    assert "FREQ=DAILY" in str(refused.value), "it says what to write instead"
    session.rollback()
    assert session.scalar(select(func.count(Broadcast.id))) == 0
    for daily in ("FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=HOURLY;INTERVAL=24"):
        service.create(session, settings, _plan(session, settings, group), at=at, rule=daily, now=NOON)


def test_the_api_refuses_a_repeat_every_second_in_chinese(app, session, world, redis_conn):
    user = session.scalar(select(User).where(User.username == "a_staff"))
    bearer = {"Authorization": f"Bearer {issue_api_token(user)}"}
    session.commit()
    body = {"channel": "sms", "text": "今晚村委会放映防诈骗电影", "at": "2099-01-01T18:00", "confirm": True}
    refused = app.test_client().post("/api/broadcasts", json={**body, "repeat": "FREQ=SECONDLY"}, headers=bearer)
    assert refused.status_code == 400 and "至少要隔一天" in refused.json["message"]
    assert session.scalar(select(func.count(Broadcast.id))) == 0
    daily = app.test_client().post("/api/broadcasts", json={**body, "repeat": "FREQ=DAILY"}, headers=bearer)
    assert daily.status_code == 201, daily.json


def test_the_api_shows_a_repeating_broadcast_s_sends_and_their_progress(app, session, world, redis_conn):
    user = session.scalar(select(User).where(User.username == "a_staff"))
    bearer = {"Authorization": f"Bearer {issue_api_token(user)}"}
    session.commit()
    body = {"channel": "sms", "text": "今晚村委会放映防诈骗电影", "at": "2099-01-01T18:00", "repeat": "FREQ=DAILY",
            "confirm": True}
    made = app.test_client().post("/api/broadcasts", json=body, headers=bearer)
    assert made.status_code == 201, made.json
    shown = app.test_client().get(f"/api/broadcasts/{made.json['id']}", headers=bearer).json
    assert (shown["sends_total"], shown["sends"]) == (0, [])

    parent = session.get(Broadcast, made.json["id"])
    due = parent.next_run_at
    for day in range(2):
        assert service.start_due(session, get_settings(app), due + timedelta(days=day, seconds=3))
        session.commit()
    [newest, oldest] = service.children(session, parent)
    delivered = _rows(session, oldest.id)[0]
    delivered.status = "delivered"
    session.commit()

    shown = app.test_client().get(f"/api/broadcasts/{parent.id}", headers=bearer).json
    assert shown["sends_total"] == 2
    assert [send["id"] for send in shown["sends"]] == [newest.id, oldest.id]
    assert shown["sends"][1]["progress"]["delivered"] == 1
    assert shown["sends"][0]["progress"]["total"] == shown["sends"][1]["progress"]["total"] > 0
    assert shown["progress"]["total"] == 0, "the repeating broadcast sends nothing itself"
    listed = app.test_client().get("/api/broadcasts", headers=bearer).json["items"]
    assert {item["parent_id"] for item in listed if item["id"] != parent.id} == {parent.id}

def test_the_report_counts_villages_failures_and_replies_as_csv(app, session):
    settings = get_settings(app)
    group = make_group(session)
    other = make_group(session, village_name="西村", prefix="+86139002", households=1)
    broadcast, _ids = service.create(session, settings, _plan(session, settings, group), now=NOON)
    session.commit()
    rows = _rows(session, broadcast.id)
    for row in rows:
        row.status, row.sent_at = "delivered", NOON
    rows[0].status, rows[0].failure_reason, rows[0].error_code = "failed", "unreachable", 30003
    session.add(InboundMessage(message_sid=message_sid(), from_phone=rows[1].phone, body="=HYPERLINK(1)",
                               handled_as="broadcast_reply", received_at=NOON + timedelta(minutes=5)))
    session.commit()
    report = build(session, broadcast, "zh", now=NOON + timedelta(hours=1))
    table = report_table(report, "zh", service.ZoneInfo("Asia/Shanghai"))
    from hotline.csvsafe import csv_bytes

    text = csv_bytes(table).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    villages = {row[0]: row for row in parsed[2:4]}
    assert {"东村", "西村"} == set(villages) and villages["东村"][1:3] == ["9", "8"]
    assert any(row[:3] == ["东村", rows[0].recipient_name, rows[0].phone] and "无法接通" in row for row in parsed)
    assert "'=HYPERLINK(1)" in text, "a reply is escaped in the CSV"
    assert other.village.name in villages


def test_send_on_the_command_line_asks_first_and_prints_the_id(app, session, redis_conn):
    group = make_group(session)
    runner = app.test_cli_runner()
    args = ["broadcast", "send", "--station", STATION_A, "--channel", "sms", "--template", "fraud",
            "--var", "content=冒充客服退款的都是诈骗"]
    refused = runner.invoke(args=args, input="n\n")
    assert refused.exit_code != 0 and "接收号码：9 个" in refused.output and ZH_STOP in refused.output
    assert session.scalar(select(func.count(Broadcast.id))) == 0

    sent = runner.invoke(args=[*args, "--role", "求助户", "--village", "东村", "--yes"])
    assert sent.exit_code == 0, sent.output
    broadcast = session.scalar(select(Broadcast))
    assert sent.output.startswith(f"群发 #{broadcast.id} 已开始发送：6 个号码")
    rows = _rows(session, broadcast.id)
    assert {(r.sender, r.purpose, r.incident_id) for r in rows} == {("broadcast", "broadcast", None)}
    assert Queue(BROADCASTS, connection=redis_conn).count == 1, "one batch on the broadcasts queue"

    status = runner.invoke(args=["broadcast", "status", str(broadcast.id)])
    assert "待发送 6" in status.output
    assert runner.invoke(args=["broadcast", "pause", str(broadcast.id)]).exit_code == 0
    assert runner.invoke(args=["broadcast", "cancel", str(broadcast.id)]).output.strip().endswith("不再发送）")
    assert group is not None


def test_console_preview_confirm_and_scoping(app, session, world, redis_conn):
    client = app.test_client()
    login(client, "a_staff")
    page = client.get("/broadcasts/")
    assert page.status_code == 200
    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), "kind": "weather", "warning": "暴雨",
            "content": "今晚有大到暴雨，请远离河道", "channel": "both", "village": str(world.group_a.village_id)}
    preview = client.post("/broadcasts/preview", data=form)
    html = preview.get_data(as_text=True)
    assert 'class="phone-frame"' in html and "暴雨预警：今晚有大到暴雨，请远离河道。" in html and ZH_STOP in html
    assert session.scalar(select(func.count(Broadcast.id))) == 0, "a preview writes nothing"
    sent = client.post("/broadcasts/send", data={**form, "confirm": "1"})
    assert sent.status_code == 302
    broadcast = session.scalar(select(Broadcast))
    assert broadcast.station.name == STATION_A and broadcast.channel == "both"
    detail = client.get(f"/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert 'id="queued"' in detail and "<progress" in detail
    assert client.get(f"/broadcasts/{broadcast.id}/report.csv").status_code == 200
    assert client.get("/broadcasts/opt-outs").status_code == 200

    other = app.test_client()
    login(other, "b_staff")
    assert other.get(f"/broadcasts/{broadcast.id}").status_code == 404
    assert other.post(f"/broadcasts/{broadcast.id}/cancel", data={
        "csrf_token": csrf_token(other.get("/broadcasts/").get_data(as_text=True))}).status_code == 404


def test_api_composes_confirms_lists_and_keeps_to_the_station(app, session, world, redis_conn):
    user = session.scalar(select(User).where(User.username == "a_staff"))
    token = issue_api_token(user)
    city = session.scalar(select(User).where(User.username == "city"))
    city_token = issue_api_token(city)
    session.commit()
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"channel": "sms", "text": "今晚村委会放映防诈骗电影", "roles": ["household"]}
    asked = client.post("/api/broadcasts", json=body, headers=bearer)
    assert asked.status_code == 200 and asked.json["confirmed"] is False
    assert asked.json["summary"]["recipients"] == 8 and asked.json["summary"]["sms_text"].endswith(ZH_STOP)
    made = client.post("/api/broadcasts", json={**body, "confirm": True}, headers=bearer)
    assert made.status_code == 201, made.json
    assert made.json["station"] == STATION_A and made.json["progress"]["queued"] == 8
    assert [b["id"] for b in client.get("/api/broadcasts", headers=bearer).json["items"]] == [made.json["id"]]
    assert client.get(f"/api/broadcasts/{made.json['id']}", headers=bearer).json["status"] == "sending"
    refused = client.post("/api/broadcasts", json={**body, "station": STATION_B, "confirm": True}, headers=bearer)
    assert refused.status_code == 404, "station staff broadcast to their own station only"
    city_made = client.post("/api/broadcasts", json={**body, "station": STATION_B, "confirm": True},
                            headers={"Authorization": f"Bearer {city_token}"})
    assert city_made.status_code == 201 and city_made.json["station"] == STATION_B
    other = app.test_client()
    login(other, "b_staff")
    assert other.get(f"/api/broadcasts/{made.json['id']}").status_code == 404
    assert other.post("/api/broadcasts", json=body).status_code == 400, "a cookie POST needs the CSRF token"
    assert client.post("/api/broadcasts", json={"channel": "fax", "text": "x"}, headers=bearer).status_code == 400


def test_a_broadcast_alone_takes_the_whole_rate_and_keeps_to_its_share_while_an_emergency_is_under_way(redis_conn):
    alone = SendRate(redis_conn, "sms:alone", 5, bulk_share=0.6, window=1.0)
    for _ in range(5):
        assert alone.acquire(Priority.BULK) is not None, "no emergency about: the whole limit, evenly spaced"
    assert alone.try_acquire(Priority.URGENT) > 0, "the first alert of a quiet spell waits for a slot to leave"
    assert alone.try_acquire(Priority.BULK) > 0, "and the broadcast waits for the alert"

    rate = SendRate(redis_conn, "sms:share", 5, bulk_share=0.6, window=0.5, emergency_hold=0.6)
    assert rate.try_acquire(Priority.URGENT) == 0.0  # an emergency is under way
    for _ in range(2):
        assert rate.acquire(Priority.BULK) is not None
    assert rate.try_acquire(Priority.BULK) > 0, "3 of 5 a window while the emergency is under way"
    assert [rate.try_acquire(Priority.URGENT) for _ in range(2)] == [0.0, 0.0], "its next texts go at once"
    time.sleep(0.65)  # the emergency's hold has lapsed and the window has emptied
    for _ in range(4):
        assert rate.acquire(Priority.BULK) is not None, "the broadcast has the whole rate again"
