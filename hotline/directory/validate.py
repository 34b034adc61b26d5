"""Validate sheet rows against a snapshot of the directory, producing a plan.

Everything here is pure: it reads a :class:`~hotline.directory.reader.Sheet`
and a :class:`~hotline.directory.snapshot.Snapshot` and touches no database,
so a console preview can show the same per-row errors an import would.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.directory.columns import (
    ROLE_CHINESE,
    ROLE_CHOICES,
    Column,
    clean_text,
    heading_suggestions,
    parse_active,
    parse_needed,
    parse_role,
)
from hotline.directory.phone_cells import CellPhones, PhoneProblem, parse_cell
from hotline.directory.reader import Sheet, SheetRow
from hotline.directory.snapshot import ExistingMember, Snapshot
from hotline.directory.wording import Text, _l, quoted
from hotline.models import Role

Progress = Callable[[int], None]
MAX_NAME_LENGTH = 100  # Village.name, Group.name and Member.name are String(100)
_PROGRESS_STEP = 500
# Whom a station asks about a number another station holds.
_ASK_ABOUT_OTHER_STATIONS = _l("ask the city bureau's administrator")


@dataclass(frozen=True)
class Issue:
    """An error or warning about one cell, one row, or the whole file (``row=None``).

    ``text`` says what is wrong and ``hint``, when there is one, how to put
    it right. ``str()`` is the short English form; :meth:`describe` the full
    one in the reader's language.
    """

    row: int | None
    column: Column | None
    text: Text
    hint: Text | None = None

    @property
    def message(self) -> str:
        return str(self.text)

    def explain(self, language: str) -> str:
        """What is wrong and how to fix it, in ``language``, without saying where."""
        if self.hint is None:
            return self.text.render(language)
        return _l("%(message)s: %(hint)s", message=self.text, hint=self.hint).render(language)

    def describe(self, language: str) -> str:
        """Where, what is wrong and how to fix it, in ``language``."""
        if self.row is None and self.column is None:
            return self.explain(language)
        if self.column is None:
            where = _l("row %(row)d", row=self.row)
        elif self.row is None:
            where = _l("column %(column)s", column=self.column.localised)
        else:
            where = _l("row %(row)d, %(column)s", row=self.row, column=self.column.localised)
        return f"{where.render(language)}: {self.explain(language)}" if language != "zh" else (
            f"{where.render(language)}：{self.explain(language)}"
        )

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
    backup_phone: str | None = None  # a second number in the phone cell
    # The group's responders needed: None when the sheet has no such column, 0 when the cell is blank
    # (or not a number): the group's other rows say it, or it is 1.
    needed: int | None = None

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
    backup_phone: str | None = None


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
    # (village, group) → responders needed, for groups whose number the import sets or changes.
    needed: dict[tuple[str, str], int] = field(default_factory=dict)

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
        """Rows applying the plan inserts or updates, for a progress bar (a new group's number comes with it)."""
        changed = [key for key in self.needed if key not in set(self.new_groups)]
        return len(self.creates) + len(self.updates) + len(self.deactivations) + len(changed)


def parse_rows(
    sheet: Sheet, *, region: str, progress: Progress | None = None
) -> tuple[list[Entry], list[Issue], list[Issue]]:
    """Clean every row and check each on its own.

    A blank village or group cell under a filled one continues it (as a
    village merged over its rows reads), and a warning says which rows did.

    Returns:
        The entries (one per row, bad ones included with blank fields), the
        errors and the warnings found.
    """
    errors: list[Issue] = []
    warnings: list[Issue] = []
    entries: list[Entry] = []
    phones: dict[str, CellPhones | PhoneProblem] = {}
    continued = _Continuation()
    if not sheet.rows:
        errors.append(Issue(None, None, _l("no members found below the heading row (row %(row)d)",
                                           row=sheet.header_row)))
    for index, row in enumerate(sheet.rows, start=1):
        entries.append(_parse_row(row, sheet, region, phones, continued, errors, warnings))
        if progress is not None and index % _PROGRESS_STEP == 0:
            progress(_PROGRESS_STEP)
    if progress is not None and len(sheet.rows) % _PROGRESS_STEP:
        progress(len(sheet.rows) % _PROGRESS_STEP)
    warnings.extend(continued.warnings())
    if sheet.ignored_headings:
        names = [quoted(heading) for heading in sheet.ignored_headings]
        text = _l("column(s) %(names)s not recognised and ignored", names=names)
        warnings.append(Issue(sheet.header_row, None, text, heading_suggestions(sheet.ignored_headings)))
    return entries, errors, warnings


class _Continuation:
    """Blank village and group cells that continue the row above, and the warnings saying so."""

    def __init__(self) -> None:
        self.last: dict[Column, str] = {}
        self.runs: dict[Column, list[list[object]]] = {Column.VILLAGE: [], Column.GROUP: []}
        self.previous_row: int | None = None

    def fill(self, row: SheetRow, column: Column, value: str, same_village: bool = True) -> str:
        """``value``, or the value above when it is blank and there is one to continue."""
        if value:
            self.last[column] = value
            return value
        above = self.last.get(column, "")
        if not above or not same_village:
            return value
        runs = self.runs[column]
        if runs and runs[-1][2] == self.previous_row and runs[-1][3] == above:
            runs[-1][2] = row.number
        else:
            runs.append([column, row.number, row.number, above])
        return above

    def warnings(self) -> list[Issue]:
        found = []
        for runs in self.runs.values():
            for column, first, last, value in runs:
                assert isinstance(column, Column) and isinstance(first, int) and isinstance(value, str)
                if first == last:
                    text = _l("left blank, so taken as %(value)s from the row above", value=quoted(value))
                else:
                    text = _l("rows %(first)d to %(last)d left blank, so taken as %(value)s from the row above",
                              first=first, last=last, value=quoted(value))
                found.append(Issue(first, column, text, _l("merged cells read the same way; check that is meant")))
        return found


def _parse_row(
    row: SheetRow,
    sheet: Sheet,
    region: str,
    phones: dict[str, CellPhones | PhoneProblem],
    continued: _Continuation,
    errors: list[Issue],
    warnings: list[Issue],
) -> Entry:
    number = row.number

    def text(column: Column, what: Text, value: str) -> str:
        if not value:
            errors.append(Issue(number, column, _l("%(what)s is missing", what=what)))
        elif len(value) > MAX_NAME_LENGTH:
            errors.append(Issue(number, column, _l("%(what)s is longer than %(n)d characters", what=what,
                                                   n=MAX_NAME_LENGTH)))
            return ""
        return value

    own_village = clean_text(row.get(Column.VILLAGE))
    village_above = continued.last.get(Column.VILLAGE, "")
    village = text(Column.VILLAGE, _l("village"), continued.fill(row, Column.VILLAGE, own_village))
    same_village = not own_village or own_village == village_above
    group_value = continued.fill(row, Column.GROUP, clean_text(row.get(Column.GROUP)), same_village)
    group = text(Column.GROUP, _l("group"), group_value)
    name = text(Column.NAME, _l("name"), clean_text(row.get(Column.NAME)))
    continued.previous_row = number

    phone, sms_capable, backup = "", True, None
    parsed = _parse_phone(row.get(Column.PHONE), region, phones)
    if isinstance(parsed, PhoneProblem):
        errors.append(Issue(number, Column.PHONE, parsed.message, parsed.hint))
    else:
        phone, sms_capable = parsed.phone.e164, parsed.phone.sms_capable
        backup = parsed.backup.e164 if parsed.backup is not None else None
        if not sms_capable:
            warnings.append(Issue(number, Column.PHONE, _l(
                "%(phone)s is a landline: it can be called but not texted", phone=phone
            )))

    raw_role = clean_text(row.get(Column.ROLE))
    role = parse_role(raw_role) if raw_role else None
    if not raw_role:
        errors.append(Issue(number, Column.ROLE, _l("role is missing; use one of %(choices)s", choices=ROLE_CHOICES)))
    elif role is None:
        errors.append(Issue(number, Column.ROLE, _l(
            "%(raw)s is not a role; use one of %(choices)s", raw=quoted(raw_role), choices=ROLE_CHOICES
        )))

    address = clean_text(row.get(Column.ADDRESS)) if Column.ADDRESS in sheet.columns else None

    active = None
    raw_active = clean_text(row.get(Column.ACTIVE))
    if raw_active:
        active = parse_active(raw_active)
        if active is None:
            errors.append(Issue(number, Column.ACTIVE, _l(
                "%(raw)s is not a status; use 在用/active or 停用/inactive", raw=quoted(raw_active)
            )))

    needed = None
    if Column.NEEDED in sheet.columns:
        raw_needed = clean_text(row.get(Column.NEEDED))
        needed = parse_needed(raw_needed) if raw_needed else 0
        if needed is None:
            errors.append(Issue(number, Column.NEEDED, _l(
                "%(raw)s is not a number of responders; write a whole number from 1 up, or leave it blank for 1",
                raw=quoted(raw_needed),
            )))
            needed = 0

    return Entry(number, village, group, name, phone, sms_capable, role, address, active, backup, needed)


def _parse_phone(raw: str, region: str, cache: dict[str, CellPhones | PhoneProblem]) -> CellPhones | PhoneProblem:
    """The parsed number(s), or why not; officers repeat, so results are cached."""
    text = raw.strip()
    if text not in cache:
        cache[text] = parse_cell(text, region)
    return cache[text]


def build_plan(
    entries: list[Entry],
    snapshot: Snapshot,
    *,
    default_capacity: int,
    prune: bool = False,
    errors: list[Issue] | None = None,
    warnings: list[Issue] | None = None,
    show_other_stations: bool = False,
) -> Plan:
    """Check rows against each other and the snapshot, and decide each row's action.

    Cross-row errors: the same number twice in one group; a household or
    leader number in two groups of the file, or held by another group in the
    database (any station); a group over capacity (rows past the limit).

    Args:
        show_other_stations: Whether errors may say which station, village
            and group hold a number (for city-wide users and the command
            line); otherwise they say only that another station holds it.
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
    _check_callers(entries, duplicates, listed, snapshot, plan, show_other_stations)
    absent = _absent_members(snapshot, listed)
    _check_capacity(entries, duplicates, absent, snapshot, default_capacity, prune, plan)
    _check_needed(entries, duplicates, absent, snapshot, prune, plan)
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
            plan.errors.append(Issue(entry.row, Column.PHONE, _l(
                "%(phone)s is already in this group on row %(row)d", phone=entry.phone, row=first[key]
            )))
        else:
            first[key] = entry.row
    return repeated


def _role_name(role: Role) -> str:
    return f"{ROLE_CHINESE[role]}/{role.value}"


_ONE_GROUP = _l("a household or leader number may belong to one group only")


def _check_callers(
    entries: list[Entry],
    duplicates: set[int],
    listed: set[tuple[tuple[str, str], str]],
    snapshot: Snapshot,
    plan: Plan,
    show_other_stations: bool,
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
                plan.errors.append(Issue(entry.row, Column.PHONE, _l(
                    "%(phone)s is already a %(role)s of %(village)s/%(group)s on row %(row)d; %(rule)s",
                    phone=entry.phone, role=_role_name(earlier.role or Role.HOUSEHOLD), village=earlier.village,
                    group=earlier.group, row=earlier.row, rule=_ONE_GROUP,
                )))
            continue
        elsewhere = snapshot.callers_elsewhere.get(entry.phone)
        if elsewhere is not None:
            if show_other_stations:
                text = _l(
                    "%(phone)s is already a %(role)s of %(village)s/%(group)s at station %(station)s; "
                    "remove it there first",
                    phone=entry.phone, role=_role_name(elsewhere.role), village=elsewhere.village,
                    group=elsewhere.group, station=elsewhere.station,
                )
                plan.errors.append(Issue(entry.row, Column.PHONE, text))
            else:
                # Another station's villagers are not this station's to see.
                text = _l("%(phone)s is already registered at another station as a household or leader number",
                          phone=entry.phone)
                hint = _l("%(rule)s; to move it here, %(ask)s", rule=_ONE_GROUP, ask=_ASK_ABOUT_OTHER_STATIONS)
                plan.errors.append(Issue(entry.row, Column.PHONE, text, hint))
            continue
        holder = in_station.get(entry.phone)
        if holder is None:
            continue
        holder_key = group_names[holder.group_id]
        # If the file lists the holder's own row, that row decides its role.
        if holder_key != entry.group_key and (holder_key, entry.phone) not in listed:
            plan.errors.append(Issue(entry.row, Column.PHONE, _l(
                "%(phone)s is already a %(role)s of %(village)s/%(group)s, which this file does not list; %(rule)s",
                phone=entry.phone, role=_role_name(holder.role), village=holder_key[0], group=holder_key[1],
                rule=_ONE_GROUP,
            )))


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
    rows = _active_rows(entries, duplicates, snapshot)
    kept = _kept_members(absent, prune)
    for key, group_rows in rows.items():
        total = len(group_rows) + kept[key]
        if total <= limit:
            continue
        if kept[key]:
            message = _l(
                "group %(village)s/%(group)s would have %(total)d active members, counting %(kept)d already in "
                "the directory but not in this file (pruning members missing from the file frees their places); "
                "the limit is %(limit)d",
                village=key[0], group=key[1], total=total, kept=kept[key], limit=limit,
            )
        else:
            message = _l(
                "group %(village)s/%(group)s would have %(total)d active members; the limit is %(limit)d",
                village=key[0], group=key[1], total=total, limit=limit,
            )
        for entry in group_rows[max(limit - kept[key], 0) :]:
            plan.errors.append(Issue(entry.row, Column.GROUP, message))


def _active_rows(
    entries: list[Entry], duplicates: set[int], snapshot: Snapshot
) -> dict[tuple[str, str], list[Entry]]:
    """The rows of each group that will be active members (a blank status keeps the member's own)."""
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
    return rows


def _kept_members(absent: list[AbsentMember], prune: bool) -> dict[tuple[str, str], int]:
    """Active members each group keeps though the file does not list them (none when pruning)."""
    kept: dict[tuple[str, str], int] = defaultdict(int)
    if not prune:
        for member in absent:
            if member.active:
                kept[(member.village, member.group)] += 1
    return kept


def _check_needed(
    entries: list[Entry],
    duplicates: set[int],
    absent: list[AbsentMember],
    snapshot: Snapshot,
    prune: bool,
    plan: Plan,
) -> None:
    """Each group's responders needed (需响应人数), from its rows: one number per group, at most its size.

    Only a sheet with the column sets it. A group writes its number on any of
    its rows (blank rows take it, as merged cells read); a group whose rows
    are all blank needs 1. Two different numbers for one group, or more than
    the group's active members, are errors.
    """
    given: dict[tuple[str, str], Entry] = {}
    groups: dict[tuple[str, str], None] = {}
    for entry in entries:
        if entry.needed is None or entry.group_key is None:
            continue
        groups.setdefault(entry.group_key)
        if not entry.needed:
            continue
        first = given.setdefault(entry.group_key, entry)
        if first.needed != entry.needed:
            plan.errors.append(Issue(entry.row, Column.NEEDED, _l(
                "group %(village)s/%(group)s needs %(first)d responders on row %(row)d; write one number for a group",
                village=entry.village, group=entry.group, first=first.needed, row=first.row,
            )))
    if not groups:
        return
    rows = _active_rows(entries, duplicates, snapshot)
    kept = _kept_members(absent, prune)
    for key in groups:
        stated = given.get(key)
        needed = stated.needed if stated is not None and stated.needed else 1
        size = len(rows.get(key, [])) + kept[key]
        if stated is not None and needed > max(size, 1):
            plan.errors.append(Issue(stated.row, Column.NEEDED, _l(
                "group %(village)s/%(group)s would have %(size)d active members, fewer than the %(needed)d "
                "responders it needs",
                village=key[0], group=key[1], size=size, needed=needed,
            )))
            continue
        group_id = snapshot.groups.get(key)
        if needed != (snapshot.needed.get(group_id, 1) if group_id is not None else 1):
            plan.needed[key] = needed


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
                    backup_phone=entry.backup_phone,
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
    wanted: dict[str, object] = {
        "name": entry.name, "role": entry.role, "sms_capable": entry.sms_capable, "backup_phone": entry.backup_phone,
    }
    if entry.address is not None:
        wanted["address"] = entry.address
    if entry.active is not None:
        wanted["active"] = entry.active
    return {key: value for key, value in wanted.items() if getattr(existing, key) != value}
