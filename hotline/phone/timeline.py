"""An incident's timeline as the browser phone shows it live, in Chinese with time since the call.

The rows come from :mod:`hotline.presenters.timeline`, the same presenter as
the console's incident page; this module only picks the caller's incident
and shapes the JSON the page polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import Incident, TimelineEvent, utcnow
from hotline.presenters import timeline as presenter

# The page itself is Chinese only (hotline/phone/templates/phone/index.html).
LANGUAGE = "zh"
STATUS_LABELS = {"open": "等待响应", "acknowledged": "已有人响应", "closed": "已结案"}

clock = presenter.clock


def title(kind: str) -> str:
    """A short Chinese heading for a timeline event kind; unknown kinds are shown as they are."""
    return presenter.event_title(kind, {}, LANGUAGE, presenter.Audience.VILLAGER)


def detail(kind: str, values: Mapping[str, Any]) -> str:
    """One line saying who and what, from an event's stored detail."""
    return presenter.event_detail(kind, values, LANGUAGE)


def latest_incident(session: Session, caller_phone: str) -> Incident | None:
    """The newest incident ``caller_phone`` opened, by call or by SMS."""
    return session.scalar(
        select(Incident)
        .where(Incident.caller_phone == caller_phone)
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
        .limit(1)
    )


def _row_json(row: presenter.TimelineRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "offset": row.seconds,
        "clock": row.clock,
        "title": row.title,
        "detail": row.detail,
        "key": row.key,
    }


def timeline_json(session: Session, incident: Incident, now: datetime | None = None) -> dict[str, Any]:
    """The incident's summary and every timeline event, oldest first; the page filters the key steps."""
    now = now or utcnow()
    events = session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    ).all()
    rows = presenter.timeline_rows(events, incident.opened_at, language=LANGUAGE, audience=presenter.Audience.VILLAGER)
    responder = incident.acknowledged_by.name if incident.acknowledged_by is not None else None
    return {
        "incident": {
            "id": incident.id,
            "status": str(incident.status),
            "status_label": STATUS_LABELS.get(str(incident.status), str(incident.status)),
            "source": incident.source,
            "caller_phone": incident.caller_phone,
            "caller_name": incident.caller_name,
            "unregistered": incident.unregistered,
            "escalation_level": incident.escalation_level,
            "acknowledged_by": responder,
            "elapsed": round((now - incident.opened_at).total_seconds(), 1),
        },
        "events": [_row_json(row) for row in rows],
    }
