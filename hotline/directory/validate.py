"""Validate sheet rows against a snapshot of the directory, producing a plan.

Everything here is pure: it reads a :class:`~hotline.directory.reader.Sheet`
and a :class:`~hotline.directory.snapshot.Snapshot` and touches no database,
so a console preview can show the same per-row errors an import would.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.directory.columns import ROLE_CHINESE, ROLE_CHOICES, Column, clean_text, parse_active, parse_role
from hotline.directory.reader import Sheet, SheetRow
from hotline.directory.snapshot import ExistingMember, Snapshot
from hotline.models import Role
from hotline.phones import Phone, PhoneError, parse_phone

Progress = Callable[[int], None]
MAX_NAME_LENGTH = 100  # Village.name, Group.name and Member.name are String(100)
_PROGRESS_STEP = 500
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


@dataclass(frozen=True)
class Issue:
    """An error or warning about one cell, one row, or the whole file (``row=None``)."""

    row: int | None
    column: Column | None
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column is not None:
            where.append(self.column.label)
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def sort_key(self) -> tuple[int, int]:
        order = list(Column).index(self.column) if self.column is not None else -1
        return (self.row if self.row is not None else 0, order)


@dataclass(frozen=True)
class Entry:
    """One sheet row, cleaned. Fields that failed to parse are empty or None."""

    row: int
    village: str
    group: str
    name: str
    phone: str
    sms_capable: bool
    role: Role | None
    address: str | None  # None: the sheet has no address column
    active: bool | None  # None: no status column, or the cell is blank

    @property
    def group_key(self) -> tuple[str, str] | None:
        return (self.village, self.group) if self.village and self.group else None

    @property
    def is_caller(self) -> bool:
        return self.role is not None and self.role.may_call_for_help


class Action(enum.StrEnum):
    """What applying the plan does with a valid row."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class NewMember:
    """A member to insert; ``group_id`` is None when its group is new too."""

    row: int
    village: str
    group: str
    group_id: int | None
    name: str
    phone: str
    role: Role
    address: str
    active: bool
    sms_capable: bool


@dataclass(frozen=True)
class MemberUpdate:
    """Changed fields of an existing member."""

    row: int
    member_id: int
    changes: dict[str, object]
    # Applied before other writes, so the number is free for the group that takes it.
    stops_being_caller: bool


@dataclass(frozen=True)
class AbsentMember:
    """A member of the station that the file does not list."""

    member_id: int
    village: str
    group: str
    name: str
    phone: str
    role: Role
    active: bool


