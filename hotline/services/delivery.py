"""Delivery status: carriers' callbacks move a notification forward, never back."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from hotline.carriers.base import FailureReason
from hotline.models import Channel, EventKind, Member, Notification, TimelineEvent, utcnow
from hotline.models.base import UTCDateTime

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

# Core tables: a report runs one statement on them, without loading a mapped object.
_NOTIFICATIONS = cast(Table, Notification.__table__)
_EVENTS = cast(Table, TimelineEvent.__table__)


def _ranks(channel: Channel | str) -> dict[str, int]:
    return _SMS_RANK if channel == Channel.SMS else _CALL_RANK


def status_rank(channel: Channel | str, status: str) -> int | None:
    """Where ``status`` stands in its channel's lifecycle; None if unknown."""
    return _ranks(channel).get(status)


@dataclass(frozen=True)
class Advanced:
    """A notification that a report moved forward, as the row now stands.

    Attributes:
        id: The notification.
        channel: Its channel (sms or call), which says what counts as a failure.
        incident_id: The incident it alerted for; None for other senders.
        phone: The number it went to.
    """

    id: int
    channel: str
    incident_id: int | None
    phone: str


def _earlier_than(status: str) -> ColumnElement[bool] | None:
    """The rows ``status`` would move forward: on a channel that has it, stored at a lower rank.

    None when neither channel has ``status``: such a report changes nothing.
    """
    ways = []
    for channel in (Channel.SMS, Channel.CALL):
        ranks = _ranks(channel)
        if status in ranks:
            lower = [name for name, rank in ranks.items() if rank < ranks[status]]
            ways.append(and_(_NOTIFICATIONS.c.channel == str(channel), _NOTIFICATIONS.c.status.in_(lower)))
    return or_(*ways) if ways else None


def _values(status: str, now: datetime, error_code: int | None, reason: FailureReason | None) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status, "status_at": now}
    if error_code is not None:
        values["error_code"] = error_code
    if reason is not None:
        values["failure_reason"] = str(reason)
    return values


def _record_event(
    session: Session, row: Row[Any], status: str, now: datetime, error_code: int | None, reason: FailureReason | None
) -> None:
    """Write the timeline event of a move (``row`` as the UPDATE returned it), for an incident's rows only.

    Its detail says who it went to and, for a failure, why.
    """
    if row.incident_id is None:
        return
    detail: dict[str, Any] = {"phone": row.phone, "name": row.recipient_name, "purpose": str(row.purpose)}
    if error_code is not None:
        detail["error_code"] = error_code
    if reason is not None:
        detail["reason"] = str(reason)
    session.execute(insert(_EVENTS).values(
        incident_id=row.incident_id, kind=EventKind.delivery(row.channel, status), at=now,
        member_id=row.member_id, notification_id=row.id, detail=detail,
    ))


_RETURNED = (
    _NOTIFICATIONS.c.id, _NOTIFICATIONS.c.channel, _NOTIFICATIONS.c.incident_id, _NOTIFICATIONS.c.member_id,
    _NOTIFICATIONS.c.phone, _NOTIFICATIONS.c.recipient_name, _NOTIFICATIONS.c.purpose,
)


