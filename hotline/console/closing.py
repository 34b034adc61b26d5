"""Closing an incident after review: outcome, note, who and when."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from hotline.models import EventKind, Incident, IncidentStatus, utcnow
from hotline.services.timeline import record_event

MAX_NOTE_LENGTH = 2000


class Outcome(enum.StrEnum):
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"
    MISDIAL = "misdial"


class CloseError(ValueError):
    """The incident was not closed; the message says why."""


def close_incident(
    session: Session,
    incident: Incident,
    *,
    user_id: int,
    username: str,
    outcome: str,
    note: str = "",
    now: datetime | None = None,
) -> None:
    """Close ``incident`` with ``outcome`` and record who did it and when.

    The update is conditional on the incident not being closed yet, so two
    staff closing at once cannot overwrite each other's outcome. Flushes but
    does not commit.

    Raises:
        CloseError: The outcome is not one of :class:`Outcome`, the note is
            too long, or the incident is already closed.
    """
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise CloseError(f"unknown outcome {outcome!r}") from None
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise CloseError(f"the note is longer than {MAX_NOTE_LENGTH} characters")
    now = now or utcnow()
    result = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status != IncidentStatus.CLOSED)
        .values(
            status=IncidentStatus.CLOSED,
            closed_at=now,
            closed_by_id=user_id,
            outcome=chosen.value,
            close_note=note or None,
        )
        .execution_options(synchronize_session=False)
    )
    # An UPDATE's result is a CursorResult, which counts the rows it matched.
    if not cast(CursorResult[Any], result).rowcount:
        raise CloseError("the incident is already closed")
    record_event(session, incident.id, EventKind.CLOSED, at=now, outcome=chosen.value, by=username, note=note)
    session.flush()
    session.refresh(incident)
