"""Calling again: members who have not answered are rung again until the alert is covered.

A first ring can be missed (a phone in another room, a call that dropped). So,
every ``HOTLINE_RECALL_INTERVAL`` seconds and at most ``HOTLINE_RECALL_ROUNDS``
times, the group's members who neither accepted nor declined, and whose
last call has ended, are called again with the same screening. A number
called more recently than the carrier allows (China's carriers: about one call
a minute per number) is skipped this round.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.base import Capabilities, DeliveryStatus
from hotline.models import Channel, EventKind, Incident, IncidentStatus, Member, Notification, Purpose, Response, utcnow
from hotline.services.outbox import Work, add_notification, recall_later
from hotline.services.timeline import record_event

_ENDED = frozenset(
    {DeliveryStatus.COMPLETED, DeliveryStatus.BUSY, DeliveryStatus.NO_ANSWER, DeliveryStatus.FAILED,
     DeliveryStatus.CANCELED}
)


def first_recall(settings: Settings, incident: Incident) -> Work:
    """The first round of calling again, scheduled when an incident opens with a group to alert."""
    if settings.recall_rounds < 1 or incident.unregistered or incident.group_id is None:
        return Work()
    return Work(later=[recall_later(incident.id, 1, settings.recall_interval)])


def due_for_recall(
    members: Iterable[Member],
    calls: Iterable[Notification],
    answered: set[str],
    now: datetime,
    spacing: timedelta = timedelta(0),
) -> list[Member]:
    """Members to call again (pure): not answered either way, and every call to them over, none recent.

    A member with no call at all (a landline that failed to queue, say) is not
    rung by this path: the first fan-out decides who is called.
    """
    by_phone: dict[str, list[Notification]] = {}
    for call in calls:
        by_phone.setdefault(call.phone, []).append(call)
    chosen = []
    for member in members:
        tried = by_phone.get(member.phone, [])
        if not member.active or member.phone in answered or not tried:
            continue
        if any(call.status not in _ENDED for call in tried):
            continue  # still ringing, or not yet placed
        if any(now - call.created_at < spacing for call in tried):
            continue
        chosen.append(member)
    return chosen


def recall_members(
    session: Session,
    settings: Settings,
    incident: Incident,
    round_: int,
    now: datetime | None = None,
    capabilities: Capabilities | None = None,
) -> Work:
    """Run one round of calling again, and schedule the next while rounds remain.

    Nothing happens once the alert is covered (acknowledged), taken by staff
    or closed.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    now = now or utcnow()
    if incident.status != IncidentStatus.OPEN or incident.group is None or round_ > settings.recall_rounds:
        return Work()
    calls = session.scalars(
        select(Notification).where(
            Notification.incident_id == incident.id,
            Notification.channel == Channel.CALL,
            Notification.purpose.in_((Purpose.ALERT, Purpose.RECALL)),
        )
    ).all()
    answered = set(session.scalars(select(Response.phone).where(Response.incident_id == incident.id)).all())
    members = [m for m in incident.group.members if m.phone != incident.caller_phone]
    work = Work()
    spacing = timedelta(seconds=capabilities.min_call_spacing if capabilities else 0)
    for member in due_for_recall(members, calls, answered, now, spacing):
        call = add_notification(
            session, incident, phone=member.phone, channel=Channel.CALL, purpose=Purpose.RECALL,
            key=f"recall-{round_}", member=member,
        )
        session.flush()
        work.call_ids.append(call.id)
    if work.call_ids:
        record_event(
            session, incident.id, EventKind.MEMBERS_RECALLED, at=now, round=round_,
            phones=[n.phone for n in session.scalars(select(Notification).where(Notification.id.in_(work.call_ids)))],
        )
    if round_ < settings.recall_rounds:
        work.later.append(recall_later(incident.id, round_ + 1, settings.recall_interval))
    return work
