"""End to end: a group of twelve in simultaneous mode, through the simulator and a real worker.

Twilio rings at most ten numbers in one ``<Dial>`` (and the simulator refuses
more), so the first ten responders ring in the caller's call and the rest are
called by the worker, screened the same way.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.models import Incident, Notification, Response, Role
from hotline.services.incidents import responders
from tests.factories import make_group
from tests.support.stack import rows, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack(environ, tmp_path) as running:
        yield running


def _incident(stack):
    return rows(stack.app, lambda s: s.scalar(select(Incident).order_by(Incident.id.desc())))


def test_a_member_past_the_tenth_is_called_and_accepting_acknowledges(stack, session):
    group = make_group(session, households=9, delays="120,120")  # twelve members
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    reach = responders(group, caller.phone)
    in_dial, called = reach[:10], reach[10:]
    assert len(called) == 1
    # Nobody in the Dial answers; the member called by REST accepts.
    stack.sim.script(called[0].phone, answer_after=1.0, press="1")

    sid = stack.sim.dial(caller.phone)
    incident = stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.status == "acknowledged" and i,
        what="acknowledgement by the member called by REST",
    )

    call = stack.sim.call(sid)
    assert call["errors"] == [], "the caller's TwiML is one the carrier accepts"
    assert sorted(leg["to"] for leg in call["legs"]) == sorted(m.phone for m in in_dial)
    rest_calls = [c for c in stack.sim.calls() if c["direction"] == "outbound-api"]
    assert {c["to"] for c in rest_calls} == {m.phone for m in called}

    assert incident.acknowledged_by_id == called[0].id
    responses = rows(stack.app, lambda s: s.scalars(select(Response)).all())
    assert [(r.phone, r.channel, r.answer) for r in responses] == [(called[0].phone, "call", "accept")]
    # Not in the caller's call, so not bridged: told the caller's number instead.
    def heard() -> list[str]:
        return [text for c in stack.sim.phone(called[0].phone)["calls"] for text in c["heard"]]

    stack.wait_for(lambda: any(caller.phone in text for text in heard()), what=f"the caller's number in {heard()}")

    via_dial = rows(
        stack.app,
        lambda s: s.execute(
            select(Notification.phone, Notification.via_dial).where(
                Notification.channel == "call", Notification.purpose == "alert"
            )
        ).all(),
    )
    assert sorted(via_dial) == sorted([(m.phone, True) for m in in_dial] + [(m.phone, False) for m in called])
