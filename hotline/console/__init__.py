"""The station console: staff review alerts, keep directories right, report figures.

:func:`init_app` binds the console's extensions (CSRF, sign-in, language,
login throttling) and registers one blueprint per area.
"""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import NotFound

csrf = CSRFProtect()

# Console pages load nothing from elsewhere and run no inline script.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_CONSOLE_BLUEPRINTS = {"auth", "board", "incidents", "stats", "directory", "api", "broadcasts"}


def _security_headers(response: Response) -> Response:
    if request.blueprint in _CONSOLE_BLUEPRINTS:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    return render_template("console/error.html", code=400, reason=error.description), 400


def _not_found(error: NotFound) -> ResponseReturnValue:
    # Only console pages get the console's page; webhooks and the API keep theirs.
    if request.blueprint in _CONSOLE_BLUEPRINTS - {"api"}:
        return render_template("console/error.html", code=404, reason=None), 404
    return error


def init_app(app: Flask) -> None:
    """Add the console to ``app``: extensions, blueprints and the login throttle."""
    from hotline.console import access, i18n, throttle
    from hotline.console.present import template_globals
    from hotline.console.views import (
        api,
        auth,
        board,
        broadcasts,
        broadcasts_api,  # noqa: F401  (its routes join the API's blueprint)
        directory,
        drills,
        incidents,
        stats,
    )

    # Tokens stay valid for the session's life: the board is left open all day.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    i18n.init_app(app)
    app.jinja_env.globals.update(template_globals())
    access.init_app(app)
    for module in (auth, board, incidents, stats, drills, broadcasts, directory, api):
        app.register_blueprint(module.bp)
    throttle.init_app(app)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(NotFound, _not_found)
    app.after_request(_security_headers)
