"""A :class:`~hotline.carriers.base.Carrier` that talks to the development carrier simulator.

The simulator plays Twilio's part: it refuses with Twilio's codes and signs
its webhooks the way Twilio does, so this carrier maps its answers with the
Twilio dialect's code table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from hotline.carriers.base import CallPrompt, Capabilities, CarrierError, OutboundSms, Submitted
from hotline.carriers.twilio.callbacks import Callbacks
from hotline.carriers.twilio.codes import failure_reason


class SimulatorCarrier:
    """Sends SMS and places calls through the simulator's carrier REST API.

    Args:
        base_url: The simulator server, e.g. ``http://127.0.0.1:8900``.
        from_number: The hotline number messages and calls come from.
        public_url: Where the simulator calls the service back (``HOTLINE_PUBLIC_URL``).
        timeout: Real seconds to wait for the simulator to answer.
    """

    name = "simulator"
    capabilities = Capabilities(ring_group=True, keypress_calls=True, free_text=True, max_ring_group=10)

    def __init__(self, *, base_url: str, from_number: str, public_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.from_number = from_number
        self.callbacks = Callbacks(public_url)
        self.timeout = timeout

    def send_sms(self, message: OutboundSms, *, reference: int) -> Submitted:
        """Hand one SMS to the simulator.

        Raises:
            CarrierError: The simulator refused it (``code`` and ``http_status``
                from its answer, e.g. 21211/400, 21610/400, 20429/429), or it
                could not be reached in time (``http_status=None``).
        """
        payload = {
            "to": message.to, "from": self.from_number, "body": message.text,
            "status_callback": self.callbacks.sms_status(reference),
        }
        return self._post("/sim/api/messages", payload)

    def place_call(self, *, to: str, reference: int, timeout: int, prompt: CallPrompt | None = None) -> Submitted:
        """Start one outbound call whose TwiML the simulator fetches from the service when answered
        (``prompt`` is unused).

        Raises:
            CarrierError: The simulator refused it, or could not be reached in time.
        """
        payload = {
            "to": to, "from": self.from_number, "url": self.callbacks.call_flow(reference),
            "status_callback": self.callbacks.call_status(reference), "timeout": timeout,
        }
        return self._post("/sim/api/calls", payload)

    def message_problems(self, template: str, params: Mapping[str, str], channel: str) -> list[str]:
        """None: the simulator, like Twilio, takes any text."""
        return []

    def _post(self, path: str, payload: dict[str, Any]) -> Submitted:
        url = self.base_url + path
        try:
            response = requests.post(url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            raise CarrierError(
                f"carrier simulator at {url} did not answer within {self.timeout:g}s",
                reason=failure_reason(None, None),
            ) from exc
        except requests.RequestException as exc:
            raise CarrierError(
                f"carrier simulator at {url} unreachable: {exc}", reason=failure_reason(None, None)
            ) from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if not 200 <= response.status_code < 300:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message") if isinstance(data, dict) else None
            carrier_code = code if isinstance(code, int) else None
            raise CarrierError(
                message or f"carrier simulator refused the request: {response.text[:200]}",
                reason=failure_reason(carrier_code, response.status_code),
                code=carrier_code,
                http_status=response.status_code,
            )
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise CarrierError(
                f"carrier simulator answered {response.status_code} without a sid",
                reason=failure_reason(None, response.status_code),
                http_status=response.status_code,
            )
        return Submitted(sid=data["sid"], status=str(data.get("status", "queued")))


class SimulatorControlError(Exception):
    """The simulator's control API answered with an error, or could not be reached.

    Attributes:
        http_status: The HTTP status of the answer, or ``None`` when none came
            (connection refused, or no answer within the timeout).
    """

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class SimulatorControl:
    """Drives the virtual phones of a running carrier simulator over its control API.

    What the browser phone and ``hotline simulate`` need: dial in and text as a
    villager, script how a phone answers, act on a ringing or live call, and
    read back phones, calls and events. The service talks to the simulator
    over HTTP only and never imports it, so this client is the service's own.

    Args:
        base_url: The simulator server, e.g. ``http://127.0.0.1:5050``.
        timeout: Real seconds to wait for each answer.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def dial(self, from_phone: str, *, hangup_after: float | None = None, press: str | None = None) -> str:
        """Start a call from ``from_phone`` to the hotline; returns its CallSid.

        Raises:
            SimulatorControlError: The simulator refused the call or did not answer.
        """
        body: dict[str, Any] = {"from": from_phone}
        if hangup_after is not None:
            body["hangup_after"] = hangup_after
        if press is not None:
            body["press"] = press
        return self._request("POST", "/sim/calls", body)["sid"]

    def send_sms(self, from_phone: str, body: str) -> str:
        """Text the hotline from ``from_phone``; returns the MessageSid once the hotline has answered.

        Raises:
            SimulatorControlError: The simulator refused the text or did not answer.
        """
        return self._request("POST", "/sim/sms", {"from": from_phone, "body": body})["sid"]

    def script(self, phone: str, **fields: Any) -> dict[str, Any]:
        """Replace ``phone``'s script (how it answers); returns the phone's state.

        Raises:
            SimulatorControlError: A field was refused (400) or the simulator did not answer.
        """
        return self._request("PUT", f"/sim/phones/{phone}", fields)

    def phone(self, phone: str) -> dict[str, Any]:
        """What ``phone`` has seen: its script, SMS in and out, and its calls.

        Raises:
            SimulatorControlError: The simulator did not answer.
        """
        return self._request("GET", f"/sim/phones/{phone}")

    def call(self, sid: str) -> dict[str, Any]:
        """One call's state (status, legs, transcript, ``done`` once its last callback went out).

        Raises:
            SimulatorControlError: No such call (404) or the simulator did not answer.
        """
        return self._request("GET", f"/sim/calls/{sid}")

    def events(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Events after ``since`` and the ``seq`` to pass next time.

        Raises:
            SimulatorControlError: The simulator did not answer.
        """
        data = self._request("GET", f"/sim/events?since={int(since)}")
        return data["events"], data["next"]

    def answer(self, sid: str) -> dict[str, Any]:
        """Pick up ringing call ``sid`` on the callee's phone; returns the call's state.

        Raises:
            SimulatorControlError: No such call (404), it is not ringing (409),
                or the simulator did not answer.
        """
        return self._request("POST", f"/sim/calls/{sid}/answer")

    def reject(self, sid: str) -> dict[str, Any]:
        """Decline ringing call ``sid`` on the callee's phone; returns the call's state.

        Raises:
            SimulatorControlError: No such call (404), it is not ringing (409),
                or the simulator did not answer.
        """
        return self._request("POST", f"/sim/calls/{sid}/reject")

    def hangup(self, sid: str) -> dict[str, Any]:
        """Hang up the phone on call ``sid``; returns the call's state.

        Raises:
            SimulatorControlError: No such call (404), it has ended (409), or
                the simulator did not answer.
        """
        return self._request("POST", f"/sim/calls/{sid}/hangup")

    def press(self, sid: str, digits: str) -> dict[str, Any]:
        """Key ``digits`` on live call ``sid``; returns the call's state.

        Raises:
            SimulatorControlError: Bad digits (400), no such call (404), the
                call is not in progress (409), or the simulator did not answer.
        """
        return self._request("POST", f"/sim/calls/{sid}/press", {"digits": digits})

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one JSON request and return the decoded answer.

        Raises:
            SimulatorControlError: No connection or no answer within ``timeout``
                (``http_status=None``), or an error status, with the
                simulator's message when it gave one.
        """
        url = self.base_url + path
        try:
            response = requests.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SimulatorControlError(f"simulator at {self.base_url} unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            message = data.get("message") if isinstance(data, dict) else response.text[:200]
            raise SimulatorControlError(f"{method} {path}: {message}", http_status=response.status_code)
        return data
