"""Station staff taking an incident in hand ("我来处理"): escalation stops, caller and group are told."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.db import rows_changed
from hotline.models import EventKind, Incident, IncidentStatus, Purpose, User, utcnow
from hotline.services.messages import compose
from hotline.services.outbox import Work, text_everyone_alerted
from hotline.services.timeline import record_event


class AlreadySettled(ValueError):
    """The incident was no longer waiting for someone: nothing was taken."""


def take_incident(
    session: Session, settings: Settings, incident: Incident, user: User, now: datetime | None = None
) -> Work:
    """Record that ``user`` handles ``incident``; stop its escalation; tell the caller and everyone alerted.

    The update is conditional on the incident still being open, so two
    officers pressing at once record one of them.

    Raises:
        AlreadySettled: Someone accepted, took or closed it first.
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    now = now or utcnow()
    won = rows_changed(
        session,
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == IncidentStatus.OPEN)
        .values(status=IncidentStatus.ACKNOWLEDGED, acknowledged_at=now, taken_by_id=user.id, taken_at=now)
        .execution_options(synchronize_session=False),
    )
    if not won:
        raise AlreadySettled(f"incident {incident.id} is {incident.status}")
    session.refresh(incident)
    record_event(session, incident.id, EventKind.TAKEN, at=now, by=user.username)
    notices = text_everyone_alerted(
        session, incident, purposes=(Purpose.ALERT, Purpose.ESCALATION, Purpose.CONFIRMATION),
        purpose=Purpose.TAKEN_NOTICE, key="taken",
        message=compose(settings, incident, "sms_taken", officer=user.username),
    )
    return Work(sms_ids=notices)
