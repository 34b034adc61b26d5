"""Editing the directory one group or member at a time, with the import's rules.

The rules are those of :mod:`hotline.directory`: numbers are normalised with
:func:`~hotline.phones.parse_phone`; names are cleaned and at most
:data:`~hotline.directory.validate.MAX_NAME_LENGTH` characters; a number is
listed once per group; a household or leader number belongs to one group
only (city-wide); a group holds at most its station's capacity of active
members. Every change is written to the audit log in the same transaction.
Functions flush but do not commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from flask_babel import get_locale, gettext
from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.console.audit import group_snapshot, member_snapshot, record_audit
from hotline.console.present import ROLE_LABELS, label
from hotline.directory import Plan
from hotline.directory.columns import clean_text
from hotline.directory.phone_cells import explain
from hotline.directory.snapshot import CALLER_ROLES
from hotline.directory.validate import MAX_NAME_LENGTH
from hotline.models import Group, Member, RingMode, Role, Station, Village, utcnow
from hotline.phones import PhoneError, parse_phone

# An import's audit entry lists at most this many rows; counts are always exact.
AUDIT_ROW_LIMIT = 500


class Actor(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


class DirectoryError(ValueError):
    """A change was refused and nothing was written.

    Attributes:
        errors: Form field name → what is wrong with it (``""`` for the form).
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name or 'form'}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class MemberInput:
    """A member as typed into the console."""

    name: str
    phone: str
    role: str
    address: str = ""
    active: bool = True


def _clean_name(value: str, field: str, errors: dict[str, str]) -> str:
    cleaned = clean_text(value or "")
    if not cleaned:
        errors[field] = gettext("This is required.")
    elif len(cleaned) > MAX_NAME_LENGTH:
        errors[field] = gettext("At most %(n)d characters.", n=MAX_NAME_LENGTH)
    return cleaned


def validate_member(
    session: Session,
    group: Group,
    data: MemberInput,
    *,
    region: str,
    default_capacity: int,
    member: Member | None = None,
    show_other_stations: bool = False,
) -> dict[str, Any]:
    """Check ``data`` for a member of ``group`` (``member`` when editing one).

    ``show_other_stations`` lets a refusal name the station, village and
    group of another station holding the number (for city-wide users).

    Returns:
        The cleaned column values to write.

    Raises:
        DirectoryError: Every field that breaks a rule, with the reason.
    """
    errors: dict[str, str] = {}
    name = _clean_name(data.name, "name", errors)
    try:
        role = Role(data.role)
    except ValueError:
        errors["role"] = gettext("Choose a role.")
        role = None
    phone, sms_capable = "", True
    try:
        parsed = parse_phone(data.phone, region)
        phone, sms_capable = parsed.e164, parsed.sms_capable
    except PhoneError:
        errors["phone"] = gettext("%(raw)s is not a valid phone number.", raw=data.phone.strip() or "—")
        hint = explain(data.phone.strip(), region).hint if data.phone.strip() else None
        if hint is not None:
            errors["phone"] += " " + hint.render(_language())
    own_id = member.id if member is not None else -1
    if phone:
        _check_number(session, group, phone, role, own_id, errors, show_other_stations)
    if data.active:
        limit = group.village.station.group_capacity(default_capacity)
        others = session.scalar(
            select(func.count(Member.id)).where(
                Member.group_id == group.id, Member.active.is_(True), Member.id != own_id
            )
        )
        if (others or 0) >= limit:
            errors["group_id"] = gettext(
                "The group already has %(n)d active members, its limit.", n=limit
            )
    if errors:
        raise DirectoryError(errors)
    values: dict[str, Any] = {
        "name": name,
        "phone": phone,
        "role": role,
        "address": clean_text(data.address or ""),
        "active": bool(data.active),
        "sms_capable": sms_capable,
    }
    if member is None or member.phone != phone:
        # An opt-out (STOP) belongs to the number: a number new to this member
        # carries the opt-out of its other memberships, if any.
        values["opted_out"] = bool(
            session.scalar(select(exists().where(Member.phone == phone, Member.opted_out.is_(True))))
        )
    return values


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "zh"


def _sees_every_station(actor: Actor) -> bool:
    return getattr(actor, "station_id", 0) is None


