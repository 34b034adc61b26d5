"""The carrier API's refusals, shaped like Twilio's REST errors."""

from __future__ import annotations


class CarrierRefusal(Exception):
    """The simulated carrier API refuses a request, as Twilio's REST API would.

    Attributes:
        code: Twilio's error code, e.g. 21211 for an invalid ``To``.
        http_status: The HTTP status the REST API answers with (400, 429, 500...).
    """

    def __init__(self, message: str, *, code: int, http_status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

    def to_json(self) -> dict[str, object]:
        """The JSON body Twilio's REST API sends with an error."""
        return {"code": self.code, "message": self.message, "status": self.http_status}
