"""What the database already holds, loaded in a few bulk queries before validation.

Validation then works in memory: a 33,000-row file must not cost 33,000
queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import Group, Member, Role, Station, Village

# Stays under SQLite's historical limit of 999 bound parameters per statement.
_IN_CHUNK = 900
CALLER_ROLES = tuple(role.value for role in Role if role.may_call_for_help)


@dataclass(frozen=True)
class ExistingMember:
    """A member row as stored, detached from any session."""

    id: int
    group_id: int
    name: str
    phone: str
    role: Role
    address: str
    active: bool
    sms_capable: bool
    backup_phone: str | None = None


@dataclass(frozen=True)
class CallerElsewhere:
    """A household or leader number held by a group of another station."""

    phone: str
    role: Role
    station: str
    village: str
    group: str


@dataclass
class Snapshot:
    """A station's villages, groups and members, and callers held elsewhere.

    ``station_id`` is None when the station does not exist yet; then every
    mapping but ``callers_elsewhere`` is empty.
    """

    station_name: str
    station_id: int | None = None
    max_group_size: int | None = None
    villages: dict[str, int] = field(default_factory=dict)
    groups: dict[tuple[str, str], int] = field(default_factory=dict)
    # Group id → its responders needed (Group.min_acceptances).
    needed: dict[int, int] = field(default_factory=dict)
    members: dict[tuple[int, str], ExistingMember] = field(default_factory=dict)
    callers_elsewhere: dict[str, CallerElsewhere] = field(default_factory=dict)

    def group_names(self) -> dict[int, tuple[str, str]]:
        """Group id → (village, group), for messages about existing members."""
        return {group_id: key for key, group_id in self.groups.items()}

    def station_callers(self) -> dict[str, ExistingMember]:
        """Phone → the household or leader of this station holding it."""
        return {member.phone: member for member in self.members.values() if member.role.may_call_for_help}


def load_snapshot(session: Session, station_name: str, caller_phones: Iterable[str] = ()) -> Snapshot:
    """Load a station's directory, and which of ``caller_phones`` other stations hold.

    Args:
        session: Where to read; nothing is written.
        station_name: The station to load; it need not exist.
        caller_phones: E.164 numbers the file gives a household or leader;
            only these are looked up in other stations.
    """
    station = session.execute(
        select(Station.id, Station.max_group_size).where(Station.name == station_name)
    ).one_or_none()
    snapshot = Snapshot(station_name=station_name)
    if station is not None:
        snapshot.station_id, snapshot.max_group_size = station.id, station.max_group_size
        _load_station(session, snapshot)
    _load_callers_elsewhere(session, snapshot, caller_phones)
    return snapshot


def _load_station(session: Session, snapshot: Snapshot) -> None:
    for village_id, name in session.execute(
        select(Village.id, Village.name).where(Village.station_id == snapshot.station_id)
    ):
        snapshot.villages[name] = village_id
    village_names = {village_id: name for name, village_id in snapshot.villages.items()}
    for group_id, village_id, name, needed in session.execute(
        select(Group.id, Group.village_id, Group.name, Group.min_acceptances)
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == snapshot.station_id)
    ):
        snapshot.groups[(village_names[village_id], name)] = group_id
        snapshot.needed[group_id] = needed or 1
    rows = session.execute(
        select(
            Member.id,
            Member.group_id,
            Member.name,
            Member.phone,
            Member.role,
            Member.address,
            Member.active,
            Member.sms_capable,
            Member.backup_phone,
        )
        .join(Group, Member.group_id == Group.id)
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == snapshot.station_id)
    )
    for row in rows:
        snapshot.members[(row.group_id, row.phone)] = ExistingMember(
            id=row.id,
            group_id=row.group_id,
            name=row.name,
            phone=row.phone,
            role=Role(row.role),
            address=row.address or "",
            active=bool(row.active),
            sms_capable=bool(row.sms_capable),
            backup_phone=row.backup_phone or None,
        )


def _load_callers_elsewhere(session: Session, snapshot: Snapshot, caller_phones: Iterable[str]) -> None:
    phones = sorted(set(caller_phones))
    for start in range(0, len(phones), _IN_CHUNK):
        query = (
            select(Member.phone, Member.role, Station.name, Village.name, Group.name)
            .join(Group, Member.group_id == Group.id)
            .join(Village, Group.village_id == Village.id)
            .join(Station, Village.station_id == Station.id)
            .where(Member.phone.in_(phones[start : start + _IN_CHUNK]), Member.role.in_(CALLER_ROLES))
        )
        if snapshot.station_id is not None:
            query = query.where(Station.id != snapshot.station_id)
        for phone, role, station, village, group in session.execute(query):
            snapshot.callers_elsewhere[phone] = CallerElsewhere(
                phone=phone, role=Role(role), station=station, village=village, group=group
            )
