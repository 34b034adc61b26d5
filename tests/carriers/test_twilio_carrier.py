"""TwilioCarrier against Twilio's own API description (served by Prism) and canned replies."""

from __future__ import annotations

import functools
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from hotline.carriers.base import CarrierError, OutboundSms, Submitted
from hotline.carriers.twilio import TwilioCarrier
from hotline.carriers.twilio.codes import OPTED_OUT
from tests.support.prism import running_prism, spec_path

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FROM_NUMBER = "+15005550006"
TO_NUMBER = "+8613800138000"
PUBLIC_URL = "https://hotline.example.org"
ROW = 42
# The addresses the carrier gives Twilio for outbox row 42: each names the row.
SMS_STATUS_URL = "https://hotline.example.org/twilio/sms-status?n=42"
CALL_TWIML_URL = "https://hotline.example.org/twilio/voice/screen?n=42"
CALL_STATUS_URL = "https://hotline.example.org/twilio/call-status?n=42"
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


@functools.cache
def status_enum(schema: str) -> frozenset[str]:
    """The statuses Twilio's API description allows for a resource."""
    spec = json.loads(spec_path().read_text())
    return frozenset(spec["components"]["schemas"][schema]["enum"])


# --- against Prism: every request the project makes is one Twilio accepts ---


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    with running_prism() as url:
        yield url


@pytest.fixture
def carrier(prism_url: str) -> TwilioCarrier:
    return TwilioCarrier(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER, public_url=PUBLIC_URL,
        api_base=prism_url,
    )


@pytest.mark.parametrize(
    "body",
    ["Fire reported at the east granary. Go to muster point B.", "村东粮仓起火，请速到二号集合点。"],
    ids=["english", "chinese"],
)
def test_send_sms_with_status_callback_is_accepted(carrier: TwilioCarrier, body: str):
    submitted = carrier.send_sms(OutboundSms(to=TO_NUMBER, text=body), reference=ROW)

    assert isinstance(submitted, Submitted)
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", submitted.sid)
    assert submitted.status in status_enum("message_enum_status")


def test_place_call_with_twiml_url_status_events_and_timeout_is_accepted(carrier: TwilioCarrier):
    submitted = carrier.place_call(to=TO_NUMBER, reference=ROW, timeout=45)

    assert isinstance(submitted, Submitted)
    assert re.fullmatch(r"CA[0-9a-fA-F]{32}", submitted.sid)
    assert submitted.status in status_enum("call_enum_status")


