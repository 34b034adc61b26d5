"""The station console: staff review alerts, keep directories right, report figures.

:func:`init_app` binds the console's extensions (CSRF, sign-in, language,
login throttling) and registers one blueprint per area.
"""

from __future__ import annotations

from flask import Flask, Request, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest, NotFound

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
_CONSOLE_BLUEPRINTS = {"auth", "board", "incidents", "stats", "drills", "broadcasts", "directory", "api"}
# Blueprints whose errors are console pages in the user's language; the API answers JSON.
CONSOLE_PAGES = frozenset(_CONSOLE_BLUEPRINTS - {"api"})

# Flask-WTF's reasons for refusing a form, in the console's words (an unknown one is not shown).
_CSRF_REASONS = {
    "The CSRF token is missing.": _l("The form's security token is missing."),
    "The CSRF session token is missing.": _l("Your session holds no security token; sign in again."),
    "The CSRF token has expired.": _l("The form's security token has expired."),
    "The CSRF token is invalid.": _l("The form's security token is not valid."),
    "The CSRF tokens do not match.": _l("The form's security token belongs to another session."),
    "The referrer header is missing.": _l("The browser did not say which page sent the form."),
    "The referrer does not match the host.": _l("The form was sent from another site."),
}


def _security_headers(response: Response) -> Response:
    if request.blueprint in _CONSOLE_BLUEPRINTS:
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    reason = _CSRF_REASONS.get(str(error.description))
    if request.blueprint == "api":  # a cookie-signed API call without its X-CSRFToken
        from hotline.console.views.api import json_error

        return json_error(BadRequest(description=str(reason or _("The form could not be accepted"))))
    return render_template("console/error.html", code=400, reason=str(reason) if reason else None), 400


def _bad_request(error: BadRequest) -> ResponseReturnValue:
    """400 in the console's words on its pages, the API's JSON on the API; other parts keep their own."""
    if request.blueprint == "api":
        # This handler, registered for the code, is found before the API blueprint's own.
        from hotline.console.views.api import json_error

        return json_error(error)
    if request.blueprint not in CONSOLE_PAGES:
        return error
    page = render_template(
        "console/error.html",
        code=400,
        title=_("This request could not be accepted"),
        reason=_("Something in what was sent is not valid. Go back, reload the page and try again."),
    )
    return page, 400


def _not_found(error: NotFound) -> ResponseReturnValue:
    # Console pages get the console's page and the API its JSON; webhooks keep theirs.
    if request.blueprint == "api":
        from hotline.console.views.api import json_error

        return json_error(error)
    if request.blueprint in CONSOLE_PAGES or _browser_lost(request):
        return render_template("console/error.html", code=404, reason=None), 404
    return error


def _browser_lost(asked: Request) -> bool:
    """A person's browser asked for an address that matches no route (a mistyped or old link).

    Carriers and scripts, which ask for anything or for JSON, keep the plain answer.
    """
    wanted = asked.accept_mimetypes.best_match(["application/json", "text/html"])
    return asked.url_rule is None and asked.method in ("GET", "HEAD") and wanted == "text/html"


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
    app.register_error_handler(BadRequest, _bad_request)
    app.register_error_handler(NotFound, _not_found)
    app.after_request(_security_headers)
