"""Reading incidents for the console and the API: filters, pages, the live board.

Plain functions on a :class:`Session`; every query is scoped to the viewer
through :mod:`hotline.console.scope`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Subquery, func, select
from sqlalchemy.orm import Session, selectinload

from hotline.console.arguments import whole_number
from hotline.console.i18n import day_start_utc
from hotline.console.scope import Viewer, scoped
from hotline.models import Answer, Group, Incident, IncidentStatus, Response, Village

DRILL_CHOICES = ("all", "real", "drill")


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
    def from_args(cls, args: Mapping[str, str], *, drill_default: str = "all") -> IncidentFilter:
        """Read a filter from query arguments; an empty or absent one filters nothing.

        A stale id that is well formed simply matches nothing.

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
            drill=choice("drill", DRILL_CHOICES, drill_default) or drill_default,
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


def first_accepts() -> Subquery:
    """Subquery: each incident's first accepting response time (``first_accept_at``)."""
    return (
        select(Response.incident_id, func.min(Response.received_at).label("first_accept_at"))
        .where(Response.answer == Answer.ACCEPT.value)
        .group_by(Response.incident_id)
        .subquery("first_accepts")
    )


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


def _listing(viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> Select:
    first = first_accepts()
    query = (
        select(Incident, Village.name, Group.name, first.c.first_accept_at)
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .outerjoin(first, first.c.incident_id == Incident.id)
        .where(*flt.conditions(zone))
        .order_by(Incident.opened_at.desc(), Incident.id.desc())
    )
    return scoped(query, viewer, Incident)


def _rows(session: Session, query: Select) -> list[IncidentRow]:
    return [IncidentRow(incident, village, group, first) for incident, village, group, first in session.execute(query)]


@dataclass(frozen=True)
class Page:
    rows: list[IncidentRow]
    total: int
    page: int
    pages: int


def incident_page(
    session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo, page: int = 1, per_page: int = PER_PAGE
) -> Page:
    """One page of the filtered incidents, newest first; a page past the end is clamped."""
    count_query = scoped(select(func.count(Incident.id)).where(*flt.conditions(zone)), viewer, Incident)
    total = session.scalar(count_query) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = _rows(session, _listing(viewer, flt, zone).limit(per_page).offset((page - 1) * per_page))
    return Page(rows=rows, total=total, page=page, pages=pages)


def all_incidents(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> list[IncidentRow]:
    """Every filtered incident, newest first (for exports)."""
    return _rows(session, _listing(viewer, flt, zone))


@dataclass
class BoardEntry:
    """An incident still open on the live board."""

    row: IncidentRow
    elapsed_seconds: float
    responses: list[Response] = field(default_factory=list)


def board(session: Session, viewer: Viewer, now: datetime) -> list[BoardEntry]:
    """Incidents not yet closed, oldest first, with every response so far."""
    first = first_accepts()
    query = (
        select(Incident, Village.name, Group.name, first.c.first_accept_at)
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .outerjoin(first, first.c.incident_id == Incident.id)
        .where(Incident.status != IncidentStatus.CLOSED)
        .options(selectinload(Incident.responses))
        .order_by(Incident.opened_at, Incident.id)
    )
    entries = []
    for row in _rows(session, scoped(query, viewer, Incident)):
        entries.append(
            BoardEntry(
                row=row,
                elapsed_seconds=max(0.0, (now - row.incident.opened_at).total_seconds()),
                responses=list(row.incident.responses),
            )
        )
    return entries


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
