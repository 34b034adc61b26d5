"""Alerts raised over HTTP by trigger sources: one-key alarm buttons, operators' group-call platforms, other systems.

A source belongs to one station and holds its own bearer token (only the
hash is stored). An alert it raises opens an incident for the caller's
group exactly as a call would, once per idempotency key; a caller in no
group is forwarded to the station's duty line, like a text from an
unregistered number, and the duty line is called until someone takes it.
A source never raises an alert for another station's households.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.base import Capabilities
from hotline.models import EventKind, Incident, Station, TimelineEvent, TriggerAlert, TriggerSource, utcnow
from hotline.services.inbound_sms import forward_to_duty_line
from hotline.services.incidents import find_caller, open_incident
from hotline.services.outbox import Work

TOKEN_PREFIX = "hlt_"
SOURCE = "trigger"  # an incident's source when a trigger raised it


class TriggerError(ValueError):
    """A trigger source cannot be added or an alert cannot be raised; the message says why."""


class OtherStation(TriggerError):
    """The caller belongs to a group of another station than the source's."""


def token_hash(token: str) -> str:
    """The stored form of a source's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_source(session: Session, name: str, station_name: str) -> tuple[TriggerSource, str]:
    """Add a trigger source for a station; returns it and its token, which is shown once and never stored.

    Raises:
        TriggerError: No station has that name, or a source already has this name.
    """
    station = session.scalar(select(Station).where(Station.name == station_name))
    if station is None:
        raise TriggerError(f"没有名为 {station_name!r} 的派出所")
    if session.scalar(select(TriggerSource.id).where(TriggerSource.name == name)) is not None:
        raise TriggerError(f"已有名为 {name!r} 的报警来源")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    source = TriggerSource(name=name, station_id=station.id, token_hash=token_hash(token))
    session.add(source)
    session.flush()
    return source, token


def source_for_token(session: Session, token: str) -> TriggerSource | None:
    """The active source holding ``token``, if any."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return session.scalar(
        select(TriggerSource).where(TriggerSource.token_hash == token_hash(token), TriggerSource.revoked_at.is_(None))
    )


@dataclass
class Raised:
    """The result of :func:`raise_alert`: the incident, whether this request opened it, and what to enqueue."""

    incident: Incident
    created: bool
    work: Work = field(default_factory=Work)


def _earlier(session: Session, source: TriggerSource, key: str) -> Incident | None:
    alert = session.scalar(
        select(TriggerAlert).where(TriggerAlert.source_id == source.id, TriggerAlert.idempotency_key == key)
    )
    return session.get(Incident, alert.incident_id) if alert is not None and alert.incident_id else None


def raise_alert(
    session: Session,
    settings: Settings,
    source: TriggerSource,
    *,
    caller_phone: str,
    idempotency_key: str,
    note: str = "",
    capabilities: Capabilities | None = None,
) -> Raised:
    """Open an incident for ``caller_phone`` as a call would, once per ``idempotency_key`` of ``source``.

    Raises:
        OtherStation: The caller is in a group of another station.
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    earlier = _earlier(session, source, idempotency_key)
    if earlier is not None:
        return Raised(incident=earlier, created=False)
    caller = find_caller(session, caller_phone)
    if caller is not None and caller.group.village.station_id != source.station_id:
        raise OtherStation("呼救人属于其他派出所的联防小组")
    alert = TriggerAlert(
        source_id=source.id, idempotency_key=idempotency_key, caller_phone=caller_phone,
        note=note[:500], received_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        # The same key, sent twice at once: the other request opens the incident.
        session.expire_all()
        earlier = _earlier(session, source, idempotency_key)
        if earlier is None:
            raise
        return Raised(incident=earlier, created=False)
    opened = open_incident(
        session, settings, caller_phone=caller_phone, source=SOURCE, capabilities=capabilities, now=alert.received_at
    )
    alert.incident_id = opened.incident.id
    _record_as_raised_by(session, opened.incident, source, note)
    forwarded = None
    if caller is None:
        # In no group: the source's station takes it, by its duty line, texted what the source said
        # and called (and called again, see escalation.first_check) until someone takes it.
        opened.incident.station = source.station
        session.flush()
        forwarded = forward_to_duty_line(session, settings, opened.incident, note or source.name)
    work = opened.work(settings) + Work(sms_ids=[forwarded] if forwarded else [])
    session.flush()
    return Raised(incident=opened.incident, created=True, work=work)


def _record_as_raised_by(session: Session, incident: Incident, source: TriggerSource, note: str) -> None:
    """Give the incident's opening event its own kind, naming the source and its note.

    :func:`open_incident` records any opening that is neither a call nor a
    drill as a text for help; the station should read that a button or
    another system raised this one, and which.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed.
    """
    opening = session.scalar(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind == EventKind.SMS_RECEIVED
        )
    )
    if opening is None:
        return
    opening.kind = EventKind.TRIGGER_RAISED
    # A new mapping, so the JSON column sees the change.
    opening.detail = {**(opening.detail or {}), "source": source.name, "note": note[:200]}
