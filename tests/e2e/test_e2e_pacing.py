"""The sending rate and the priority of alerts, measured at a carrier, with real ``hotline worker`` processes.

A fake of Twilio's REST API on 127.0.0.1 notes when each request arrives;
the workers send through the real Twilio carrier pointed at it. Nothing here
asserts speed: only what the carrier saw (never more than the limit in any
one second, each row once, alerts before a broadcast queued earlier).
"""

from __future__ import annotations

import os

import pytest
from rq import Queue
from sqlalchemy import select

from hotline.models import Notification
from hotline.queues import ALERTS, BROADCASTS
from hotline.services.outbox import BROADCAST, INCIDENT, dispatch, dispatch_broadcast
from tests.support.fake_carrier import fake_carrier, twilio_env
from tests.support.faults import WorkerProcess, wait_until

pytestmark = pytest.mark.e2e



def _rows(session, sender: str, count: int, first_phone: int) -> list[int]:
    """``count`` pending SMS rows from ``sender``, to numbers of their own, with no incident."""
    rows = [
        Notification(
            sender=sender, incident_id=None, phone=f"+86139{first_phone + i:08d}", channel="sms",
            purpose="alert" if sender == INCIDENT else "broadcast", body=f"{sender} {i}", status="pending",
            dedupe_key=f"{sender}-test:{first_phone + i}",
        )
        for i in range(count)
    ]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def _worker_env(environ: dict[str, str], carrier, **settings: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(environ)
    env.update(twilio_env(carrier))
    env.update(settings)
    return env


def _all_sent(session, ids: list[int]) -> bool:
    session.expire_all()
    statuses = session.scalars(select(Notification.status).where(Notification.id.in_(ids))).all()
    session.commit()
    return all(status == "queued" for status in statuses)


def _start(env: dict[str, str], tmp_path, name: str) -> WorkerProcess:
    worker = WorkerProcess(env, tmp_path / f"{name}.log", name)
    worker.wait_ready()
    return worker


def test_two_workers_share_the_rate_and_send_each_row_once(app, environ, session, redis_conn, tmp_path):
    with fake_carrier(latency=0.2) as carrier:
        env = _worker_env(environ, carrier, HOTLINE_SMS_PER_SECOND="4")
        workers = [_start(env, tmp_path, f"pacing-{n}") for n in (1, 2)]
        try:
            alerts = _rows(session, INCIDENT, 16, 0)
            broadcast = _rows(session, BROADCAST, 8, 100)
            dispatch(Queue(ALERTS, connection=redis_conn), sms_ids=alerts)
            dispatch_broadcast(Queue(BROADCASTS, connection=redis_conn), broadcast, batch=4)

            wait_until(lambda: _all_sent(session, alerts + broadcast), timeout=60, what="every row sent",
                       diagnosis=lambda: "\n".join(w.log()[-2000:] for w in workers))
        finally:
            for worker in workers:
                worker.stop()

        phones = session.scalars(select(Notification.phone).where(Notification.id.in_(alerts + broadcast))).all()
        assert sorted(carrier.sent_to("sms")) == sorted(phones), "each row reached the carrier exactly once"
        assert carrier.busiest_second() <= 4, carrier.timeline()
        for worker in workers:
            assert "Job OK (sms-" in worker.log() or "Job OK (broadcast-" in worker.log(), (
                f"{worker.name} sent nothing, so nothing was shared:\n{worker.log()[-2000:]}"
            )


def test_an_alert_goes_before_a_broadcast_queued_earlier(app, environ, session, redis_conn, tmp_path):
    with fake_carrier(latency=0.2) as carrier:
        broadcast = _rows(session, BROADCAST, 24, 100)
        alert = _rows(session, INCIDENT, 9, 0)
        # The broadcast's backlog is queued first, then a group's alert.
        dispatch_broadcast(Queue(BROADCASTS, connection=redis_conn), broadcast)
        dispatch(Queue(ALERTS, connection=redis_conn), sms_ids=alert)

        env = _worker_env(environ, carrier, HOTLINE_SMS_PER_SECOND="5", HOTLINE_BROADCAST_SHARE="0.8")
        worker = _start(env, tmp_path, "priority")
        try:
            wait_until(lambda: _all_sent(session, alert + broadcast), timeout=60, what="every row sent",
                       diagnosis=worker.log)
        finally:
            worker.stop()

    alert_phones = set(session.scalars(select(Notification.phone).where(Notification.id.in_(alert))).all())
    order = carrier.sent_to("sms")
    assert sorted(order) == sorted(
        session.scalars(select(Notification.phone).where(Notification.id.in_(alert + broadcast))).all()
    ), "each row reached the carrier exactly once"
    last_alert = max(i for i, phone in enumerate(order) if phone in alert_phones)
    broadcast_first = [phone for phone in order[:last_alert] if phone not in alert_phones]
    # At most the broadcast's share of one second (4 of 5) may have gone before the alert arrived.
    assert len(broadcast_first) <= 4, f"{len(broadcast_first)} broadcast texts went before the alert's last"
    assert carrier.busiest_second() <= 5, carrier.timeline()
