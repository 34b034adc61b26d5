"""End to end with Aliyun as the carrier and the simulator playing Aliyun.

The service's Aliyun carrier sends its SDK requests to the simulator, a real
RQ worker places them, and the simulator's phones ring, hear the registered
prompts, press their keys and push Aliyun's receipts back: what ``hotline up``
shows with ``HOTLINE_CARRIER=aliyun`` and no account.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.models import Incident, Notification, Role
from tests.factories import make_group
from tests.support.aliyun_stack import running_aliyun_stack
from tests.support.stack import rows

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_aliyun_stack(environ, tmp_path) as running:
        yield running


def _incident(stack):
    return rows(stack.app, lambda s: s.scalar(select(Incident).order_by(Incident.id.desc())))


def test_a_households_sms_calls_and_texts_everyone_and_a_scripted_1_acknowledges(stack, session):
    group = make_group(session, delays="300,300")
    caller = next(m for m in group.members if m.role == Role.HOUSEHOLD)
    caller.address = "东村12号"
    session.commit()
    others = [m for m in group.members if m.phone != caller.phone]
    responder = others[1]
    for member in others:
        # Everyone answers; only the responder presses 1, the rest hang on without a key.
        stack.sim.script(member.phone, answer_after=1.0, press="1" if member is responder else None)

    stack.sim.send_sms(caller.phone, "救命")
    incident = stack.wait_for(
        lambda: (i := _incident(stack)) is not None and i.status == "acknowledged" and i, what="acknowledgement",
        timeout=40,
    )
    assert incident.source == "sms" and incident.acknowledged_by_id == responder.id

    # Every member got an IvrCall and the alert's registered template, in its words.
    for member in others:
        phone = stack.wait_for(
            lambda m=member: (p := stack.sim.phone(m.phone))["messages"] and p["calls"] and p["calls"][0]["heard"]
            and p,
            what=f"{member.name}'s text and call",
        )
        assert phone["messages"][0]["body"].startswith(f"【联防求助】{caller.name}（一组）")
        heard = phone["calls"][0]["heard"]
        assert heard and heard[0] == f"联防求助。{caller.name}在东村12号需要帮助。接听请按1，不能前往请按2。"
    # The responder pressed 1, heard the caller's number, and is texted the number and address.
    heard = stack.sim.phone(responder.phone)["calls"][0]["heard"]
    assert heard[-1] == f"已确认，求助人电话{caller.phone}，请尽快联系。"
    details = stack.wait_for(
        lambda: [m for m in stack.sim.phone(responder.phone)["messages"] if "您已确认赶往" in m["body"]],
        what="the responder's details",
    )
    assert caller.phone in details[0]["body"] and "东村12号" in details[0]["body"]
    # Receipts came back: every alert text delivered, the responder's call ended.
    def reported(s) -> bool:
        alerts = s.scalars(select(Notification).where(
            Notification.incident_id == incident.id, Notification.purpose == "alert"
        )).all()
        texts = [n.status for n in alerts if n.channel == "sms"]
        call = next(n for n in alerts if n.channel == "call" and n.phone == responder.phone)
        return len(texts) == len(others) and set(texts) == {"delivered"} and call.status == "completed"

    stack.wait_for(lambda: rows(stack.app, reported), what="the receipts")
