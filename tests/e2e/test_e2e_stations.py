"""End to end: the number a stranger dials decides whose duty line rings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.models import Incident, Station
from tests.factories import make_group
from tests.support.stack import HOTLINE_NUMBER, rows, running_stack

pytestmark = pytest.mark.e2e

NUMBER_B = "+8657188880002"
DUTY_A, DUTY_B = "+861088880000", "+861088881111"
FALLBACK = "+861066660000"
STRANGER = "+8613999999999"


@pytest.fixture
def environ(environ):
    return {**environ, "HOTLINE_FALLBACK_PHONE": FALLBACK}


@pytest.fixture
def stack(environ, app, tmp_path):
    with running_stack(environ, tmp_path) as running:
        yield running


@pytest.fixture
def two_stations(session):
    make_group(session, station_name="城关派出所", duty_phone=DUTY_A, prefix="+86138001", delays="120,120")
    make_group(session, station_name="南山派出所", duty_phone=DUTY_B, prefix="+86138002", delays="120,120")
    return {s.name: s for s in session.scalars(select(Station))}


def _rang(stack, phone: str) -> bool:
    return bool(stack.sim.phone(phone)["calls"])


def test_a_stranger_dialling_station_bs_number_reaches_bs_duty_line(stack, session, two_stations):
    b = two_stations["南山派出所"]
    b.hotline_number = NUMBER_B
    session.commit()
    stack.sim.script(DUTY_B, answer_after=1.0, talk_for=1.0)

    sid = stack.sim.dial(STRANGER, to=NUMBER_B)

    stack.wait_for(lambda: _rang(stack, DUTY_B), what="station B's duty line ringing")
    call = stack.sim.wait_for_call(sid, timeout=20)
    assert [leg["to"] for leg in call["legs"]] == [DUTY_B]
    assert not _rang(stack, DUTY_A) and not _rang(stack, FALLBACK)
    incident = rows(stack.app, lambda s: s.scalar(select(Incident)))
    assert incident.unregistered and incident.station_id == b.id


def test_a_stranger_on_the_shared_number_reaches_the_fallback_line(stack, session, two_stations):
    stack.sim.script(FALLBACK, answer_after=1.0, talk_for=1.0)

    sid = stack.sim.dial(STRANGER, to=HOTLINE_NUMBER)

    stack.wait_for(lambda: _rang(stack, FALLBACK), what="HOTLINE_FALLBACK_PHONE ringing")
    call = stack.sim.wait_for_call(sid, timeout=20)
    assert [leg["to"] for leg in call["legs"]] == [FALLBACK]
    assert not _rang(stack, DUTY_A) and not _rang(stack, DUTY_B)
    incident = rows(stack.app, lambda s: s.scalar(select(Incident)))
    assert incident.unregistered and incident.station_id is None
