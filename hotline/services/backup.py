"""Backup numbers: when a member's own number cannot be reached, try their second once.

A member may have a second number (``Member.backup_phone``, often a son's or
daughter's). When an alert or escalation to the member's own number fails
(refused by the carrier, undelivered, busy, not answered), that number is
called or texted instead, on the same channel, with the same message, once
for the incident and only while nobody has acknowledged it.

The row is written in the caller's transaction; the caller enqueues it after
commit (:func:`backup_work` says what to enqueue).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.carriers.base import DeliveryStatus, FailureReason
from hotline.models import Channel, EventKind, IncidentStatus, Member, Notification, Purpose
from hotline.services.messages import Message
from hotline.services.outbox import INCIDENT, Work, add_notification, dedupe_key, find_by_dedupe_key
from hotline.services.timeline import record_event

# Statuses that say the first number did not get the message or take the call.
# A cancelled call is not among them: it was stopped because someone else accepted.
FAILED_SMS = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED})
FAILED_CALL = frozenset({DeliveryStatus.FAILED, DeliveryStatus.BUSY, DeliveryStatus.NO_ANSWER})
# Only what asks someone to come; notices and receipts can wait for the member's own phone.
BACKED_UP_PURPOSES = frozenset({Purpose.ALERT, Purpose.ESCALATION})


def backup_key(original_id: int) -> str:
    """The outbox key of the backup for notification ``original_id``: one backup per failure."""
    return f"backup-{original_id}"


def _failed(notification: Notification) -> bool:
    if notification.channel == Channel.SMS:
        # A member who texted STOP asked for no texts: their family's phone is not a way around that.
        return notification.status in FAILED_SMS and notification.failure_reason != FailureReason.OPTED_OUT
    return notification.status in FAILED_CALL


def needs_backup(notification: Notification, member: Member | None) -> bool:
    """Whether a failed notification should be sent again to the member's backup number.

    True only when ``notification`` went to ``member``'s own number (a backup
    that fails starts nothing more) for an alert or escalation, it ended in a
    failure (for SMS, not because the member opted out), the member has a
    different backup number, and the incident is still open. Reads only what
    it is given; writes nothing.
    """
    if member is None or not member.active or notification.member_id != member.id:
        return False
    if not member.backup_phone or member.backup_phone == member.phone or notification.phone != member.phone:
        return False
    if notification.purpose not in BACKED_UP_PURPOSES:
        return False
    if notification.channel == Channel.SMS and member.opted_out:
        return False
    incident = notification.incident
    if incident is None or incident.status != IncidentStatus.OPEN:
        return False
    return _failed(notification)


def _already_reached(session: Session, notification: Notification, phone: str) -> bool:
    """Whether the incident already has a notification to ``phone`` on the same channel.

    So the backup is tried once per incident and channel, however many of the
    member's notifications fail, and not at all when that phone was alerted
    in its own right (a son who is a member of the group too).
    """
    found = session.scalar(
        select(Notification.id).where(
            Notification.incident_id == notification.incident_id,
            Notification.channel == notification.channel,
            Notification.phone == phone,
            Notification.purpose.in_(BACKED_UP_PURPOSES),
        ).limit(1)
    )
    return found is not None


def add_backup(session: Session, notification: Notification) -> Notification | None:
    """Add the backup of a failed notification to the outbox, with its timeline event.

    The backup goes to the member's backup number on the same channel, for the
    same purpose and escalation level, with the same text and template, and is
    placed by a worker (never by a ``<Dial>``). It keeps the member, so an
    acceptance from the backup number counts as the member's.

    Returns:
        The new row (flushed, so it has its id), or None when no backup is
        due (see :func:`needs_backup`) or one was already written: a repeated
        report, or a concurrent one that wrote it first, adds nothing.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    member = notification.member
    if not needs_backup(notification, member):
        return None
    assert member is not None and member.backup_phone is not None  # needs_backup said so
    incident = notification.incident
    assert incident is not None
    phone = member.backup_phone
    key = backup_key(notification.id)
    written = dedupe_key(INCIDENT, incident.id, notification.purpose, notification.channel, key, phone)
    if find_by_dedupe_key(session, written) is not None or _already_reached(session, notification, phone):
        return None
    message = None
    if notification.channel == Channel.SMS:
        message = Message(
            template=notification.template, params=dict(notification.template_params or {}), text=notification.body
        )
    try:
        with session.begin_nested():
            backup = add_notification(
                session, incident, phone=phone, channel=Channel(notification.channel),
                purpose=Purpose(notification.purpose), key=key, member=member, message=message,
                level=notification.escalation_level, via_dial=False,
            )
            session.flush()
    except IntegrityError:
        return None  # a concurrent report wrote it first
    record_event(
        session, incident.id, EventKind.BACKUP_NOTIFIED, member_id=member.id, notification_id=backup.id,
        name=member.name, phone=phone, first_phone=notification.phone, channel=str(notification.channel),
        purpose=str(notification.purpose), failed=notification.status, reason=notification.failure_reason,
    )
    return backup


def backup_after_failure(session: Session, notification: Notification) -> int | None:
    """Call after recording a failure: the id of the backup to enqueue after commit, if one was written.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    backup = add_backup(session, notification)
    return backup.id if backup is not None else None


def backup_work(channel: Channel | str, backup_id: int | None) -> Work:
    """What to enqueue once the backup ``backup_id`` (on ``channel``) is committed; empty for None."""
    if backup_id is None:
        return Work()
    if channel == Channel.SMS:
        return Work(sms_ids=[backup_id])
    return Work(call_ids=[backup_id])
