"""The simulator holds hotline to Twilio's limit of ten ``<Number>`` nouns in one ``<Dial>``."""

from __future__ import annotations

import pytest

from simulator import Simulator
from simulator.twiml import MAX_DIAL_NUMBERS, Dial, TwimlError, parse_twiml
from tests.simulator_support import FakeService, twiml

TOKEN = "test-auth-token"
CALLER = "+8613900000000"
PHONES = [f"+86138000000{i:02d}" for i in range(1, 12)]


def _ring_all(numbers: list[str]) -> str:
    nouns = "".join(f'<Number url="/twilio/screen">{n}</Number>' for n in numbers)
    return twiml(f'<Dial action="/twilio/dial-done" timeout="5">{nouns}</Dial>')


@pytest.fixture
def service():
    svc = FakeService(TOKEN)
    yield svc
    svc.stop()


@pytest.fixture
def sim(service):
    simulator = Simulator(
        service_url=service.base_url, auth_token=TOKEN, hotline_number="+861012345678",
        time_scale=0.1, webhook_timeout=2.0,
    )
    yield simulator
    assert simulator.shutdown(timeout=3.0) == []


def test_parser_refuses_a_dial_of_eleven_numbers():
    assert MAX_DIAL_NUMBERS == 10
    ten = parse_twiml(_ring_all(PHONES[:10]), "http://h/twilio/voice").verbs[0]
    assert isinstance(ten, Dial) and len(ten.numbers) == 10
    with pytest.raises(TwimlError, match="11 <Number>"):
        parse_twiml(_ring_all(PHONES), "http://h/twilio/voice")


def test_an_eleven_number_dial_is_an_application_error_and_rings_nobody(service, sim):
    service.routes["/twilio/voice"] = lambda p: _ring_all(PHONES)
    service.routes["/twilio/voice/fallback"] = lambda p: twiml("<Say>值班电话。</Say><Hangup/>")

    call = sim.wait_for_call(sim.dial(CALLER))

    # As with any invalid document: error 12100, then Twilio's fallback URL.
    assert [e["code"] for e in call["errors"]] == [12100]
    assert "11 <Number>" in call["errors"][0]["detail"]
    assert call["heard"] == ["值班电话。"]
    assert call["legs"] == []
    assert all(sim.phone(p)["calls"] == [] for p in PHONES)
    assert service.requests_to("/twilio/screen") == [] and service.requests_to("/twilio/dial-done") == []


def test_a_ten_number_dial_rings_all_ten(service, sim):
    service.routes["/twilio/voice"] = lambda p: _ring_all(PHONES[:10])

    call = sim.wait_for_call(sim.dial(CALLER), timeout=10)

    assert call["errors"] == []
    assert sorted(leg["to"] for leg in call["legs"]) == sorted(PHONES[:10])
