"""The carrier seam: what hotline needs from a phone network.

Twilio and the project's own simulator both implement :class:`Carrier`; a
China carrier can be added the same way. Webhook signatures are not part of
the seam: every carrier here signs webhooks the way Twilio does, and the
webhook blueprint checks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Twilio error codes that will fail the same way however often they are retried.
PERMANENT_ERROR_CODES = frozenset({21211, 21214, 21217, 21408, 21610, 21612, 21614, 21606, 21660})
TRANSIENT_ERROR_CODES = frozenset({20429, 21611})
OPTED_OUT = 21610


@dataclass(frozen=True)
class Submitted:
    """The carrier accepted a message or call for delivery."""

    sid: str
    status: str


class CarrierError(Exception):
    """The carrier refused or failed a request.

    Attributes:
        code: The carrier's error code (e.g. Twilio's 21211), if any.
        http_status: The HTTP status of the refusal, if any; ``None`` for a
            timeout or a connection that never completed.
        transient: True when the same request may succeed later (429, 5xx,
            timeouts); False when retrying cannot help.
    """

    def __init__(self, message: str, *, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.transient = is_transient(code, http_status)

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return " / ".join(parts)


def is_transient(code: int | None, http_status: int | None) -> bool:
    """Whether a failure is worth retrying.

    Timeouts and dropped connections (no HTTP status) are transient, as are
    HTTP 429 and 5xx and Twilio's 20429. Known permanent codes never are,
    whatever the HTTP status says.
    """
    if code in PERMANENT_ERROR_CODES:
        return False
    if code in TRANSIENT_ERROR_CODES:
        return True
    if http_status is None:
        return True
    return http_status == 429 or http_status >= 500


class Carrier(Protocol):
    """Sends SMS and places calls. Implementations must be safe to use from a worker."""

    name: str

    def send_sms(self, *, to: str, body: str, status_callback: str) -> Submitted:
        """Hand one SMS to the carrier.

        Raises:
            CarrierError: The carrier refused it, or could not be reached.
        """
        ...

    def place_call(self, *, to: str, url: str, status_callback: str, timeout: int) -> Submitted:
        """Start one outbound call whose TwiML is fetched from ``url`` when answered.

        Raises:
            CarrierError: The carrier refused it, or could not be reached.
        """
        ...
