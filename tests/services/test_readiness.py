"""The readiness report lists the station's groups never drilled, as missing the standard, in its exports too."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.csvsafe import csv_bytes
from hotline.extensions import get_settings
from hotline.models import Answer, Channel, Role
from hotline.services.drills import start_now
from hotline.services.readiness import report_table, station_report
from hotline.services.responses import record_response
from tests.factories import call_sid, make_group

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_groups_never_drilled_are_listed_after_the_ranked_ones_and_miss_the_standard(app, session):
    settings = get_settings(app)
    drilled = make_group(session, village_name="东村", group_name="一组", delays="600,600", prefix="+86138001")
    make_group(session, village_name="西村", group_name="二组", delays="600,600", prefix="+86138002")
    make_group(session, village_name="北村", group_name="三组", delays="600,600", prefix="+86138003")
    make_group(session, station_name="南山派出所", village_name="南村", prefix="+86138004")  # another station's
    station = drilled.village.station
    session.commit()

    report = station_report(session, settings, station)
    assert report.rows == [] and report.group_count == 3 and report.missing_count == 3
    assert [(g.village, g.group) for g in report.never_drilled] == [
        ("东村", "一组"),
        ("北村", "三组"),
        ("西村", "二组"),
    ]

    started = start_now(session, settings, [drilled], now=T0)
    session.commit()
    leader = next(m for m in drilled.members if m.role == Role.LEADER)
    record_response(
        session,
        settings,
        started.drills[0].incident,
        phone=leader.phone,
        channel=Channel.CALL,
        answer=Answer.ACCEPT,
        source_sid=call_sid(),
        now=T0 + timedelta(seconds=30),
    )
    session.commit()
    report = station_report(session, settings, station)
    assert [row.readiness.group for row in report.rows] == ["一组"] and not report.rows[0].misses_standard
    assert [g.group for g in report.never_drilled] == ["三组", "二组"]
    assert report.missing == [] and report.missing_count == 2 and report.group_count == 3

    for language, word, no in (("zh", "未演练", "否"), ("en", "not drilled yet", "no")):
        table = report_table(report, language, SHANGHAI)
        assert len(table) == 4 and all(len(row) == len(table[0]) for row in table)
        assert table[1][2] == "一组" and table[1][-1] in ("是", "yes")
        assert [row[:4] for row in table[2:]] == [["", "北村", "三组", word], ["", "西村", "二组", word]]
        assert [row[-1] for row in table[2:]] == [no, no]
    rows = list(csv.reader(io.StringIO(csv_bytes(report_table(report, "zh", SHANGHAI)).decode("utf-8-sig"))))
    assert rows[3][1:4] == ["西村", "二组", "未演练"]


def test_a_station_s_own_standard_decides_who_misses_it(app, session):
    settings = get_settings(app)
    group = make_group(session, delays="600,600")
    started = start_now(session, settings, [group], now=T0)
    session.commit()
    leader = next(m for m in group.members if m.role == Role.LEADER)
    record_response(
        session,
        settings,
        started.drills[0].incident,
        phone=leader.phone,
        channel=Channel.CALL,
        answer=Answer.ACCEPT,
        source_sid=call_sid(),
        now=T0 + timedelta(seconds=150),
    )
    session.commit()
    station = group.village.station
    assert station_report(session, settings, station).standard == settings.drill_standard_seconds == 180
    assert not station_report(session, settings, station).rows[0].misses_standard
    station.drill_standard_seconds = 120
    session.commit()
    report = station_report(session, settings, station)
    assert report.standard == 120 and report.rows[0].misses_standard and report.missing_count == 1