@pytest.mark.parametrize("account_sid", ["AC123", "ACzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "SK" + "0" * 32])
def test_request_with_malformed_account_sid_is_refused_as_permanent(prism_url: str, account_sid: str):
    carrier = TwilioCarrier(
        account_sid=account_sid, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER, public_url=PUBLIC_URL,
        api_base=prism_url,
    )

    with pytest.raises(CarrierError) as sms_refusal:
        carrier.send_sms(OutboundSms(to=TO_NUMBER, text="test"), reference=ROW)
    with pytest.raises(CarrierError) as call_refusal:
        carrier.place_call(to=TO_NUMBER, reference=ROW, timeout=30)

    for refusal in (sms_refusal.value, call_refusal.value):
        assert refusal.http_status == 422
        assert refusal.code is None
        assert refusal.transient is False


# --- without Twilio: the network failing for real ---


def test_unreachable_api_is_a_transient_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    carrier = TwilioCarrier(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        public_url=PUBLIC_URL,
        api_base=f"http://127.0.0.1:{closed_port}",
    )

    with pytest.raises(CarrierError) as refusal:
        carrier.send_sms(OutboundSms(to=TO_NUMBER, text="test"), reference=ROW)

    assert refusal.value.http_status is None
    assert refusal.value.transient is True
    assert isinstance(refusal.value.__cause__, requests.ConnectionError)


def test_api_that_never_answers_times_out_as_a_transient_error():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        carrier = TwilioCarrier(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_number=FROM_NUMBER,
            public_url=PUBLIC_URL,
            api_base=f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout=0.5,
        )
        started = time.monotonic()

        with pytest.raises(CarrierError) as refusal:
            carrier.place_call(to=TO_NUMBER, reference=ROW, timeout=30)

    assert time.monotonic() - started < 5
    assert refusal.value.http_status is None
    assert refusal.value.transient is True
    assert isinstance(refusal.value.__cause__, requests.Timeout)


# --- with canned replies: what is sent, and how each refusal is classed ---


class CannedHttpClient(TwilioHttpClient):
    """Answers each request with the next canned reply (or raises it), and records the request."""

    def __init__(self, *replies: Response | Exception):
        super().__init__(timeout=5.0)
        self.replies = list(replies)
        self.sent: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.sent.append({"method": method, "url": url, "data": data, "auth": auth})
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def canned_carrier(*replies: Response | Exception) -> tuple[TwilioCarrier, CannedHttpClient]:
    http = CannedHttpClient(*replies)
    carrier = TwilioCarrier(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number=FROM_NUMBER, public_url=PUBLIC_URL, http_client=http
    )
    return carrier, http


def json_reply(status: int, payload: dict[str, Any]) -> Response:
    return Response(status, json.dumps(payload), {"Content-Type": "application/json"})


def twilio_error(status: int, code: int, message: str) -> Response:
    return json_reply(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )


def test_send_sms_posts_the_message_fields():
    sid = "SM" + "ab" * 16
    carrier, http = canned_carrier(json_reply(201, {"sid": sid, "status": "queued"}))

    submitted = carrier.send_sms(OutboundSms(to=TO_NUMBER, text="火警"), reference=ROW)

    assert submitted == Submitted(sid=sid, status="queued")
    [request] = http.sent
    assert request["method"] == "POST"
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["auth"] == (ACCOUNT_SID, AUTH_TOKEN)
    assert request["data"] == {"To": TO_NUMBER, "From": FROM_NUMBER, "Body": "火警", "StatusCallback": SMS_STATUS_URL}


def test_place_call_posts_the_call_fields():
    sid = "CA" + "cd" * 16
    carrier, http = canned_carrier(json_reply(201, {"sid": sid, "status": "queued"}))

    submitted = carrier.place_call(to=TO_NUMBER, reference=ROW, timeout=25)

    assert submitted == Submitted(sid=sid, status="queued")
    [request] = http.sent
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request["data"] == {
        "To": TO_NUMBER,
        "From": FROM_NUMBER,
        "Url": CALL_TWIML_URL,
        "Method": "POST",
        "StatusCallback": CALL_STATUS_URL,
        "StatusCallbackMethod": "POST",
        "StatusCallbackEvent": CALL_EVENTS,
        "Timeout": 25,
    }


def send_sms(carrier: TwilioCarrier) -> Submitted:
    return carrier.send_sms(OutboundSms(to=TO_NUMBER, text="test"), reference=ROW)


def place_call(carrier: TwilioCarrier) -> Submitted:
    return carrier.place_call(to=TO_NUMBER, reference=ROW, timeout=30)


@pytest.mark.parametrize("submit", [send_sms, place_call])
@pytest.mark.parametrize(
    ("reply", "code", "http_status", "transient"),
    [
        pytest.param(twilio_error(429, 20429, "Too Many Requests"), 20429, 429, True, id="429-20429"),
        pytest.param(
            twilio_error(400, 21211, "Invalid 'To' Phone Number: +86138001380"), 21211, 400, False, id="400-21211"
        ),
        pytest.param(
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), OPTED_OUT, 400, False, id="400-21610"
        ),
        pytest.param(Response(503, "<html>Service Unavailable</html>"), None, 503, True, id="503-html"),
        pytest.param(twilio_error(500, 20500, "Internal Server Error"), 20500, 500, True, id="500-20500"),
        pytest.param(
            json_reply(
                400,
                {
                    "type": "https://www.twilio.com/docs/errors/21211",
                    "title": "Invalid 'To' Phone Number",
                    "status": 400,
                    "code": 21211,
                    "detail": "+86138001380 is not a valid phone number",
                },
            ),
            21211,
            400,
            False,
            id="400-21211-problem-details",
        ),
    ],
)
def test_refusal_is_mapped_to_carrier_error(submit, reply: Response, code, http_status: int, transient: bool):
    carrier, _ = canned_carrier(reply)

    with pytest.raises(CarrierError) as refusal:
        submit(carrier)

    assert refusal.value.code == code
    assert refusal.value.http_status == http_status
    assert refusal.value.transient is transient
    assert refusal.value.__cause__ is not None


@pytest.mark.parametrize("submit", [send_sms, place_call])
@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.Timeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ConnectionError("connection reset by peer"),
    ],
    ids=lambda failure: type(failure).__name__,
)
def test_network_failure_is_a_transient_carrier_error(submit, failure: Exception):
    carrier, _ = canned_carrier(failure)

    with pytest.raises(CarrierError) as refusal:
        submit(carrier)

    assert refusal.value.code is None
    assert refusal.value.http_status is None
    assert refusal.value.transient is True
    assert refusal.value.__cause__ is failure


def test_refusal_message_carries_twilios_explanation():
    carrier, _ = canned_carrier(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))

    with pytest.raises(CarrierError) as refusal:
        send_sms(carrier)

    assert "Attempt to send to unsubscribed recipient" in str(refusal.value)
    assert "code 21610" in str(refusal.value)
    assert "HTTP 400" in str(refusal.value)
