"""Signed webhook requests, made the way Twilio makes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from twilio.request_validator import RequestValidator

from simulator.events import EventLog

USER_AGENT = "TwilioProxy/1.1 (hotline simulator)"


@dataclass(frozen=True)
class WebhookResult:
    """What came back from one webhook request.

    ``status`` is ``None`` when no HTTP answer arrived (refused connection or
    timeout); ``error`` then says why.
    """

    url: str
    method: str
    status: int | None
    body: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def twilio_error_code(self) -> int:
        """Twilio's code for this failure: 11205 no connection, 11200 bad HTTP status."""
        return 11205 if self.status is None else 11200


class WebhookSender:
    """Posts form-encoded, ``X-Twilio-Signature``-signed requests and logs each one.

    The signature is ``RequestValidator(auth_token).compute_signature(url, params)``
    for POST; for GET the parameters go into the query string and the signature
    covers that full URL with no body parameters, as Twilio does.
    """

    def __init__(
        self,
        *,
        auth_token: str,
        timeout: float,
        log: EventLog,
        halted: Callable[[], bool],
    ) -> None:
        self._validator = RequestValidator(auth_token)
        self._timeout = timeout
        self._log = log
        self._halted = halted

    def sign(self, url: str, params: dict[str, str]) -> str:
        """The ``X-Twilio-Signature`` value for a POST of ``params`` to ``url``."""
        return self._validator.compute_signature(url, params)

    def send(
        self, url: str, params: dict[str, str], *, method: str = "POST", kind: str, **fields: Any
    ) -> WebhookResult:
        """Make one signed request and log it as a ``webhook`` event.

        Never raises for network trouble: a refused connection or a timeout is
        returned as a result with ``status=None``, because a carrier does not
        crash when a customer's server is down. Once the simulator is resetting
        or shutting down nothing is sent and the result has ``error="halted"``.
        """
        if self._halted():
            return WebhookResult(url=url, method=method, status=None, body="", error="halted")
        params = {k: str(v) for k, v in params.items() if v is not None}
        headers = {"User-Agent": USER_AGENT}
        try:
            if method == "GET":
                full_url = url + ("&" if "?" in url else "?") + urlencode(params)
                headers["X-Twilio-Signature"] = self._validator.compute_signature(full_url, {})
                response = requests.get(full_url, headers=headers, timeout=self._timeout, allow_redirects=False)
            else:
                headers["X-Twilio-Signature"] = self._validator.compute_signature(url, params)
                response = requests.post(
                    url, data=params, headers=headers, timeout=self._timeout, allow_redirects=False
                )
            result = WebhookResult(url=url, method=method, status=response.status_code, body=response.text)
        except requests.Timeout:
            result = WebhookResult(
                url=url, method=method, status=None, body="", error=f"no answer within {self._timeout:g}s"
            )
        except requests.RequestException as exc:
            result = WebhookResult(url=url, method=method, status=None, body="", error=str(exc))
        self._log.add(
            "webhook",
            webhook=kind,
            url=url,
            method=method,
            http_status=result.status,
            ok=result.ok,
            error=result.error,
            params=params,
            **fields,
        )
        return result
