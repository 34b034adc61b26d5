"""Console language and times: Chinese by default, English on ``?lang=en``.

Message ids in the code and templates are English; the Chinese catalogue is
``hotline/translations/zh/LC_MESSAGES/messages.po``, compiled to the ``.mo``
next to it (committed, so a fresh ``pip install`` needs no build step).
Times are stored in UTC and shown in the configured zone (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request, session
from flask_babel import Babel

from hotline.extensions import get_settings

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"

babel = Babel()


def select_locale() -> str:
    """The language remembered in the session, Chinese when none was chosen."""
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def remember_language() -> None:
    """Store ``?lang=`` in the session, so the choice holds on later pages."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and session.get("lang") != chosen:
        session["lang"] = chosen


def local_zone() -> ZoneInfo:
    """The zone times are shown in (``HOTLINE_TIMEZONE``)."""
    return ZoneInfo(get_settings(current_app).timezone)


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored UTC time as local text; empty for None."""
    if value is None:
        return ""
    return value.astimezone(local_zone()).strftime(fmt)


def clock(seconds: float | int | None) -> str:
    """Seconds as ``m:ss`` (or ``h:mm:ss``); the same in every language."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def day_start_utc(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local calendar day begins."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def language_url(code: str) -> str:
    """The current page with ``lang=code``, keeping its other arguments."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [code]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(remember_language)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["clock"] = clock
    app.jinja_env.globals["language_url"] = language_url
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = select_locale
