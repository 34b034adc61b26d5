"""A small HTTP client for the simulator's control API (for the CLI and scripts)."""

from __future__ import annotations

from typing import Any

import requests


class SimulatorClientError(Exception):
    """The simulator answered with an error, or could not be reached.

    Attributes:
        http_status: The HTTP status, or ``None`` when no answer came.
    """

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class SimulatorClient:
    """Drives a running simulator server: dial, text, script phones, inspect.

    Args:
        base_url: The simulator server, e.g. ``http://127.0.0.1:8900``.
        timeout: Real seconds to wait for each answer.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def dial(self, from_phone: str, *, hangup_after: float | None = None, press: str | None = None) -> str:
        """Start a call from ``from_phone`` to the hotline; returns its CallSid."""
        body: dict[str, Any] = {"from": from_phone}
        if hangup_after is not None:
            body["hangup_after"] = hangup_after
        if press is not None:
            body["press"] = press
        return self._request("POST", "/sim/calls", body)["sid"]

    def send_sms(self, from_phone: str, body: str) -> str:
        """Text the hotline from ``from_phone``; returns the MessageSid."""
        return self._request("POST", "/sim/sms", {"from": from_phone, "body": body})["sid"]

    def script(self, phone: str, **fields: Any) -> dict[str, Any]:
        """Replace ``phone``'s script; returns the phone's state."""
        return self._request("PUT", f"/sim/phones/{phone}", fields)

    def phone(self, phone: str) -> dict[str, Any]:
        return self._request("GET", f"/sim/phones/{phone}")

    def call(self, sid: str) -> dict[str, Any]:
        return self._request("GET", f"/sim/calls/{sid}")

    def events(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Events after ``since`` and the ``seq`` to pass next time."""
        data = self._request("GET", f"/sim/events?since={int(since)}")
        return data["events"], data["next"]

    def answer(self, sid: str) -> dict[str, Any]:
        return self._request("POST", f"/sim/calls/{sid}/answer")

    def press(self, sid: str, digits: str) -> dict[str, Any]:
        return self._request("POST", f"/sim/calls/{sid}/press", {"digits": digits})

    def hangup(self, sid: str) -> dict[str, Any]:
        return self._request("POST", f"/sim/calls/{sid}/hangup")

    def reject(self, sid: str) -> dict[str, Any]:
        return self._request("POST", f"/sim/calls/{sid}/reject")

    def reset(self) -> None:
        self._request("POST", "/sim/reset")

    def healthz(self) -> dict[str, Any]:
        return self._request("GET", "/sim/healthz")

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request.

        Raises:
            SimulatorClientError: No answer within ``timeout`` or no connection
                (``http_status=None``), or an error status with the server's message.
        """
        url = self.base_url + path
        try:
            response = requests.request(method, url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SimulatorClientError(f"simulator at {self.base_url} unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            message = data.get("message") if isinstance(data, dict) else response.text[:200]
            raise SimulatorClientError(f"{method} {path}: {message}", http_status=response.status_code)
        return data
