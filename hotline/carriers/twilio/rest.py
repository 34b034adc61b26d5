"""Twilio's REST API as hotline's carrier, through twilio-python."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from hotline.carriers.base import CallPrompt, Capabilities, CarrierError, FailureReason, OutboundSms, Submitted
from hotline.carriers.twilio.callbacks import Callbacks
from hotline.carriers.twilio.codes import failure_reason

TWILIO_API_BASE = "https://api.twilio.com"
CALL_STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


class ApiBaseHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends what twilio-python addresses to api.twilio.com elsewhere.

    Used for a mock of the API (tests) or a relay in front of it.
    """

    def __init__(self, api_base: str, *, timeout: float):
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/")

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
        """Send the request to ``api_base`` instead of api.twilio.com; see ``TwilioHttpClient.request``."""
        if url == TWILIO_API_BASE or url.startswith(TWILIO_API_BASE + "/"):
            url = self.api_base + url[len(TWILIO_API_BASE) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


class TwilioCarrier:
    """Sends SMS and places calls through Twilio's 2010-04-01 REST API.

    Args:
        account_sid: The Twilio Account SID (``AC`` + 32 hex digits).
        auth_token: The account's auth token.
        from_number: The Twilio number messages and calls come from, in E.164.
        public_url: Where Twilio calls the service back (``HOTLINE_PUBLIC_URL``).
        api_base: Origin of the REST API; anything but api.twilio.com is used
            in its place (a mock server, a relay).
        timeout: Seconds to wait for Twilio to connect and to answer each request.
        http_client: The HTTP client twilio-python uses, for tests; when given,
            ``api_base`` and ``timeout`` are ignored.
    """

    name = "twilio"
    # <Dial> rings up to ten <Number>s at once; any text may be sent.
    capabilities = Capabilities(ring_group=True, keypress_calls=True, free_text=True, max_ring_group=10)

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_url: str,
        api_base: str = TWILIO_API_BASE,
        timeout: float = 10.0,
        http_client: HttpClient | None = None,
    ):
        if http_client is None:
            if api_base.rstrip("/") == TWILIO_API_BASE:
                http_client = TwilioHttpClient(timeout=timeout)
            else:
                http_client = ApiBaseHttpClient(api_base, timeout=timeout)
        self.from_number = from_number
        self.callbacks = Callbacks(public_url)
        client = Client(account_sid, auth_token, http_client=http_client)
        # twilio-python imports each resource's code on first use, which takes tens of milliseconds:
        # done here, it stays out of the first send, between its slot of the sending rate and Twilio.
        self._messages = client.messages
        self._calls = client.calls

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        """Hand one SMS to Twilio, as free text.

        Args:
            message: The recipient (E.164) and the rendered text.
            reference: The outbox row; Twilio posts its delivery reports to the
                row's status address.

        Returns:
            The Message SID (``SM...``) and its first status (usually ``queued``).

        Raises:
            CarrierError: Twilio refused the message (``code`` and
                ``http_status`` from its reply; permanent for e.g. an invalid
                or opted-out number, transient for 429 and 5xx), or could not
                be reached in time (``http_status`` None, transient).
        """
        with _carrier_errors("send the SMS"):
            created = self._messages.create(
                to=message.to,
                from_=self.from_number,
                body=message.text,
                status_callback=self.callbacks.sms_status(reference),
            )
        return _submitted(created.sid, created.status)

    def message_problems(self, template: str, params: Mapping[str, str], channel: str) -> list[str]:
        """None: Twilio sends the text as written, and a call speaks it from its TwiML."""
        return []

    def place_call(self, *, to: str, reference: int, timeout: int, prompt: CallPrompt | None = None) -> Submitted:
        """Start one outbound call whose TwiML Twilio fetches from the service when answered.

        Args:
            to: The callee, in E.164.
            reference: The outbox row; Twilio fetches the row's call flow and
                posts each progress event (initiated, ringing, answered,
                completed) to the row's status address.
            timeout: Seconds to let the phone ring before giving up.
            prompt: Unused: the service's TwiML says what the callee hears.

        Returns:
            The Call SID (``CA...``) and its first status (usually ``queued``).

        Raises:
            CarrierError: Twilio refused the call (``code`` and ``http_status``
                from its reply; permanent for e.g. an invalid number, transient
                for 429 and 5xx), or could not be reached in time
                (``http_status`` None, transient).
        """
        with _carrier_errors("place the call"):
            call = self._calls.create(
                to=to,
                from_=self.from_number,
                url=self.callbacks.call_flow(reference),
                method="POST",
                status_callback=self.callbacks.call_status(reference),
                status_callback_method="POST",
                status_callback_event=list(CALL_STATUS_EVENTS),
                timeout=timeout,
            )
        return _submitted(call.sid, call.status)


@contextmanager
def _carrier_errors(action: str) -> Iterator[None]:
    """Re-raise what twilio-python and requests raise as :class:`CarrierError`."""
    try:
        yield
    except TwilioRestException as exc:
        raise _refusal(f"Twilio refused to {action}: {exc.msg}", exc.code, exc.status) from exc
    except TwilioServiceException as exc:
        detail = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
        raise _refusal(f"Twilio refused to {action}: {detail}", exc.code, exc.status) from exc
    except (requests.RequestException, TwilioException) as exc:
        raise CarrierError(
            f"Could not reach Twilio to {action}: {type(exc).__name__}: {exc}",
            reason=failure_reason(None, None),
        ) from exc


def _refusal(message: str, code: int | None, http_status: int) -> CarrierError:
    # twilio-python puts the HTTP status in `code` when the reply carries no
    # Twilio error code; Twilio's own codes are five digits, so they never clash.
    twilio_code = None if code == http_status else code
    return CarrierError(
        message, reason=failure_reason(twilio_code, http_status), code=twilio_code, http_status=http_status
    )


def _submitted(sid: str | None, status: str | None) -> Submitted:
    if sid is None or status is None:
        # Twilio did accept the request (twilio-python only builds a record from
        # a 2xx), so it must not look transient: a retry could send it twice.
        raise CarrierError(
            "Twilio accepted the request but its reply has no SID or status",
            reason=FailureReason.UNKNOWN, transient=False, http_status=201,
        )
    return Submitted(sid=sid, status=status)