@dataclass
class Plan:
    """The outcome of validation: what an import would write, or why it must not."""

    station_name: str
    station_id: int | None
    prune: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    actions: dict[int, Action] = field(default_factory=dict)
    new_villages: list[str] = field(default_factory=list)
    new_groups: list[tuple[str, str]] = field(default_factory=list)
    creates: list[NewMember] = field(default_factory=list)
    updates: list[MemberUpdate] = field(default_factory=list)
    unchanged: int = 0
    absent: list[AbsentMember] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the import may be applied."""
        return not self.errors

    @property
    def bad_rows(self) -> list[int]:
        """Numbers of rows with at least one error, ascending."""
        return sorted({issue.row for issue in self.errors if issue.row is not None})

    @property
    def deactivations(self) -> list[AbsentMember]:
        """Absent members that ``--prune`` deactivates (those still active)."""
        return [member for member in self.absent if member.active] if self.prune else []

    @property
    def writes(self) -> int:
        """Rows applying the plan inserts or updates, for a progress bar."""
        return len(self.creates) + len(self.updates) + len(self.deactivations)


def parse_rows(
    sheet: Sheet, *, region: str, progress: Progress | None = None
) -> tuple[list[Entry], list[Issue], list[Issue]]:
    """Clean every row and check each on its own.

    Returns:
        The entries (one per row, bad ones included with blank fields), the
        errors and the warnings found.
    """
    errors: list[Issue] = []
    warnings: list[Issue] = []
    entries: list[Entry] = []
    phones: dict[str, Phone | str] = {}
    if not sheet.rows:
        errors.append(Issue(None, None, f"no members found below the heading row (row {sheet.header_row})"))
    for index, row in enumerate(sheet.rows, start=1):
        entries.append(_parse_row(row, sheet, region, phones, errors, warnings))
        if progress is not None and index % _PROGRESS_STEP == 0:
            progress(_PROGRESS_STEP)
    if progress is not None and len(sheet.rows) % _PROGRESS_STEP:
        progress(len(sheet.rows) % _PROGRESS_STEP)
    if sheet.ignored_headings:
        names = ", ".join(repr(heading) for heading in sheet.ignored_headings)
        warnings.append(Issue(sheet.header_row, None, f"column(s) {names} not recognised and ignored"))
    return entries, errors, warnings


def _parse_row(
    row: SheetRow,
    sheet: Sheet,
    region: str,
    phones: dict[str, Phone | str],
    errors: list[Issue],
    warnings: list[Issue],
) -> Entry:
    number = row.number

    def text(column: Column, what: str) -> str:
        value = clean_text(row.get(column))
        if not value:
            errors.append(Issue(number, column, f"{what} is missing"))
        elif len(value) > MAX_NAME_LENGTH:
            errors.append(Issue(number, column, f"{what} is longer than {MAX_NAME_LENGTH} characters"))
            return ""
        return value

    village = text(Column.VILLAGE, "village")
    group = text(Column.GROUP, "group")
    name = text(Column.NAME, "name")

    phone, sms_capable = "", True
    parsed = _parse_phone(row.get(Column.PHONE), region, phones)
    if isinstance(parsed, str):
        errors.append(Issue(number, Column.PHONE, parsed))
    else:
        phone, sms_capable = parsed.e164, parsed.sms_capable
        if not sms_capable:
            warnings.append(Issue(number, Column.PHONE, f"{phone} is a landline: it can be called but not texted"))

    raw_role = clean_text(row.get(Column.ROLE))
    role = parse_role(raw_role) if raw_role else None
    if not raw_role:
        errors.append(Issue(number, Column.ROLE, f"role is missing; use one of {ROLE_CHOICES}"))
    elif role is None:
        errors.append(Issue(number, Column.ROLE, f"{raw_role!r} is not a role; use one of {ROLE_CHOICES}"))

    address = clean_text(row.get(Column.ADDRESS)) if Column.ADDRESS in sheet.columns else None

    active = None
    raw_active = clean_text(row.get(Column.ACTIVE))
    if raw_active:
        active = parse_active(raw_active)
        if active is None:
            message = f"{raw_active!r} is not a status; use 在用/active or 停用/inactive"
            errors.append(Issue(number, Column.ACTIVE, message))

    return Entry(number, village, group, name, phone, sms_capable, role, address, active)


def _parse_phone(raw: str, region: str, cache: dict[str, Phone | str]) -> Phone | str:
    """The parsed number, or the error message; officers repeat, so results are cached."""
    text = raw.strip()
    if text in cache:
        return cache[text]
    result: Phone | str
    if not text:
        result = "phone number is missing"
    elif _SCIENTIFIC.match(text):
        result = f"{text!r} is a number Excel shortened to scientific notation; format the column as text and retype it"
    else:
        try:
            result = parse_phone(text, region)
        except PhoneError as exc:
            result = str(exc)
    cache[text] = result
    return result


def build_plan(
    entries: list[Entry],
    snapshot: Snapshot,
    *,
    default_capacity: int,
    prune: bool = False,
    errors: list[Issue] | None = None,
    warnings: list[Issue] | None = None,
) -> Plan:
    """Check rows against each other and the snapshot, and decide each row's action.

    Cross-row errors: the same number twice in one group; a household or
    leader number in two groups of the file, or held by another group in the
    database (any station); a group over capacity (rows past the limit).
    """
    plan = Plan(
        station_name=snapshot.station_name,
        station_id=snapshot.station_id,
        prune=prune,
        errors=list(errors or []),
        warnings=list(warnings or []),
    )
    listed = {(entry.group_key, entry.phone) for entry in entries if entry.group_key and entry.phone}
    duplicates = _check_duplicates(entries, plan)
    _check_callers(entries, duplicates, listed, snapshot, plan)
    absent = _absent_members(snapshot, listed)
    _check_capacity(entries, duplicates, absent, snapshot, default_capacity, prune, plan)
    _decide(entries, snapshot, plan)
    plan.absent = absent
    plan.errors.sort(key=Issue.sort_key)
    plan.warnings.sort(key=Issue.sort_key)
    return plan


def _check_duplicates(entries: list[Entry], plan: Plan) -> set[int]:
    """Flag a number listed twice in one group; returns the repeated rows."""
    first: dict[tuple[tuple[str, str], str], int] = {}
    repeated: set[int] = set()
    for entry in entries:
        if entry.group_key is None or not entry.phone:
            continue
        key = (entry.group_key, entry.phone)
        if key in first:
            repeated.add(entry.row)
            plan.errors.append(
                Issue(entry.row, Column.PHONE, f"{entry.phone} is already in this group on row {first[key]}")
            )
        else:
            first[key] = entry.row
    return repeated


def _role_name(role: Role) -> str:
    return f"{ROLE_CHINESE[role]}/{role.value}"


def _check_callers(
    entries: list[Entry],
    duplicates: set[int],
    listed: set[tuple[tuple[str, str], str]],
    snapshot: Snapshot,
    plan: Plan,
) -> None:
    """A household or leader number must lead to exactly one group, city-wide."""
    first: dict[str, Entry] = {}
    in_station = snapshot.station_callers()
    group_names = snapshot.group_names()
    for entry in entries:
        if not entry.is_caller or not entry.phone or entry.group_key is None or entry.row in duplicates:
            continue
        assert entry.role is not None
        earlier = first.setdefault(entry.phone, entry)
        if earlier is not entry:
            if earlier.group_key != entry.group_key:
                plan.errors.append(
                    Issue(
                        entry.row,
                        Column.PHONE,
                        f"{entry.phone} is already a {_role_name(earlier.role or Role.HOUSEHOLD)} of "
                        f"{earlier.village}/{earlier.group} on row {earlier.row}; "
                        "a household or leader number may belong to one group only",
                    )
                )
            continue
        elsewhere = snapshot.callers_elsewhere.get(entry.phone)
        if elsewhere is not None:
            plan.errors.append(
                Issue(
                    entry.row,
                    Column.PHONE,
                    f"{entry.phone} is already a {_role_name(elsewhere.role)} of {elsewhere.village}/"
                    f"{elsewhere.group} at station {elsewhere.station}; remove it there first",
                )
            )
            continue
        holder = in_station.get(entry.phone)
        if holder is None:
            continue
        holder_key = group_names[holder.group_id]
        # If the file lists the holder's own row, that row decides its role.
        if holder_key != entry.group_key and (holder_key, entry.phone) not in listed:
            plan.errors.append(
                Issue(
                    entry.row,
                    Column.PHONE,
                    f"{entry.phone} is already a {_role_name(holder.role)} of {holder_key[0]}/{holder_key[1]}, "
                    "which this file does not list; a household or leader number may belong to one group only",
                )
            )


def _absent_members(snapshot: Snapshot, listed: set[tuple[tuple[str, str], str]]) -> list[AbsentMember]:
    group_names = snapshot.group_names()
    absent = []
    for member in snapshot.members.values():
        key = group_names[member.group_id]
        if (key, member.phone) not in listed:
            absent.append(
                AbsentMember(member.id, key[0], key[1], member.name, member.phone, member.role, member.active)
            )
    absent.sort(key=lambda member: (member.village, member.group, member.member_id))
    return absent


def _existing(entry: Entry, snapshot: Snapshot) -> ExistingMember | None:
    if entry.group_key is None or not entry.phone:
        return None
    group_id = snapshot.groups.get(entry.group_key)
    return None if group_id is None else snapshot.members.get((group_id, entry.phone))


def _check_capacity(
    entries: list[Entry],
    duplicates: set[int],
    absent: list[AbsentMember],
    snapshot: Snapshot,
    default_capacity: int,
    prune: bool,
    plan: Plan,
) -> None:
    """Rows past a group's limit of active members are errors; absent members keep their places."""
    limit = snapshot.max_group_size or default_capacity
    rows: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.group_key is None or entry.row in duplicates:
            continue
        active = entry.active
        if active is None:
            existing = _existing(entry, snapshot)
            active = existing.active if existing is not None else True
        if active:
            rows[entry.group_key].append(entry)
    kept: dict[tuple[str, str], int] = defaultdict(int)
    if not prune:
        for member in absent:
            if member.active:
                kept[(member.village, member.group)] += 1
    for key, group_rows in rows.items():
        total = len(group_rows) + kept[key]
        if total <= limit:
            continue
        note = ""
        if kept[key]:
            note = (
                f", counting {kept[key]} already in the directory but not in this file "
                "(pruning members missing from the file frees their places)"
            )
        message = f"group {key[0]}/{key[1]} would have {total} active members{note}; the limit is {limit}"
        for entry in group_rows[max(limit - kept[key], 0) :]:
            plan.errors.append(Issue(entry.row, Column.GROUP, message))