def apply_report(
    session: Session,
    *,
    sid: str,
    notification_id: int | None,
    status: str,
    error_code: int | None = None,
    reason: FailureReason | None = None,
    now: datetime | None = None,
) -> Advanced | None:
    """Apply a carrier's delivery report to the row it is about; None if it changed nothing.

    The row is the one the carrier knows as ``sid``; failing that (a call
    placed by ``<Dial>``, or a report that arrived before the worker wrote
    the carrier's id down), row ``notification_id`` if no carrier id is
    stored on it yet, which then takes ``sid``. The row is found, checked
    and moved by one conditional UPDATE: only a status that ranks higher on
    the row's channel than the stored one moves it, so late, duplicate,
    out-of-order and concurrent reports change nothing. A move writes its
    timeline event (for an incident's rows) in the same statement on
    PostgreSQL, and in a second one elsewhere. A failure because the
    recipient opted out marks the number so.

    Args:
        sid: The carrier's id for the message or call.
        notification_id: The row the callback URL named (``?n=``).
        status: The new status (a :class:`~hotline.carriers.base.DeliveryStatus` value).
        error_code: The carrier's own code, kept for the record.
        reason: Why it failed, in the project's words.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    if status not in _SMS_RANK and status not in _CALL_RANK:
        return None  # neither channel has it: it moves nothing
    now = now or utcnow()
    values = {"sid": sid, "n": notification_id, "now": now, "code": error_code,
              "reason": None if reason is None else str(reason)}
    with_event = session.get_bind().dialect.name == "postgresql"
    statement = _report_statement(status, error_code is not None, reason is not None, with_event)
    row = session.execute(statement, values).first()
    if row is None:
        return None
    if not with_event:
        _record_event(session, row, status, now, error_code, reason)
    if reason == FailureReason.OPTED_OUT:
        mark_opted_out(session, row.phone, True)
    return Advanced(row.id, row.channel, row.incident_id, row.phone)


@functools.lru_cache(maxsize=256)
def _report_statement(status: str, has_code: bool, has_reason: bool, with_event: bool) -> Executable:
    """The statement :func:`apply_report` runs for reports of this shape, built once.

    Its parameters are ``sid``, ``n``, ``now``, ``code`` and ``reason`` (named after no column:
    an UPDATE takes a parameter named after a column as a value to set);
    building a statement with a writing CTE costs more than running it, so
    each shape is built the first time it is needed and kept.
    """
    forward = _earlier_than(status)
    assert forward is not None  # apply_report returns before asking for an unknown status
    sid = bindparam("sid", type_=String)
    now = bindparam("now", type_=UTCDateTime())
    values: dict[str, Any] = {"provider_sid": sid, "status": status, "status_at": now}
    if has_code:
        values["error_code"] = bindparam("code", type_=Integer)
    if has_reason:
        values["failure_reason"] = bindparam("reason", type_=String)
    by_sid = select(_NOTIFICATIONS.c.id).where(_NOTIFICATIONS.c.provider_sid == sid).scalar_subquery()
    moved = (
        update(_NOTIFICATIONS)
        .where(
            _NOTIFICATIONS.c.id == func.coalesce(by_sid, bindparam("n", type_=Integer)),
            or_(_NOTIFICATIONS.c.provider_sid == sid, _NOTIFICATIONS.c.provider_sid.is_(None)),
            forward,
        )
        .values(**values)
        .returning(*_RETURNED)
    )
    if not with_event:
        return moved
    row = moved.cte("moved")
    kinds = {
        str(channel): str(EventKind.delivery(channel, status))
        for channel in (Channel.SMS, Channel.CALL) if status in _ranks(channel)
    }
    # The same keys, in the same order, as _record_event writes.
    detail: list[Any] = ["phone", row.c.phone, "name", row.c.recipient_name, "purpose", row.c.purpose]
    if has_code:
        detail += ["error_code", bindparam("code", type_=Integer)]
    if has_reason:
        detail += ["reason", bindparam("reason", type_=String)]
    event = insert(_EVENTS).from_select(
        ["incident_id", "kind", "at", "member_id", "notification_id", "detail"],
        select(
            row.c.incident_id, case(kinds, value=row.c.channel), now, row.c.member_id, row.c.id,
            func.json_build_object(*detail),
        ).where(row.c.incident_id.is_not(None)),
    ).cte("event")
    return select(*row.c).add_cte(event)


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
    """Apply a carrier's delivery report to a row already loaded; returns False if it changed nothing.

    For receipts that name their row themselves (Aliyun's). The update is
    conditional on the stored status ranking lower, so late, duplicate,
    out-of-order and concurrent reports never move a status backward. A
    failure because the recipient opted out marks the number so. The loaded
    object is given the values written.

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
    values = _values(status, now, error_code, reason)
    if sid and notification.provider_sid is None:
        values["provider_sid"] = sid
    row = session.execute(
        update(_NOTIFICATIONS)
        .where(_NOTIFICATIONS.c.id == notification.id, _NOTIFICATIONS.c.status.in_(lower))
        .values(**values)
        .returning(*_RETURNED)
    ).first()
    if row is None:
        return False
    # The row now holds exactly these values (the rest of it never changes after it is written),
    # so they are set on the object rather than read back with another SELECT.
    for name, value in values.items():
        set_committed_value(notification, name, value)
    _record_event(session, row, status, now, error_code, reason)
    if reason == FailureReason.OPTED_OUT:
        mark_opted_out(session, notification.phone, True)
    return True


def mark_opted_out(session: Session, phone: str, opted_out: bool) -> int:
    """Set the opt-out flag on every membership of ``phone``; returns how many changed."""
    members = session.scalars(select(Member).where(Member.phone == phone, Member.opted_out.is_not(opted_out))).all()
    for member in members:
        member.opted_out = opted_out
    return len(members)
