"""Small helpers the console's views share."""

from __future__ import annotations

from typing import NoReturn, cast
from zoneinfo import ZoneInfo

from flask import abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from config.settings import Settings
from hotline.console.access import Staff
from hotline.console.arguments import MAX_ID, whole_number
from hotline.console.audit import record_station_setting
from hotline.console.i18n import local_zone
from hotline.console.queries import DRILL_CHOICES, FilterError, IncidentFilter
from hotline.console.scope import visible_groups, visible_villages
from hotline.extensions import db, get_settings
from hotline.models import Station


def viewer() -> Staff:
    """The signed-in user (views run only after :func:`~hotline.console.access.require_login`)."""
    return cast(Staff, current_user._get_current_object())


def session() -> Session:
    return db.session


def settings() -> Settings:
    return get_settings(current_app)


def zone() -> ZoneInfo:
    return local_zone()


def refuse_argument(message: str) -> NoReturn:
    """Answer 400 saying what is wrong with the address: JSON for the API, a console page otherwise.

    Raises:
        werkzeug.exceptions.BadRequest: Always.
    """
    if request.blueprint == "api":
        raise BadRequest(description=message)
    page = render_template("console/error.html", code=400, reason=message, title=_("This address is not valid"))
    abort(make_response(page, 400))


def number_argument(name: str, default: int, *, maximum: int = MAX_ID) -> int:
    """The query argument ``name`` as a whole number from 1 to ``maximum``; ``default`` when absent.

    Raises:
        werkzeug.exceptions.BadRequest: The argument is given but is not such a number.
    """
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    value = whole_number(raw, maximum=maximum)
    if value is None:
        refuse_argument(
            _("“%(name)s” must be a whole number from 1 to %(maximum)d.", name=name, maximum=maximum)
        )
    return value


def id_argument(name: str) -> int | None:
    """The request value ``name`` (in the address or the posted form) as a row id; None when absent or blank.

    Raises:
        werkzeug.exceptions.BadRequest: It is given but is not a whole number from 1 to
            :data:`~hotline.console.arguments.MAX_ID`, so no row could have it.
    """
    raw = request.values.get(name)
    if raw is None or not raw.strip():
        return None
    value = whole_number(raw)
    if value is None:
        refuse_argument(_("“%(name)s” must be a whole number from 1 to %(maximum)d.", name=name, maximum=MAX_ID))
    return value


def page_number() -> int:
    """The ``page`` argument (1 when absent); a page past the end is clamped by the query.

    Raises:
        werkzeug.exceptions.BadRequest: ``page`` is not a whole number from 1 up.
    """
    return number_argument("page", 1)


def filter_choices() -> dict[str, list]:
    """The villages and groups a filter form may offer this user."""
    return {"villages": visible_villages(session(), viewer()), "groups": visible_groups(session(), viewer())}


def incident_filter(drill_default: str = "all", drill_choices: tuple[str, ...] = DRILL_CHOICES) -> IncidentFilter:
    """The incident filter the query arguments describe (a drill choice not in ``drill_choices`` is the default).

    Raises:
        werkzeug.exceptions.BadRequest: A filter argument is malformed; the answer names it.
    """
    try:
        return IncidentFilter.from_args(request.args, drill_default=drill_default, drill_choices=drill_choices)
    except FilterError as error:
        refuse_argument(_("The filter “%(name)s” is not valid; correct or remove it.", name=error.name))
        raise  # unreachable: refuse_argument always raises


def save_station_setting(station: Station, action: str, attribute: str, value: str | int | None) -> None:
    """Set one of the station's own settings (None: the service default), log the change and commit."""
    before = getattr(station, attribute)
    setattr(station, attribute, value)
    record_station_setting(
        session(), actor_id=viewer().id, actor=viewer().username, station=station, action=action,
        before=before, after=value,
    )
    session().commit()
