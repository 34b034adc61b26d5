"""A station's escalation delays: at most an hour a level, and a stored huge delay never stops an alert.

``99999999999999`` seconds was once accepted; the next level's date then
overflowed after the incident was committed, so nothing was queued for it and
the sweeper failed on it every pass.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline.extensions import get_settings
from hotline.models import Incident, Notification, Role, Station
from hotline.services.escalation import next_check
from hotline.services.stations import StationError, configure_station, parse_delays
from tests.factories import call_sid, make_group, signed_post

HOTLINE = "+8657188880000"
AN_HOUR = 3600


def test_delays_up_to_an_hour_a_level_are_read():
    assert parse_delays("60,180") == (60, 180)
    assert parse_delays(f" 30 , {AN_HOUR} ") == (30, AN_HOUR)


@pytest.mark.parametrize("text", ["99999999999999", "60,3601", "9" * 400])
def test_a_delay_longer_than_an_hour_is_refused_in_chinese(text):
    with pytest.raises(StationError) as refused:
        parse_delays(text)
    message = str(refused.value)
    assert "3600 秒（1 小时）" in message and "60,180" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("soon", "整秒数"),
        ("60,-5", "整秒数"),
        ("0,60", "大于 0 秒"),
        ("６０", "整秒数"),
        (",".join(["60"] * 11), "最多 10 级"),
    ],
)
def test_other_bad_delays_say_why_in_chinese(text, fragment):
    with pytest.raises(StationError, match=fragment):
        parse_delays(text)


def test_a_refused_delay_leaves_the_station_as_it_was(session):
    station = configure_station(session, "城关派出所", escalation_delays="30,90")
    session.commit()
    with pytest.raises(StationError):
        configure_station(session, "城关派出所", escalation_delays="99999999999999")
    session.rollback()
    assert session.get(Station, station.id).escalation_delays == "30,90"


def test_a_huge_delay_saved_before_the_bound_still_escalates_within_the_hour(app, client, session, redis_conn):
    group = make_group(session, delays="99999999999999,99999999999999")
    session.commit()
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    response = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone, "To": HOTLINE})
    assert response.status_code == 200
    session.expire_all()
    incident = session.scalar(select(Incident))
    assert session.scalar(select(Notification).where(Notification.incident_id == incident.id)) is not None
    due = next_check(get_settings(app), incident)
    assert due is not None and due.due <= incident.opened_at + timedelta(seconds=AN_HOUR)
