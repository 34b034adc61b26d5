"""Timeline events: every step of an incident, with its time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hotline.models import EventKind, TimelineEvent, utcnow


def record_event(
    session: Session,
    incident_id: int,
    kind: EventKind,
    *,
    at: datetime | None = None,
    member_id: int | None = None,
    notification_id: int | None = None,
    **detail: Any,
) -> TimelineEvent:
    """Add one event to an incident's timeline (flushed with the session)."""
    event = TimelineEvent(
        incident_id=incident_id,
        kind=kind,
        at=at or utcnow(),
        member_id=member_id,
        notification_id=notification_id,
        detail=detail,
    )
    session.add(event)
    return event
