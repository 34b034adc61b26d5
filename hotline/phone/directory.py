"""Who the browser phone can be: every number in the directory, and the phones one call rings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hotline.models import Group, Member, Role, Station, Village

ROLE_LABELS = {
    Role.HOUSEHOLD.value: "求助户",
    Role.LEADER.value: "联防组长",
    Role.ASSISTANT.value: "警务助理",
    Role.OFFICER.value: "社区民警",
}
DUTY_LINE_ROLE = "duty"
DUTY_LINE_LABEL = "派出所值班电话"


@dataclass(frozen=True)
class Person:
    """One phone as the page shows it.

    Attributes:
        role: A :class:`~hotline.models.Role` value, or ``"duty"`` for a station's duty line.
        may_call_for_help: The hotline finds this number's group when it calls in.
    """

    phone: str
    name: str
    role: str
    active: bool = True
    may_call_for_help: bool = False

    @property
    def role_label(self) -> str:
        return DUTY_LINE_LABEL if self.role == DUTY_LINE_ROLE else ROLE_LABELS.get(self.role, self.role)

    def to_json(self) -> dict[str, object]:
        return {
            "phone": self.phone,
            "name": self.name,
            "role": self.role,
            "role_label": self.role_label,
            "may_call_for_help": self.may_call_for_help,
        }


@dataclass
class GroupEntry:
    id: int
    name: str
    people: list[Person] = field(default_factory=list)


@dataclass
class VillageEntry:
    name: str
    groups: list[GroupEntry] = field(default_factory=list)


@dataclass
class StationEntry:
    name: str
    duty_line: Person | None
    villages: list[VillageEntry] = field(default_factory=list)


@dataclass(frozen=True)
class CallerView:
    """A chosen caller and the phones an alert from them would ring.

    Attributes:
        caller: The chosen number, as the directory names it.
        group_name: ``村 / 小组`` of the caller's group, empty if none.
        watched: The group's other members (one per number), then the duty line.
        registered: False when the hotline will treat the number as unregistered
            (it is no household's or leader's), so the call goes to the duty line.
    """

    caller: Person
    group_name: str
    watched: list[Person]
    registered: bool

    def to_json(self) -> dict[str, object]:
        """What the page's script needs: who is who, and which numbers to watch."""
        people = [self.caller, *self.watched]
        return {
            "caller": self.caller.phone,
            "watched": [person.phone for person in self.watched],
            "people": {person.phone: person.to_json() for person in people},
        }


def _person(member: Member) -> Person:
    return Person(
        phone=member.phone,
        name=member.name,
        role=str(member.role),
        active=member.active,
        may_call_for_help=Role(member.role).may_call_for_help,
    )


def _duty_line(station: Station) -> Person | None:
    if not station.duty_phone:
        return None
    return Person(phone=station.duty_phone, name=f"{station.name}值班室", role=DUTY_LINE_ROLE)


def directory_tree(session: Session) -> list[StationEntry]:
    """Every station, village, group and member, in name order (members as entered)."""
    stations = session.scalars(
        select(Station)
        .order_by(Station.name)
        .options(selectinload(Station.villages).selectinload(Village.groups).selectinload(Group.members))
    ).all()
    tree = []
    for station in stations:
        entry = StationEntry(name=station.name, duty_line=_duty_line(station))
        for village in station.villages:
            village_entry = VillageEntry(name=village.name)
            for group in village.groups:
                village_entry.groups.append(
                    GroupEntry(id=group.id, name=group.name, people=[_person(m) for m in group.members])
                )
            entry.villages.append(village_entry)
        tree.append(entry)
    return tree


def unknown_numbers(session: Session, phones: Sequence[str]) -> list[str]:
    """Those of ``phones`` that are neither a member's number nor a station's duty line.

    The page acts only on directory numbers, so it cannot be used to drive
    arbitrary numbers in the simulator.
    """
    wanted = set(phones)
    known = set(session.scalars(select(Member.phone).where(Member.phone.in_(wanted))))
    known |= set(session.scalars(select(Station.duty_phone).where(Station.duty_phone.in_(wanted))))
    return [phone for phone in phones if phone not in known]


def _home_group(session: Session, phone: str) -> tuple[Member | None, bool]:
    """The membership that decides the caller's group, and whether the hotline will recognise it.

    A household or leader number belongs to exactly one group (the directory
    enforces it); any other number is shown with its first group.
    """
    members = session.scalars(
        select(Member).where(Member.phone == phone).order_by(Member.id).options(
            selectinload(Member.group).selectinload(Group.village).selectinload(Village.station)
        )
    ).all()
    for member in members:
        if member.active and Role(member.role).may_call_for_help:
            return member, True
    return (members[0] if members else None), False


def caller_view(session: Session, phone: str) -> CallerView | None:
    """What the page shows for caller ``phone``: its group's phones and the duty line.

    Returns:
        None if ``phone`` is not a member's number.
    """
    member, registered = _home_group(session, phone)
    if member is None:
        return None
    group = member.group
    watched: list[Person] = []
    seen = {phone}
    for other in group.members:
        if other.phone not in seen:
            seen.add(other.phone)
            watched.append(_person(other))
    duty = _duty_line(group.village.station)
    if duty is not None and duty.phone not in seen:
        watched.append(duty)
    return CallerView(
        caller=_person(member),
        group_name=f"{group.village.name} / {group.name}",
        watched=watched,
        registered=registered,
    )
