"""Small helpers the console's views share."""

from __future__ import annotations

from typing import cast
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.console.access import Staff
from hotline.console.i18n import local_zone
from hotline.console.scope import visible_groups, visible_villages
from hotline.extensions import db, get_settings


def viewer() -> Staff:
    """The signed-in user (views run only after :func:`~hotline.console.access.require_login`)."""
    return cast(Staff, current_user._get_current_object())


def session() -> Session:
    return db.session


def settings() -> Settings:
    return get_settings(current_app)


def zone() -> ZoneInfo:
    return local_zone()


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def filter_choices() -> dict[str, list]:
    """The villages and groups a filter form may offer this user."""
    return {"villages": visible_villages(session(), viewer()), "groups": visible_groups(session(), viewer())}
