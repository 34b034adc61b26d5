"""A :class:`~hotline.carriers.base.Carrier` that talks to the project's carrier simulator."""

from __future__ import annotations

from typing import Any

import requests

from hotline.carriers.base import CarrierError, Submitted


class SimulatorCarrier:
    """Sends SMS and places calls through the simulator's carrier REST API.

    Args:
        base_url: The simulator server, e.g. ``http://127.0.0.1:8900``.
        from_number: The hotline number messages and calls come from.
        timeout: Real seconds to wait for the simulator to answer.
    """

    name = "simulator"

    def __init__(self, *, base_url: str, from_number: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.from_number = from_number
        self.timeout = timeout

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Submitted:
        """Hand one SMS to the simulator.

        Raises:
            CarrierError: The simulator refused it (``code`` and ``http_status``
                from its answer, e.g. 21211/400, 21610/400, 20429/429), or it
                could not be reached in time (``http_status=None``).
        """
        payload = {"to": to, "from": self.from_number, "body": body, "status_callback": status_callback}
        return self._post("/sim/api/messages", payload)

    def place_call(self, *, to: str, url: str, status_callback: str, timeout: int) -> Submitted:
        """Start one outbound call whose TwiML the simulator fetches from ``url`` when answered.

        Raises:
            CarrierError: The simulator refused it, or could not be reached in time.
        """
        payload = {"to": to, "from": self.from_number, "url": url, "status_callback": status_callback, "timeout": timeout}
        return self._post("/sim/api/calls", payload)

    def _post(self, path: str, payload: dict[str, Any]) -> Submitted:
        url = self.base_url + path
        try:
            response = requests.post(url, json=payload, timeout=self.timeout)
        except requests.Timeout as exc:
            raise CarrierError(f"carrier simulator at {url} did not answer within {self.timeout:g}s") from exc
        except requests.RequestException as exc:
            raise CarrierError(f"carrier simulator at {url} unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if not 200 <= response.status_code < 300:
            code = data.get("code") if isinstance(data, dict) else None
            message = data.get("message") if isinstance(data, dict) else None
            raise CarrierError(
                message or f"carrier simulator refused the request: {response.text[:200]}",
                code=code if isinstance(code, int) else None,
                http_status=response.status_code,
            )
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise CarrierError(
                f"carrier simulator answered {response.status_code} without a sid",
                http_status=response.status_code,
            )
        return Submitted(sid=data["sid"], status=str(data.get("status", "queued")))