def _check_number(
    session: Session,
    group: Group,
    phone: str,
    role: Role | None,
    own_id: int,
    errors: dict[str, str],
    show_other_stations: bool,
) -> None:
    in_group = session.scalar(
        select(Member.id).where(Member.group_id == group.id, Member.phone == phone, Member.id != own_id)
    )
    if in_group is not None:
        errors["phone"] = gettext("%(phone)s is already in this group.", phone=phone)
        return
    if role is None or not role.may_call_for_help:
        return
    holder = session.scalar(
        select(Member).where(Member.phone == phone, Member.role.in_(CALLER_ROLES), Member.id != own_id)
    )
    if holder is None:
        return
    if holder.group.village.station_id == group.village.station_id:
        errors["phone"] = gettext(
            "%(phone)s is already the %(role)s number of %(village)s/%(group)s; "
            "a household or leader number may belong to one group only.",
            phone=phone,
            role=label(ROLE_LABELS, str(holder.role)),
            village=holder.group.village.name,
            group=holder.group.name,
        )
    elif show_other_stations:
        errors["phone"] = gettext(
            "%(phone)s is already the %(role)s number of %(village)s/%(group)s at station %(station)s; "
            "a household or leader number may belong to one group only.",
            phone=phone,
            role=label(ROLE_LABELS, str(holder.role)),
            village=holder.group.village.name,
            group=holder.group.name,
            station=holder.group.village.station.name,
        )
    else:
        # Another station's directory is not this station's to see; say whom to ask.
        errors["phone"] = gettext(
            "%(phone)s is already a household or leader number at another station; "
            "a household or leader number may belong to one group only. "
            "To move it here, ask the city bureau's administrator.",
            phone=phone,
        )


def _flush(session: Session, field: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DirectoryError({field: gettext("The directory changed meanwhile; check and try again.")}) from None


def _station_of(group: Group) -> int:
    return group.village.station_id


def add_member(
    session: Session, actor: Actor, group: Group, data: MemberInput, *, region: str, default_capacity: int
) -> Member:
    """Add a member to ``group``.

    Raises:
        DirectoryError: A rule is broken (see :func:`validate_member`).
    """
    values = validate_member(
        session, group, data, region=region, default_capacity=default_capacity,
        show_other_stations=_sees_every_station(actor),
    )
    member = Member(group_id=group.id, **values)
    session.add(member)
    _flush(session, "phone")
    session.refresh(member)
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=_station_of(group),
        entity="member", entity_id=member.id, action="create",
        summary=f"{group.village.name}/{group.name} {member.name}", after=member_snapshot(member),
    )
    session.flush()
    return member


def update_member(
    session: Session,
    actor: Actor,
    member: Member,
    data: MemberInput,
    *,
    group: Group | None = None,
    region: str,
    default_capacity: int,
) -> Member:
    """Change ``member`` (and move it to ``group`` when given).

    Raises:
        DirectoryError: A rule is broken (see :func:`validate_member`).
    """
    target = group or member.group
    before = member_snapshot(member)
    values = validate_member(
        session, target, data, region=region, default_capacity=default_capacity, member=member,
        show_other_stations=_sees_every_station(actor),
    )
    member.group_id = target.id
    for key, value in values.items():
        setattr(member, key, value)
    member.updated_at = utcnow()
    _flush(session, "phone")
    session.refresh(member)
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=_station_of(target),
        entity="member", entity_id=member.id, action="update",
        summary=f"{target.village.name}/{target.name} {member.name}", before=before, after=member_snapshot(member),
    )
    session.flush()
    return member


def delete_member(session: Session, actor: Actor, member: Member) -> None:
    """Remove ``member``; past alerts keep the name and number they were sent to."""
    group = member.group
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=_station_of(group),
        entity="member", entity_id=member.id, action="delete",
        summary=f"{group.village.name}/{group.name} {member.name}", before=member_snapshot(member),
    )
    session.delete(member)
    session.flush()


