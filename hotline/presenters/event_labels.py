"""The words for every timeline event kind, as catalogue message ids (English).

Each :class:`EventKind` has one title here; ``hotline/translations`` gives
its Chinese. Codes found inside events' stored detail (answers, purposes,
levels, outcomes) have their labels here too, so the presenter needs nothing
from the console.
"""

from __future__ import annotations

from hotline.models import Answer, EventKind, Purpose
from hotline.presenters.catalogue import N_

TITLES: dict[EventKind, str] = {
    EventKind.CALL_RECEIVED: N_("Call for help received"),
    EventKind.SMS_RECEIVED: N_("SMS for help received"),
    EventKind.RECORDED_AFTER_OUTAGE: N_("Recorded after a database outage"),
    EventKind.FAN_OUT: N_("Group alerted"),
    EventKind.CALL_ACCEPTED: N_("Answered on the phone"),
    EventKind.SMS_REPLY: N_("Replied by SMS"),
    EventKind.SMS_UNRECOGNISED: N_("Reply not understood"),
    EventKind.ACKNOWLEDGED: N_("Someone has responded"),
    EventKind.ESCALATED: N_("Nobody responded: escalated"),
    EventKind.TRANSFERRED: N_("Caller transferred"),
    EventKind.CALLER_CONNECTED: N_("Caller connected"),
    EventKind.CALLER_TOLD_NOBODY_ANSWERED: N_("Caller told nobody answered"),
    EventKind.CALLER_HUNG_UP: N_("Caller's call ended"),
    EventKind.CALLER_SMS: N_("Caller sent an SMS"),
    EventKind.BACKUP_NOTIFIED: N_("Own number unreachable: backup number alerted"),
    EventKind.CLOSED: N_("Closed by station"),
    EventKind.ACCEPTANCE_COUNTED: N_("Responder counted; more needed"),
    EventKind.TAKEN: N_("Taken in hand by station staff"),
    EventKind.MEMBERS_RECALLED: N_("Members called again"),
    EventKind.CALLER_CALLED_BACK: N_("Call dropped: calling the caller back"),
    EventKind.CALLER_CANCELLED: N_("Caller cancelled: misdial"),
    EventKind.CALLER_STILL_NEEDS_HELP: N_("Caller still needs help"),
    EventKind.DRILL_STARTED: N_("Drill started"),
    EventKind.TRIGGER_RAISED: N_("Alarm raised by a button or another system"),
    EventKind.SMS_PENDING: N_("SMS waiting to send"),
    EventKind.SMS_CLAIMED: N_("SMS being handed to the carrier"),
    EventKind.SMS_ACCEPTED: N_("SMS accepted by the carrier"),
    EventKind.SMS_SCHEDULED: N_("SMS scheduled"),
    EventKind.SMS_QUEUED: N_("SMS queued at the carrier"),
    EventKind.SMS_SENDING: N_("SMS sending"),
    EventKind.SMS_SENT: N_("SMS sent"),
    EventKind.SMS_DELIVERED: N_("SMS delivered"),
    EventKind.SMS_UNDELIVERED: N_("SMS not delivered"),
    EventKind.SMS_FAILED: N_("SMS failed"),
    EventKind.SMS_CANCELED: N_("SMS cancelled"),
    EventKind.SMS_READ: N_("SMS read"),
    EventKind.CALL_PENDING: N_("Call waiting to be placed"),
    EventKind.CALL_CLAIMED: N_("Call being handed to the carrier"),
    EventKind.CALL_QUEUED: N_("Call queued at the carrier"),
    EventKind.CALL_INITIATED: N_("Call dialling"),
    EventKind.CALL_RINGING: N_("Call ringing"),
    EventKind.CALL_IN_PROGRESS: N_("Call answered"),
    EventKind.CALL_ANSWERED: N_("Call answered"),
    EventKind.CALL_COMPLETED: N_("Call ended"),
    EventKind.CALL_BUSY: N_("Call busy or refused"),
    EventKind.CALL_FAILED: N_("Call failed"),
    EventKind.CALL_NO_ANSWER: N_("Call not answered"),
    EventKind.CALL_CANCELED: N_("Call cancelled"),
}

# The station reads a keypad answer by its outcome. The browser phone keeps the
# plain title above: it shows villagers what the handset did, and the detail
# line already says which key was pressed.
STATION_ANSWER_TITLES: dict[str, str] = {
    Answer.ACCEPT.value: N_("Accepted on the phone"),
    Answer.DECLINE.value: N_("Declined on the phone"),
}

ANSWERS: dict[str, str] = {
    Answer.ACCEPT.value: N_("Accept (1, on the way)"),
    Answer.DECLINE.value: N_("Decline (2, cannot come)"),
}
PURPOSES: dict[str, str] = {
    Purpose.ALERT.value: N_("Alert"),
    Purpose.CONFIRMATION.value: N_("Confirmation to caller"),
    Purpose.ACK_NOTICE.value: N_("Someone is on the way"),
    Purpose.ESCALATION.value: N_("Escalation"),
    Purpose.HELP.value: N_("Reply help"),
    Purpose.RECEIPT.value: N_("Late reply receipt"),
    Purpose.RECALL.value: N_("Called again"),
    Purpose.CALLER_CHECK.value: N_("Call back to the caller"),
    Purpose.TAKEN_NOTICE.value: N_("Station has taken charge"),
    Purpose.CANCEL_NOTICE.value: N_("Cancelled: misdial"),
    Purpose.ACCEPTED_DETAILS.value: N_("Caller's number and address, to the responder"),
}
# Who a level reaches; a caller connected at stage 0 talked with the group.
LEVELS: dict[int, str] = {0: N_("The group"), 1: N_("Officers"), 2: N_("Duty line")}
# The values of hotline.console.closing.Outcome, stored in a closed event's detail.
OUTCOMES: dict[str, str] = {
    "resolved": N_("Resolved"),
    "false_alarm": N_("False alarm"),
    "misdial": N_("Misdial"),
}
# The name services record when the station's duty line took the call.
DUTY_LINE_NAME = "duty line"

FAN_OUT = N_("%(rung)s phones rung, %(texted)s SMS")
UNREGISTERED = N_("%(phone)s (unregistered number)")
OUTAGE = N_("The call came in while the database was down")
MESSAGE = N_("%(phone)s: %(body)s")
ACKNOWLEDGED_BY_CALL = N_("%(name)s (on the phone)")
ACKNOWLEDGED_BY_SMS = N_("%(name)s (by SMS)")
ESCALATED_TO = N_("Level %(level)s, %(who)s: %(people)s")
TALK_TIME = N_("%(seconds)s s on the line")
ERROR = N_("error")

ACCEPTED_OF = N_("%(accepted)s of %(needed)s needed have accepted")
RECALLED = N_("round %(round)s: %(count)s members")
