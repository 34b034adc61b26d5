"""Opting out of broadcasts: TD, 退订 or STOP stops a number's broadcasts, never its emergency alerts.

Bulk messages in China must say how to unsubscribe, and an unsubscribe must
be honoured; but a villager who is tired of daily bulletins still needs to
hear when a neighbour calls for help. So a keyword writes a
:class:`BroadcastOptOut` for the number and leaves ``Member.opted_out``
alone: that flag is set only when the carrier itself refuses the number's
texts (Twilio's error 21610 after a STOP sent to it), since the carrier
would refuse an alert's text too. START or 订阅 removes the opt-out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.models import BroadcastOptOut, Group, Member, Village, utcnow


def opt_out(session: Session, phone: str, keyword: str = "", now: datetime | None = None) -> bool:
    """Record that ``phone`` wants no more broadcasts; False if it had already said so."""
    if session.scalar(select(BroadcastOptOut.id).where(BroadcastOptOut.phone == phone)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(BroadcastOptOut(phone=phone, keyword=keyword[:40], created_at=now or utcnow()))
            session.flush()
    except IntegrityError:  # the same number's other text, at the same moment
        return False
    return True


def opt_in(session: Session, phone: str) -> bool:
    """Let ``phone`` receive broadcasts again; False if it had not opted out."""
    removed = session.execute(delete(BroadcastOptOut).where(BroadcastOptOut.phone == phone))
    return bool(getattr(removed, "rowcount", 0))


def opted_out_phones(session: Session, phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` opted out of broadcasts."""
    wanted = list(set(phones))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # keeps IN lists within every database's limits
        chunk = wanted[start : start + 500]
        found.update(session.scalars(select(BroadcastOptOut.phone).where(BroadcastOptOut.phone.in_(chunk))))
    return found


def station_opt_outs(session: Session, station_id: int) -> list[tuple[BroadcastOptOut, list[Member]]]:
    """The opt-outs of numbers serving in the station's groups, newest first, with the members they belong to."""
    rows = session.execute(
        select(BroadcastOptOut, Member)
        .join(Member, Member.phone == BroadcastOptOut.phone)
        .join(Group, Member.group_id == Group.id)
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station_id)
        .order_by(BroadcastOptOut.created_at.desc(), BroadcastOptOut.id.desc(), Member.id)
    ).all()
    grouped: dict[int, tuple[BroadcastOptOut, list[Member]]] = {}
    for record, member in rows:
        grouped.setdefault(record.id, (record, []))[1].append(member)
    return list(grouped.values())
