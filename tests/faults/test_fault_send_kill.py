"""A worker SIGKILLed with sends in flight side by side, an alert's or a broadcast's, loses and doubles nothing.

The worker sends the rows side by side through the carrier simulator (an
alert's one job each, a broadcast's in one batch). One member's SMS
is slowly refused (the row is left claimed and nobody will say what became of
it: the sweeper must send it again once the dead worker's batch is given up),
another's is slowly accepted (the carrier's own status callback says it went:
sending it again would be a duplicate). A new worker is started after the
kill, as a supervisor would.
"""

from __future__ import annotations

import time

import pytest
from rq import Queue
from sqlalchemy import select

from hotline.models import Notification
from hotline.queues import ALERTS, BROADCASTS
from hotline.services.outbox import BROADCAST, INCIDENT, dispatch, dispatch_broadcast
from tests.factories import make_group
from tests.support.faults import (
    fault_stack,
    own_redis_fixture,  # noqa: F401 (the own_redis fixture)
    people,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sender", [INCIDENT, BROADCAST])
def test_a_worker_killed_with_sends_in_flight_sends_every_row_exactly_once(
    app, environ, session, tmp_path, own_redis, sender
):
    group = make_group(session, delays="600,600")
    caller, others = people(group)
    everyone = [caller, *others]
    refused, accepted = others[1], others[3]
    rows = [
        Notification(
            sender=sender, incident_id=None, member_id=member.id, phone=member.phone, channel="sms",
            purpose="alert" if sender == INCIDENT else "broadcast", body=f"【通知】村民大会 {member.name}",
            status="pending", dedupe_key=f"{sender}-test:{member.phone}",
        )
        for member in everyone
    ]
    session.add_all(rows)
    session.commit()
    ids = [row.id for row in rows]

    with fault_stack(environ, tmp_path, redis_url=own_redis.url) as stack:
        # 20 simulated seconds = 4 s real: time enough to kill the worker inside both requests.
        stack.sim.script(refused.phone, sms_delay=20, sms_delay_times=1, sms_error=20503, sms_error_times=1)
        stack.sim.script(accepted.phone, sms_delay=20, sms_delay_times=1)
        if sender == BROADCAST:
            dispatch_broadcast(Queue(BROADCASTS, connection=own_redis.client()), ids)
        else:
            dispatch(Queue(ALERTS, connection=own_redis.client()), sms_ids=ids)

        slow = {refused.phone, accepted.phone}
        stack.wait_for(lambda: slow <= {e["phone"] for e in stack.sim.events(kind="sms.api_slow")},
                       what="the worker to wait on both slow requests at once")
        stack.workers[0].kill()
        claimed = stack.rows(lambda s: s.scalar(select(Notification.status).where(Notification.phone == refused.phone)))
        assert claimed == "claimed"
        stack.start_worker()

        def done() -> bool:
            statuses = stack.rows(
                lambda s: s.scalars(select(Notification.status).where(Notification.id.in_(ids))).all()
            )
            return all(stack.accepted_sms(m.phone) for m in everyone) and not {"claimed", "pending"} & set(statuses)

        stack.wait_for(done, timeout=90, what="every member's SMS after the kill")
        time.sleep(3)  # anything sent twice would be sent by now: claims time out after 15 s, sweeps run every second

        for member in everyone:
            assert len(stack.accepted_sms(member.phone)) == 1, f"{member.name} got {stack.accepted_sms(member.phone)}"
        attempts = dict(stack.rows(lambda s: s.execute(
            select(Notification.phone, Notification.attempts).where(Notification.id.in_(ids))).all()))
        assert attempts[refused.phone] == 2, "the refused row was sent again"
        assert attempts[accepted.phone] == 1, "the accepted row, whose answer was lost, was not sent again"
