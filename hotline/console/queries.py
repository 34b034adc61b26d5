"""Reading incidents for the console and the API: filters, pages, the live board.

Plain functions on a :class:`Session`; every query is scoped to the viewer
through :mod:`hotline.console.scope`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Subquery, case, func, select, tuple_
from sqlalchemy.orm import Session, selectinload

from hotline.console.arguments import whole_number
from hotline.console.i18n import day_start_utc
from hotline.console.scope import Viewer, scoped
from hotline.models import Answer, Group, Incident, IncidentStatus, Response, Village

DRILL_CHOICES = ("all", "real", "drill")
# Statistics read real alerts or drills, never the two together: a drill must not improve the real figures.
STATS_DRILL_CHOICES = ("real", "drill")


class FilterError(ValueError):
    """A filter argument of the incident list is malformed.

    Attributes:
        name: The query argument, e.g. ``village``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(f"malformed filter argument {name!r}")
        self.name = name
PER_PAGE = 50
# Filter dates outside these years are ignored like malformed ones.
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident list, its exports and the statistics are narrowed to.

    Dates are local calendar days, both ends included.
    """

    village_id: int | None = None
    group_id: int | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    drill: str = "all"

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], *, drill_default: str = "all", drill_choices: tuple[str, ...] = DRILL_CHOICES
    ) -> IncidentFilter:
        """Read a filter from query arguments; an empty or absent one filters nothing.

        A stale id that is well formed simply matches nothing. A drill choice
        this reader does not offer (``all`` for the statistics, from an old
        link) reads as ``drill_default``.

        Raises:
            FilterError: An argument is given but malformed (``village=²``,
                ``from=yesterday``, ``status=bogus``), naming it.
        """

        def given(name: str) -> str:
            return (args.get(name) or "").strip()

        def number(name: str) -> int | None:
            if not given(name):
                return None
            value = whole_number(given(name))
            if value is None:
                raise FilterError(name)
            return value

        def day(name: str) -> date | None:
            if not given(name):
                return None
            try:
                found = date.fromisoformat(given(name))
            except ValueError:
                raise FilterError(name) from None
            # Far dates overflow time-zone arithmetic and make week-long charts endless.
            if not MIN_YEAR <= found.year <= MAX_YEAR:
                raise FilterError(name)
            return found

        def choice(name: str, choices: set[str] | tuple[str, ...], default: str | None) -> str | None:
            if not given(name):
                return default
            if given(name) not in choices:
                raise FilterError(name)
            return given(name)

        return cls(
            village_id=number("village"),
            group_id=number("group"),
            status=choice("status", {s.value for s in IncidentStatus}, None),
            date_from=day("from"),
            date_to=day("to"),
            drill=_offered(choice("drill", DRILL_CHOICES, drill_default), drill_choices, drill_default),
        )

    def to_args(self) -> dict[str, str]:
        """The query arguments that reproduce this filter (for links and exports)."""
        args = {
            "village": self.village_id,
            "group": self.group_id,
            "status": self.status,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "drill": self.drill,
        }
        return {key: str(value) for key, value in args.items() if value is not None}

    def conditions(self, zone: ZoneInfo) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.village_id is not None:
            found.append(Incident.group_id.in_(select(Group.id).where(Group.village_id == self.village_id)))
        if self.group_id is not None:
            found.append(Incident.group_id == self.group_id)
        if self.status:
            found.append(Incident.status == self.status)
        if self.date_from:
            found.append(Incident.opened_at >= day_start_utc(self.date_from, zone))
        if self.date_to:
            found.append(Incident.opened_at < day_start_utc(self.date_to + timedelta(days=1), zone))
        if self.drill == "real":
            found.append(Incident.is_drill.is_(False))
        elif self.drill == "drill":
            found.append(Incident.is_drill.is_(True))
        return found


def _offered(chosen: str | None, choices: tuple[str, ...], default: str) -> str:
    return chosen if chosen in choices else default


def first_accepts(incident_ids: list[int] | None = None) -> Subquery:
    """Subquery: each incident's first accepting response time (``first_accept_at``).

    With ``incident_ids`` only those incidents' responses are read, through
    the index on ``(incident_id, answer, received_at)``; without, every
    response is grouped.
    """
    query = select(Response.incident_id, func.min(Response.received_at).label("first_accept_at")).where(
        Response.answer == Answer.ACCEPT.value
    )
    if incident_ids is not None:
        query = query.where(Response.incident_id.in_(incident_ids))
    return query.group_by(Response.incident_id).subquery("first_accepts")


@dataclass(frozen=True)
class IncidentRow:
    """An incident with the names and times a list shows beside it."""

    incident: Incident
    village: str | None
    group: str | None
    first_accept_at: datetime | None

    @property
    def first_response_seconds(self) -> float | None:
        if self.first_accept_at is None:
            return None
        return (self.first_accept_at - self.incident.opened_at).total_seconds()


# The incident list's order, newest first; the id breaks ties so that every row has one place.
NEWEST_FIRST = (Incident.opened_at.desc(), Incident.id.desc())


def _listing(viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> Select:
    first = first_accepts()
    query = (
        select(Incident, Village.name, Group.name, first.c.first_accept_at)
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .outerjoin(first, first.c.incident_id == Incident.id)
        .where(*flt.conditions(zone))
        .order_by(*NEWEST_FIRST)
    )
    return scoped(query, viewer, Incident)


def _rows(session: Session, query: Select) -> list[IncidentRow]:
    return [IncidentRow(incident, village, group, first) for incident, village, group, first in session.execute(query)]


def _rows_for(session: Session, ids: list[int]) -> list[IncidentRow]:
    """The list's rows for these incidents (already chosen and scoped), in the list's order.

    The names and first acceptances are read for these rows only, never for
    every incident before the page is cut.
    """
    if not ids:
        return []
    chosen = first_accepts(ids)
    query = (
        select(Incident, Village.name, Group.name, chosen.c.first_accept_at)
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .outerjoin(chosen, chosen.c.incident_id == Incident.id)
        .where(Incident.id.in_(ids))
        .order_by(*NEWEST_FIRST)
    )
    return _rows(session, query)


@dataclass(frozen=True)
class Cursor:
    """A place in the incident list: just after (or before) the incident opened at ``opened_at`` with ``id``.

    Written in addresses as ``<microseconds since 1970>.<id>``, so a link
    names the row it continues from and the next page is found through the
    index, however deep in the history it lies.
    """

    opened_at: datetime
    id: int

    def __str__(self) -> str:
        delta = self.opened_at - EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}.{self.id}"

    @classmethod
    def parse(cls, name: str, raw: str | None) -> Cursor | None:
        """Read a cursor argument; None when absent or empty.

        Raises:
            FilterError: The argument is given but is not a cursor this list wrote.
        """
        if raw is None or not raw.strip():
            return None
        micros_text, dot, id_text = raw.strip().partition(".")
        micros = _whole(micros_text, allow_negative=True)
        row_id = whole_number(id_text) if dot else None
        if micros is None or row_id is None:
            raise FilterError(name)
        try:
            opened_at = EPOCH + timedelta(microseconds=micros)
        except OverflowError:
            raise FilterError(name) from None
        if not MIN_YEAR <= opened_at.year <= MAX_YEAR:
            raise FilterError(name)
        return cls(opened_at, row_id)

    @classmethod
    def of(cls, row: IncidentRow) -> Cursor:
        return cls(row.incident.opened_at, row.incident.id)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _whole(text: str, *, allow_negative: bool = False) -> int | None:
    digits = text[1:] if allow_negative and text.startswith("-") else text
    if not digits or len(digits) > 18 or not all("0" <= c <= "9" for c in digits):
        return None
    return int(text)


# Up to this many matching incidents are counted exactly; past it the total is the planner's estimate,
# so that a page never counts years of history. Page numbers reach this far; past it, Next and Previous.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class Page:
    """One page of the incident list.

    Attributes:
        rows: The page's incidents, newest first.
        total: How many incidents match: exact when ``exact``, else an estimate (above :data:`COUNT_LIMIT`).
        page: The page's number, as the link that led here said.
        pages: How many pages ``total`` makes.
        next: Where the next (older) page starts, if there is one.
        previous: Where the previous (newer) page ends, if there is one.
    """

    rows: list[IncidentRow]
    total: int
    page: int
    pages: int
    exact: bool = True
    next: Cursor | None = None
    previous: Cursor | None = None


def count_matching(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> tuple[int, bool]:
    """How many incidents match, and whether the count is exact.

    Counts at most :data:`COUNT_LIMIT` + 1 rows; when more match, PostgreSQL's
    planner estimates the total from its statistics (never below the limit).
    Other databases count them all (they hold small installations).
    """
    matching = scoped(select(Incident.id).where(*flt.conditions(zone)), viewer, Incident)
    dialect = session.get_bind().dialect.name
    if dialect != "postgresql":
        return session.scalar(select(func.count()).select_from(matching.subquery())) or 0, True
    counted = session.scalar(select(func.count()).select_from(matching.limit(COUNT_LIMIT + 1).subquery())) or 0
    if counted <= COUNT_LIMIT:
        return counted, True
    return max(_planner_rows(session, matching), COUNT_LIMIT + 1), False


def _planner_rows(session: Session, query: Select) -> int:
    """PostgreSQL's estimate of how many rows ``query`` returns (EXPLAIN, without running it)."""
    compiled = query.compile(dialect=session.get_bind().dialect)
    explained = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, compiled.params)
    plan: Any = explained.scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def incident_page(
    session: Session,
    viewer: Viewer,
    flt: IncidentFilter,
    zone: ZoneInfo,
    page: int = 1,
    per_page: int = PER_PAGE,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> Page:
    """One page of the filtered incidents, newest first.

    Without a cursor, ``page`` is counted from the newest (a page past the
    end is clamped, and numbers stop at :data:`COUNT_LIMIT` rows). With
    ``after`` the page holds the incidents just older than that one, with
    ``before`` those just newer: found through the ``(opened_at, id)`` index
    in the same time on any page, and ``page`` is only the number to show.
    """
    total, exact = count_matching(session, viewer, flt, zone)
    pages = max(1, math.ceil(total / per_page))
    matching = scoped(select(Incident.id, Incident.opened_at).where(*flt.conditions(zone)), viewer, Incident)
    place = tuple_(Incident.opened_at, Incident.id)
    if before is not None:
        found = list(
            session.execute(
                matching.where(place > tuple_(before.opened_at, before.id))
                .order_by(Incident.opened_at, Incident.id)
                .limit(per_page + 1)
            )
        )
        newer = len(found) > per_page
        found = list(reversed(found[:per_page]))
        older = True
    else:
        query = matching.order_by(*NEWEST_FIRST)
        if after is not None:
            query = query.where(place < tuple_(after.opened_at, after.id))
        else:
            page = min(max(1, page), pages, max(1, COUNT_LIMIT // per_page))
            query = query.offset((page - 1) * per_page)
        found = list(session.execute(query.limit(per_page + 1)))
        older = len(found) > per_page
        found = found[:per_page]
        newer = after is not None or page > 1
    if before is not None and not newer:
        page = 1
    rows = _rows_for(session, [row_id for row_id, _ in found])
    return Page(
        rows=rows,
        total=total,
        page=max(1, page),
        pages=max(pages, page),
        exact=exact,
        next=Cursor.of(rows[-1]) if rows and older else None,
        previous=Cursor.of(rows[0]) if rows and newer else None,
    )


def all_incidents(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> list[IncidentRow]:
    """Every filtered incident, newest first (for exports)."""
    return _rows(session, _listing(viewer, flt, zone))


# The board shows at most this many incidents, the most urgent; it says how many more are open.
BOARD_LIMIT = 100


@dataclass
class BoardEntry:
    """An incident still open on the live board."""

    row: IncidentRow
    elapsed_seconds: float
    responses: list[Response] = field(default_factory=list)


@dataclass
class Board:
    """The board's incidents, most urgent first, and how many more are open than it shows."""

    entries: list[BoardEntry]
    more: int = 0


def board(session: Session, viewer: Viewer, now: datetime, limit: int | None = None) -> Board:
    """Incidents not yet closed, most urgent first, at most ``limit`` (:data:`BOARD_LIMIT`), with their responses.

    Urgency: nobody has accepted yet before acknowledged ones, then the
    escalation level reached (highest first), then age (oldest first). The
    partial index on open incidents serves the order and the count alike.
    """
    limit = limit or BOARD_LIMIT
    not_closed = Incident.status != IncidentStatus.CLOSED
    waiting = case((Incident.status == IncidentStatus.OPEN, 0), else_=1)
    chosen = (
        scoped(select(Incident.id).where(not_closed), viewer, Incident)
        .order_by(waiting, Incident.escalation_level.desc(), Incident.opened_at, Incident.id)
        .limit(limit)
    )
    ids = list(session.scalars(chosen))
    open_count = len(ids)
    if len(ids) == limit:
        open_count = session.scalar(scoped(select(func.count(Incident.id)).where(not_closed), viewer, Incident)) or 0
    rows = {row.incident.id: row for row in _rows_for(session, ids)}
    if ids:
        # Everything the board shows of each incident, in three statements rather than three per row.
        session.execute(
            select(Incident)
            .where(Incident.id.in_(ids))
            .options(
                selectinload(Incident.responses), selectinload(Incident.group), selectinload(Incident.taken_by)
            )
        ).all()
    entries = [
        BoardEntry(
            row=rows[incident_id],
            elapsed_seconds=max(0.0, (now - rows[incident_id].incident.opened_at).total_seconds()),
            responses=list(rows[incident_id].incident.responses),
        )
        for incident_id in ids
    ]
    return Board(entries=entries, more=max(0, open_count - len(entries)))


def incident_names(session: Session, incident: Incident) -> tuple[str | None, str | None]:
    """The incident's village and group names (None when it has no group)."""
    if incident.group_id is None:
        return None, None
    found = session.execute(
        select(Village.name, Group.name)
        .join(Village, Group.village_id == Village.id)
        .where(Group.id == incident.group_id)
    ).one_or_none()
    return (found[0], found[1]) if found else (None, None)


def first_accept_at(session: Session, incident_id: int) -> datetime | None:
    return session.scalar(
        select(func.min(Response.received_at)).where(
            Response.incident_id == incident_id, Response.answer == Answer.ACCEPT.value
        )
    )
