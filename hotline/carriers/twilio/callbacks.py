"""Where Twilio, and the simulator that plays it, call the service back about one outbox row.

Each address names the row (``n``), so a status report or a callee's key
press is matched to its row even before the carrier's id is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.urls import public_url_for

SMS_STATUS = "/twilio/sms-status"
CALL_STATUS = "/twilio/call-status"
# The call flow a rung member hears: who needs help, and a key to accept; then the key pressed.
SCREEN = "/twilio/voice/screen"
SCREEN_ANSWER = "/twilio/voice/screen/answer"


@dataclass(frozen=True)
class Callbacks:
    """The service's callback addresses under ``public_url`` (``HOTLINE_PUBLIC_URL``)."""

    public_url: str

    def sms_status(self, row_id: int) -> str:
        return public_url_for(self.public_url, SMS_STATUS, n=row_id)

    def call_status(self, row_id: int) -> str:
        return public_url_for(self.public_url, CALL_STATUS, n=row_id)

    def call_flow(self, row_id: int) -> str:
        return public_url_for(self.public_url, SCREEN, n=row_id)

    def key_pressed(self, row_id: int) -> str:
        return public_url_for(self.public_url, SCREEN_ANSWER, n=row_id)
