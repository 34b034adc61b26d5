"""A key pressed on a call the service placed, as a carrier's receipt reports it.

Twilio's screening webhook hears a key while the call is live; carriers that
report keys afterwards (Aliyun's IvrCall) hand them here. The same services
decide: 1 accepts and 2 declines a screening call; on a call back to a caller
whose call dropped, 1 keeps the alert going and 9 cancels a misdial.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.webhook_events import KeyPress
from hotline.models import Answer, Channel, EventKind, Notification, Purpose
from hotline.services.caller import CANCEL_KEY, STILL_NEED_HELP_KEY, cancel_as_misdial, still_needs_help
from hotline.services.outbox import Work
from hotline.services.responses import record_response

ACCEPT_KEY = "1"
DECLINE_KEY = "2"


def record_key_press(session: Session, settings: Settings, notification: Notification, press: KeyPress) -> Work:
    """Apply the first key of ``press`` on ``notification``'s call; what to enqueue after commit.

    Idempotent: an answer is recorded once per call id, a misdial closes the
    incident once, and the caller's "still need help" is logged once.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    incident = notification.incident
    key = press.digits[:1]
    if incident is None or not key:
        return Work()
    if notification.purpose == Purpose.CALLER_CHECK:
        if key == CANCEL_KEY:
            return cancel_as_misdial(session, settings, incident)
        if key == STILL_NEED_HELP_KEY and not any(
            event.kind == EventKind.CALLER_STILL_NEEDS_HELP for event in incident.events
        ):
            still_needs_help(session, incident)
        return Work()
    if key not in (ACCEPT_KEY, DECLINE_KEY):
        return Work()
    recorded = record_response(
        session, settings, incident, phone=notification.phone, channel=Channel.CALL,
        answer=Answer.ACCEPT if key == ACCEPT_KEY else Answer.DECLINE, source_sid=press.call_id,
    )
    return recorded.work()
