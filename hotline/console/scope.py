"""Who may see what: the one place where station scoping is enforced.

Station staff see their own station's villages, groups, members, incidents
and audit entries; a city-wide user (``station_id`` None) sees everything.
Every console and API query goes through :func:`scoped`, and every lookup by
id through :func:`get_visible_or_404`, so an object of another station is
simply not found (404): answering 403 would confirm that it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.exceptions import NotFound

from hotline.models import AuditLog, Group, Incident, Member, Station, User, Village

T = TypeVar("T")


class Viewer(Protocol):
    """Anyone whose view is scoped: a signed-in user or an API token's user."""

    @property
    def station_id(self) -> int | None: ...


def _village_ids(station_id: int) -> Select:
    return select(Village.id).where(Village.station_id == station_id)


def _group_ids(station_id: int) -> Select:
    return select(Group.id).where(Group.village_id.in_(_village_ids(station_id)))


# Model -> the condition that keeps only one station's rows. Subqueries rather
# than joins, so the condition composes with any query without duplicating rows.
_CONDITIONS: dict[type, Callable[[int], ColumnElement[bool]]] = {
    Station: lambda sid: Station.id == sid,
    Village: lambda sid: Village.station_id == sid,
    Group: lambda sid: Group.village_id.in_(_village_ids(sid)),
    Member: lambda sid: Member.group_id.in_(_group_ids(sid)),
    Incident: lambda sid: Incident.station_id == sid,
    User: lambda sid: User.station_id == sid,
    AuditLog: lambda sid: AuditLog.station_id == sid,
}


def station_condition(viewer: Viewer, model: type) -> ColumnElement[bool] | None:
    """The WHERE condition limiting ``model`` to what ``viewer`` may see.

    Returns:
        None for a city-wide viewer (no limit).

    Raises:
        TypeError: ``model`` has no scoping rule; refusing is safer than
            showing every station's rows.
    """
    if model not in _CONDITIONS:
        raise TypeError(f"no station scoping rule for {model.__name__}")
    if viewer.station_id is None:
        return None
    return _CONDITIONS[model](viewer.station_id)


def scoped(query: Select, viewer: Viewer, model: type) -> Select:
    """``query`` with the station condition for ``model`` added.

    Raises:
        TypeError: ``model`` has no scoping rule.
    """
    condition = station_condition(viewer, model)
    return query if condition is None else query.where(condition)


def get_visible(session: Session, viewer: Viewer, model: type[T], object_id: int) -> T | None:
    """The ``model`` row with ``object_id`` if ``viewer`` may see it, else None."""
    primary_key = model.id  # type: ignore[attr-defined]
    return session.scalar(scoped(select(model).where(primary_key == object_id), viewer, model))


def get_visible_or_404(session: Session, viewer: Viewer, model: type[T], object_id: int) -> T:
    """The ``model`` row with ``object_id`` if ``viewer`` may see it.

    Raises:
        werkzeug.exceptions.NotFound: No such row, or it belongs to another
            station (the two are deliberately indistinguishable).
    """
    found = get_visible(session, viewer, model, object_id)
    if found is None:
        raise NotFound()
    return found


def visible_stations(session: Session, viewer: Viewer) -> list[Station]:
    """The stations ``viewer`` may see, by name."""
    return list(session.scalars(scoped(select(Station).order_by(Station.name), viewer, Station)))


def visible_villages(session: Session, viewer: Viewer) -> list[Village]:
    """The villages ``viewer`` may see, by name."""
    return list(session.scalars(scoped(select(Village).order_by(Village.name, Village.id), viewer, Village)))


def visible_groups(session: Session, viewer: Viewer, village_id: int | None = None) -> list[Group]:
    """The groups ``viewer`` may see (of one village if given), by village and name."""
    query = (
        select(Group)
        .join(Village, Group.village_id == Village.id)
        .options(selectinload(Group.village).selectinload(Village.station))
        .order_by(Village.name, Group.name)
    )
    if village_id is not None:
        query = query.where(Group.village_id == village_id)
    return list(session.scalars(scoped(query, viewer, Group)))