def save_group(
    session: Session,
    actor: Actor,
    *,
    station: Station,
    village_name: str,
    name: str,
    ring_mode: str,
    group: Group | None = None,
    min_acceptances: int | str = 1,
) -> Group:
    """Create a group (``group`` None) or change one; the village is created if new.

    ``min_acceptances`` is how many members must accept before the group's
    alert is covered: a whole number from 1 to the group's active members
    (a new group, which has none yet, needs 1).

    Raises:
        DirectoryError: A name is empty or too long, the ring mode unknown,
            the responders needed out of range, or the village already has a
            group of that name.
    """
    errors: dict[str, str] = {}
    village_name = _clean_name(village_name, "village", errors)
    name = _clean_name(name, "name", errors)
    try:
        mode = RingMode(ring_mode)
    except ValueError:
        errors["ring_mode"] = gettext("Choose a ring mode.")
        mode = RingMode.SIMULTANEOUS
    needed = _needed(session, group, min_acceptances, errors)
    if errors:
        raise DirectoryError(errors)
    village = session.scalar(select(Village).where(Village.station_id == station.id, Village.name == village_name))
    if village is not None:
        clash = session.scalar(
            select(Group.id).where(
                Group.village_id == village.id, Group.name == name, Group.id != (group.id if group else -1)
            )
        )
        if clash is not None:
            message = gettext("%(village)s already has a group named %(name)s.", village=village_name, name=name)
            raise DirectoryError({"name": message})
    else:
        village = Village(station_id=station.id, name=village_name)
        session.add(village)
        session.flush()
    before = group_snapshot(group) if group is not None else None
    if group is None:
        group = Group(village_id=village.id, name=name, ring_mode=mode, min_acceptances=needed)
        session.add(group)
    else:
        group.village_id, group.name, group.ring_mode, group.min_acceptances = village.id, name, mode, needed
    _flush(session, "name")
    session.refresh(group)
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=station.id,
        entity="group", entity_id=group.id, action="create" if before is None else "update",
        summary=f"{village.name}/{group.name}", before=before, after=group_snapshot(group),
    )
    session.flush()
    return group


def _needed(session: Session, group: Group | None, value: int | str, errors: dict[str, str]) -> int:
    """The responders needed typed for ``group``: 1 to its active members (1 for a new group)."""
    size = 0
    if group is not None:
        size = session.scalar(
            select(func.count(Member.id)).where(Member.group_id == group.id, Member.active.is_(True))
        ) or 0
    most = max(size, 1)
    text = str(value).strip()
    needed = int(text) if text.isascii() and text.isdecimal() else 0
    if not 1 <= needed <= most:
        errors["min_acceptances"] = gettext(
            "Enter a whole number from 1 to %(n)d, the group's active members.", n=most
        )
        return 1
    return needed


def delete_group(session: Session, actor: Actor, group: Group) -> None:
    """Remove ``group`` and its members; its incidents stay, without a group."""
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=_station_of(group),
        entity="group", entity_id=group.id, action="delete",
        summary=f"{group.village.name}/{group.name}", before=group_snapshot(group, with_members=True),
    )
    session.execute(delete(Member).where(Member.group_id == group.id))
    session.expire(group, ["members"])
    session.delete(group)
    session.flush()


def _json_safe(changes: dict[str, object]) -> dict[str, object]:
    return {key: str(value) if isinstance(value, Role) else value for key, value in changes.items()}


def record_import(session: Session, actor: Actor, station_id: int | None, filename: str, plan: Plan) -> None:
    """One audit entry for an applied import: counts, and the rows (up to a limit)."""
    after = {
        "file": filename,
        "created": len(plan.creates),
        "updated": len(plan.updates),
        "deactivated": len(plan.deactivations),
        "unchanged": plan.unchanged,
        "new_villages": plan.new_villages,
        "new_groups": [f"{village}/{group}" for village, group in plan.new_groups],
        "created_rows": [
            {"row": new.row, "group": f"{new.village}/{new.group}", "name": new.name, "phone": new.phone,
             "role": str(new.role)}
            for new in plan.creates[:AUDIT_ROW_LIMIT]
        ],
        "updated_rows": [
            {"row": change.row, "member_id": change.member_id, "changes": _json_safe(change.changes)}
            for change in plan.updates[:AUDIT_ROW_LIMIT]
        ],
        "deactivated_members": [member.member_id for member in plan.deactivations[:AUDIT_ROW_LIMIT]],
        "responders_needed": {f"{village}/{group}": needed for (village, group), needed in plan.needed.items()},
    }
    if station_id is None:
        station_id = session.scalar(select(Station.id).where(Station.name == plan.station_name))
    record_audit(
        session, actor_id=actor.id, actor=actor.username, station_id=station_id,
        entity="directory", entity_id=None, action="import",
        summary=f"{filename}: +{len(plan.creates)} ~{len(plan.updates)} -{len(plan.deactivations)}",
        after=after,
    )
    session.flush()