def _decide(entries: list[Entry], snapshot: Snapshot, plan: Plan) -> None:
    bad = set(plan.bad_rows)
    new_villages: dict[str, None] = {}
    new_groups: dict[tuple[str, str], None] = {}
    for entry in entries:
        key = entry.group_key
        if key is not None and key not in snapshot.groups:
            new_groups.setdefault(key)
            if key[0] not in snapshot.villages:
                new_villages.setdefault(key[0])
        if entry.row in bad or key is None or entry.role is None:
            continue
        existing = _existing(entry, snapshot)
        if existing is None:
            plan.actions[entry.row] = Action.CREATE
            plan.creates.append(
                NewMember(
                    row=entry.row,
                    village=key[0],
                    group=key[1],
                    group_id=snapshot.groups.get(key),
                    name=entry.name,
                    phone=entry.phone,
                    role=entry.role,
                    address=entry.address or "",
                    active=True if entry.active is None else entry.active,
                    sms_capable=entry.sms_capable,
                )
            )
            continue
        changes = _changes(entry, existing)
        if changes:
            plan.actions[entry.row] = Action.UPDATE
            plan.updates.append(
                MemberUpdate(
                    row=entry.row,
                    member_id=existing.id,
                    changes=changes,
                    stops_being_caller=existing.role.may_call_for_help and not entry.role.may_call_for_help,
                )
            )
        else:
            plan.actions[entry.row] = Action.UNCHANGED
            plan.unchanged += 1
    plan.new_villages = list(new_villages)
    plan.new_groups = list(new_groups)


def _changes(entry: Entry, existing: ExistingMember) -> dict[str, object]:
    wanted: dict[str, object] = {"name": entry.name, "role": entry.role, "sms_capable": entry.sms_capable}
    if entry.address is not None:
        wanted["address"] = entry.address
    if entry.active is not None:
        wanted["active"] = entry.active
    return {key: value for key, value in wanted.items() if getattr(existing, key) != value}
