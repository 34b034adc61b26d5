"""Plan an import against the database, and apply a plan in bulk."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.directory.columns import clean_text
from hotline.directory.reader import Sheet
from hotline.directory.snapshot import load_snapshot
from hotline.directory.validate import Plan, Progress, build_plan, parse_rows
from hotline.directory.wording import Text, TextError, _l
from hotline.models import Group, Member, Village
from hotline.models.base import utcnow
from hotline.services.stations import StationError, get_or_create_station

_BATCH = 1000
T = TypeVar("T")


class ImportRefused(TextError):
    """An import was not applied; ``text`` says why and nothing was written.

    ``plan`` is set when validation refused it, so its errors can be listed.
    """

    def __init__(self, text: Text, plan: Plan | None = None) -> None:
        super().__init__(text)
        self.plan = plan


def plan_import(
    session: Session,
    sheet: Sheet,
    station_name: str,
    *,
    region: str,
    default_capacity: int,
    prune: bool = False,
    progress: Progress | None = None,
    show_other_stations: bool = False,
) -> Plan:
    """Validate ``sheet`` for ``station_name`` and decide what importing it would write.

    Reads the database (a few bulk queries) but writes nothing. Check
    ``plan.ok`` before :func:`apply_plan`; ``plan.errors`` lists every bad row.

    Args:
        progress: Called with the number of rows checked since the last call.
        show_other_stations: Whether errors may name another station's
            village and group holding a number (city-wide users and the
            command line); a station's own staff are told only whom to ask.

    Raises:
        StationError: The station name is empty.
    """
    name = clean_text(station_name)
    if not name:
        raise StationError("station name is empty")
    entries, errors, warnings = parse_rows(sheet, region=region, progress=progress)
    callers = {entry.phone for entry in entries if entry.is_caller and entry.phone}
    snapshot = load_snapshot(session, name, callers)
    return build_plan(
        entries, snapshot, default_capacity=default_capacity, prune=prune, errors=errors, warnings=warnings,
        show_other_stations=show_other_stations,
    )


def apply_plan(session: Session, plan: Plan, *, progress: Progress | None = None) -> None:
    """Write a valid plan: station, villages, groups, then member updates and inserts.

    Flushes but does not commit; the caller commits, or rolls back on error.

    Args:
        progress: Called with the number of members written since the last call.

    Raises:
        ImportRefused: The plan has errors, or the database changed since it
            was made so that a write broke a uniqueness rule (plan again). The
            session must then be rolled back.
    """
    if not plan.ok:
        count = len(plan.bad_rows) or len(plan.errors)
        raise ImportRefused(_l("%(count)d row(s) have errors; nothing was written", count=count), plan)
    try:
        _apply(session, plan, progress)
    except IntegrityError as exc:
        raise ImportRefused(_l("the directory changed while importing, nothing was written; try again")) from exc


def _apply(session: Session, plan: Plan, progress: Progress | None) -> None:
    station_id = plan.station_id
    if station_id is None:
        station_id = get_or_create_station(session, plan.station_name).id
    if plan.new_villages:
        session.execute(insert(Village), [{"station_id": station_id, "name": name} for name in plan.new_villages])
    villages = dict(session.execute(select(Village.name, Village.id).where(Village.station_id == station_id)).all())
    if plan.new_groups:
        session.execute(
            insert(Group),
            [
                {"village_id": villages[village], "name": name, "min_acceptances": plan.needed.get((village, name), 1)}
                for village, name in plan.new_groups
            ],
        )
    groups = {
        (village, name): group_id
        for group_id, village, name in session.execute(
            select(Group.id, Village.name, Group.name)
            .join(Village, Group.village_id == Village.id)
            .where(Village.station_id == station_id)
        )
    }
    new_groups = set(plan.new_groups)
    changed = [(groups[key], needed) for key, needed in plan.needed.items() if key not in new_groups]
    if changed:
        session.execute(update(Group), [{"id": group_id, "min_acceptances": needed} for group_id, needed in changed])
        _report(progress, len(changed))
    now = utcnow()
    # A number leaving a household or leader role frees it before another row claims it.
    updates = sorted(plan.updates, key=lambda change: not change.stops_being_caller)
    for batch in _batches(updates):
        session.execute(
            update(Member),
            [{"id": change.member_id, **change.changes, "updated_at": now} for change in batch],
        )
        _report(progress, len(batch))
    for absent in _batches(plan.deactivations):
        session.execute(
            update(Member),
            [{"id": member.member_id, "active": False, "updated_at": now} for member in absent],
        )
        _report(progress, len(absent))
    for created in _batches(plan.creates):
        session.execute(
            insert(Member),
            [
                {
                    "group_id": groups[(new.village, new.group)],
                    "name": new.name,
                    "phone": new.phone,
                    "role": new.role.value,
                    "address": new.address,
                    "active": new.active,
                    "opted_out": False,
                    "sms_capable": new.sms_capable,
                    "backup_phone": new.backup_phone,
                    "updated_at": now,
                }
                for new in created
            ],
        )
        _report(progress, len(created))
    session.flush()


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def _report(progress: Progress | None, count: int) -> None:
    if progress is not None:
        progress(count)


def import_sheet(
    session: Session,
    sheet: Sheet,
    station_name: str,
    *,
    region: str,
    default_capacity: int,
    prune: bool = False,
    show_other_stations: bool = False,
) -> Plan:
    """Plan and apply in one step; all or nothing.

    Flushes but does not commit.

    Raises:
        ImportRefused: Any row is bad (``exc.plan.errors`` lists them all), or
            the database changed underneath; nothing was written.
        StationError: The station name is empty.
    """
    plan = plan_import(
        session, sheet, station_name, region=region, default_capacity=default_capacity, prune=prune,
        show_other_stations=show_other_stations,
    )
    apply_plan(session, plan)
    return plan
