"""Groups larger than one ring group: the first ten ring in the caller's Dial, the rest are called."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rq import Queue
from sqlalchemy import select

from hotline.carriers.base import Capabilities
from hotline.extensions import get_settings
from hotline.models import EventKind, Notification, RingMode, Role, TimelineEvent
from hotline.services.incidents import open_incident, responders
from tests.factories import call_sid, make_group, signed_post

TWILIO = Capabilities(ring_group=True, keypress_calls=True, free_text=True, max_ring_group=10)


def _household(group):
    return next(m for m in group.members if m.role == Role.HOUSEHOLD)


def _calls(session, incident_id: int) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.incident_id == incident_id, Notification.channel == "call")
            .order_by(Notification.id)
        )
    )


def test_the_first_ten_ring_in_the_dial_and_the_rest_are_called(app, session):
    group = make_group(session, households=9)  # 12 members: the caller and 11 to reach
    caller = _household(group)
    order = [m.phone for m in responders(group, caller.phone)]
    assert len(order) == 11

    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid(),
        capabilities=TWILIO,
    )
    session.commit()

    assert [phone for phone, _ in opened.dial_legs] == order[:10]
    calls = _calls(session, opened.incident.id)
    assert [(c.phone, c.via_dial) for c in calls] == [(p, i < 10) for i, p in enumerate(order)]
    assert opened.call_ids == [calls[10].id]
    fan_out = session.scalar(select(TimelineEvent).where(TimelineEvent.kind == EventKind.FAN_OUT))
    assert fan_out is not None
    assert (fan_out.detail["rung"], fan_out.detail["in_dial"], fan_out.detail["called"]) == (11, 10, 1)


def test_the_split_follows_the_carriers_ring_group_limit(app, session):
    group = make_group(session, households=9)
    caller = _household(group)
    small = Capabilities(ring_group=True, keypress_calls=True, free_text=True, max_ring_group=4)

    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid(),
        capabilities=small,
    )
    session.commit()

    assert len(opened.dial_legs) == 4 and len(opened.call_ids) == 7
    assert not set(opened.call_ids) & {n for _, n in opened.dial_legs}


def test_a_group_within_the_limit_is_rung_whole_in_the_dial(app, session):
    group = make_group(session, households=8)  # the caller and exactly 10 others
    caller = _household(group)
    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid(),
        capabilities=TWILIO,
    )
    session.commit()
    assert len(opened.dial_legs) == 10 and opened.call_ids == []


def test_conference_and_sms_alerts_call_everyone_whatever_the_size(app, session):
    group = make_group(session, households=9, ring_mode=RingMode.CONFERENCE)
    caller = _household(group)
    opened = open_incident(
        session, get_settings(app), caller_phone=caller.phone, source="call", call_sid=call_sid(),
        capabilities=TWILIO,
    )
    session.commit()
    assert opened.dial_legs == [] and len(opened.call_ids) == 11


def test_the_callers_twiml_never_holds_more_than_ten_numbers(client, session, redis_conn):
    group = make_group(session, households=9)
    caller = _household(group)
    params = {"CallSid": call_sid(), "From": caller.phone, "To": "+8657188880000"}

    first = signed_post(client, "/twilio/voice", params)
    again = signed_post(client, "/twilio/voice", params)  # Twilio retrying the webhook

    numbers = [n.text for n in ET.fromstring(first.data).findall("Dial/Number")]
    assert numbers == [m.phone for m in responders(group, caller.phone)][:10]
    assert again.data == first.data
    rest = session.scalars(select(Notification).where(Notification.channel == "call", Notification.via_dial.is_(False)))
    queued = set(Queue("alerts", connection=redis_conn).job_ids)
    assert [f"call-{n.id}" in queued for n in rest] == [True]
