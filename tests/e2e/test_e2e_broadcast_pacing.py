"""A 300-number broadcast from the command line, measured at a fake of Twilio's REST API, with a real worker.

At ``HOTLINE_SMS_PER_SECOND=10`` the carrier never sees more than 10 texts in
any one second, the broadcast has the whole rate until an emergency comes and
then keeps to its share of it, each number gets it once and the number that texted TD gets nothing; an emergency
call placed meanwhile has its group texted at once, before the broadcast
goes on. The only test of this size: the rest use a handful of numbers.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select

from hotline.app import create_app
from hotline.models import Broadcast, Group, Member, Notification, Role, Station, Village
from tests.factories import call_sid, make_group, message_sid, signed_post
from tests.support.fake_carrier import fake_carrier, twilio_env
from tests.support.faults import WorkerProcess, wait_until

pytestmark = pytest.mark.e2e
RATE = 10
SHARE = 8  # HOTLINE_BROADCAST_SHARE's default, 0.8 of RATE, while an emergency is under way
TOKEN = "fake-carrier-token"


def _villagers(session, count: int) -> list[str]:
    """``count`` households in 城关派出所, ten to a group."""
    station = Station(name="城关派出所", duty_phone="+861088880000")
    session.add(station)
    session.flush()
    phones = []
    for index in range(count):
        if index % 100 == 0:
            village = Village(station_id=station.id, name=f"第{index // 100 + 1}村")
            session.add(village)
            session.flush()
        if index % 10 == 0:
            group = Group(village_id=village.id, name=f"{index // 10 + 1}组")
            session.add(group)
            session.flush()
        phone = f"+86137{index:08d}"
        session.add(Member(group_id=group.id, name=f"村民{index}", phone=phone, role=Role.HOUSEHOLD))
        phones.append(phone)
    session.commit()
    return phones


def _all_handed_over(session, broadcast_id: int) -> bool:
    session.expire_all()
    statuses = session.scalars(select(Notification.status).where(Notification.broadcast_id == broadcast_id)).all()
    session.commit()
    return bool(statuses) and all(status == "queued" for status in statuses)


def test_a_300_number_broadcast_keeps_the_rate_skips_the_opted_out_and_lets_an_emergency_go_first(
    app, environ, session, redis_conn, tmp_path
):
    phones = _villagers(session, 301)
    emergency = make_group(session, station_name="南山派出所", village_name="南村", prefix="+86138009")
    caller = next(m for m in emergency.members if m.role == Role.HOUSEHOLD)
    group_phones = {m.phone for m in emergency.members} - {caller.phone}
    stopped = phones[150]

    with fake_carrier(latency=0.2) as carrier:
        settings = {**environ, **twilio_env(carrier), "HOTLINE_SMS_PER_SECOND": str(RATE)}
        web = create_app(settings)
        web.config["TESTING"] = True
        client = web.test_client()
        opted = signed_post(client, "/twilio/sms", {"MessageSid": message_sid(), "From": stopped,
                                                    "To": "+8657188880000", "Body": "TD"}, token=TOKEN)
        assert opted.status_code == 200
        worker = WorkerProcess({**os.environ, **settings}, tmp_path / "worker.log", "broadcast-300")
        try:
            worker.wait_ready()
            result = web.test_cli_runner().invoke(args=[
                "broadcast", "send", "--station", "城关派出所", "--channel", "sms", "--yes",
                "--template", "fraud", "--var", "content=冒充公检法要求转账的电话一律是诈骗",
            ])
            assert result.exit_code == 0, result.output
            broadcast = session.scalar(select(Broadcast))
            assert result.output.startswith(f"群发 #{broadcast.id} 已开始发送：300 个号码")

            wait_until(lambda: len(carrier.sent_to("sms")) >= 100, timeout=20, what="a third of the broadcast",
                       diagnosis=worker.log)
            called_at = time.time()
            answered = signed_post(client, "/twilio/voice", {"CallSid": call_sid(), "From": caller.phone,
                                                             "To": "+8657188880000"}, token=TOKEN)
            assert answered.status_code == 200
            wait_until(lambda: _all_handed_over(session, broadcast.id), timeout=60, what="the whole broadcast",
                       diagnosis=lambda: worker.log()[-3000:] + carrier.timeline())
        finally:
            worker.stop()

    arrivals = sorted(carrier.arrivals, key=lambda a: a.at)
    sent = [a.to for a in arrivals if a.kind == "sms"]
    broadcast_phones = set(phones) - {stopped}
    assert sorted(p for p in sent if p in broadcast_phones) == sorted(broadcast_phones), "each number exactly once"
    assert stopped not in sent, "the number that texted TD gets no broadcast"
    assert carrier.busiest_second() <= RATE, carrier.timeline()
    # Alone, a broadcast may use the whole rate (tests/workers/test_pacing.py shows the grants); how
    # much of it a worker reaches depends on the machine, so it is not asserted here.

    alert = [a for a in arrivals if a.to in group_phones]
    assert {a.to for a in alert} == group_phones, "every member of the calling group is texted"
    first_alert, last_alert = min(a.at for a in alert), max(a.at for a in alert)
    # Broadcast texts let through before the call may still arrive: at most one second's worth.
    after_call = [a for a in arrivals if called_at < a.at < last_alert and a.to in broadcast_phones]
    assert len(after_call) <= RATE, f"{len(after_call)} broadcast texts went after the call, before its group's"
    between = [a for a in arrivals if first_alert < a.at < last_alert and a.to in broadcast_phones]
    assert len(between) <= 2, f"{len(between)} broadcast texts went between the alert's texts"
    # Once the emergency is under way the broadcast keeps to its share, leaving the rest to the emergency.
    after_alert = [a.at for a in arrivals if a.to in broadcast_phones and a.at > last_alert + 1.1]
    assert after_alert and _busiest_second(after_alert) <= SHARE, "the broadcast keeps to its share"


def _busiest_second(times: list[float]) -> int:
    """The most of ``times`` within any one second."""
    times = sorted(times)
    return max((sum(1 for later in times[i:] if later - at < 1.0) for i, at in enumerate(times)), default=0)
