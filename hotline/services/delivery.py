"""Delivery status: carriers' callbacks move a notification forward, never back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hotline.carriers.base import FailureReason
from hotline.db import rows_changed
from hotline.models import Channel, EventKind, Member, Notification, utcnow
from hotline.services.timeline import record_event

# Internal states first: pending (in the outbox) and claimed (a worker is sending it).
_SMS_RANK = {
    "pending": 0, "claimed": 1, "accepted": 2, "scheduled": 2, "queued": 2,
    "sending": 3, "sent": 4, "delivered": 5, "undelivered": 5, "failed": 5, "canceled": 5, "read": 6,
}
_CALL_RANK = {
    "pending": 0, "claimed": 1, "queued": 2, "initiated": 2, "ringing": 3, "in-progress": 4,
    "answered": 4, "completed": 5, "busy": 5, "failed": 5, "no-answer": 5, "canceled": 5,
}
FINAL_SMS = frozenset({"delivered", "undelivered", "failed", "canceled", "read"})
FINAL_CALL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def _ranks(channel: Channel | str) -> dict[str, int]:
    return _SMS_RANK if channel == Channel.SMS else _CALL_RANK


def status_rank(channel: Channel | str, status: str) -> int | None:
    """Where ``status`` stands in its channel's lifecycle; None if unknown."""
    return _ranks(channel).get(status)


def find_notification(session: Session, notification_id: int | None, sid: str | None) -> Notification | None:
    """Look a notification up by provider SID, or by our id for calls placed by ``<Dial>``."""
    if sid:
        found = session.scalar(select(Notification).where(Notification.provider_sid == sid))
        if found is not None:
            return found
    if notification_id is not None:
        found = session.get(Notification, notification_id)
        if found is not None and (found.provider_sid is None or sid is None or found.provider_sid == sid):
            return found
    return None


def record_status(
    session: Session,
    notification: Notification,
    *,
    status: str,
    sid: str | None = None,
    error_code: int | None = None,
    reason: FailureReason | None = None,
    now: datetime | None = None,
) -> bool:
    """Apply a carrier's delivery report; returns False if it changed nothing.

    The update is conditional on the stored status ranking lower, so late,
    duplicate, out-of-order and concurrent reports never move a status
    backward. A failure because the recipient opted out marks the number so.

    Args:
        status: The new status (a :class:`~hotline.carriers.base.DeliveryStatus` value).
        sid: The carrier's id for the message or call.
        error_code: The carrier's own code, kept for the record.
        reason: Why it failed, in the project's words.
    """
    now = now or utcnow()
    ranks = _ranks(notification.channel)
    new_rank = ranks.get(status)
    if new_rank is None:
        return False
    lower = [name for name, rank in ranks.items() if rank < new_rank]
    values: dict[str, object] = {"status": status, "status_at": now}
    if error_code is not None:
        values["error_code"] = error_code
    if reason is not None:
        values["failure_reason"] = str(reason)
    if sid and notification.provider_sid is None:
        values["provider_sid"] = sid
    changed = rows_changed(
        session,
        update(Notification)
        .where(Notification.id == notification.id, Notification.status.in_(lower))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not changed:
        return False
    # The row now holds exactly these values (the rest of it never changes after it is written),
    # so they are set on the object rather than read back with another SELECT.
    for name, value in values.items():
        set_committed_value(notification, name, value)
    if notification.incident_id is not None:
        record_event(
            session,
            notification.incident_id,
            EventKind.delivery(notification.channel, status),
            at=now,
            member_id=notification.member_id,
            notification_id=notification.id,
            phone=notification.phone,
            name=notification.recipient_name,
            purpose=str(notification.purpose),
            **({"error_code": error_code} if error_code is not None else {}),
            **({"reason": str(reason)} if reason is not None else {}),
        )
    if reason == FailureReason.OPTED_OUT:
        mark_opted_out(session, notification.phone, True)
    return True


def mark_opted_out(session: Session, phone: str, opted_out: bool) -> int:
    """Set the opt-out flag on every membership of ``phone``; returns how many changed."""
    members = session.scalars(select(Member).where(Member.phone == phone, Member.opted_out.is_not(opted_out))).all()
    for member in members:
        member.opted_out = opted_out
    return len(members)
