"""Signing in and out, and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from hotline.console import CONSOLE_PAGES
from hotline.console.access import authenticate, require_login, sign_in, sign_out, staff_from_user
from hotline.console.audit import record_audit, user_snapshot
from hotline.console.forms import ConfirmForm, LoginForm, PasswordChangeForm
from hotline.console.throttle import mark_failed_login
from hotline.console.views import make_blueprint
from hotline.console.views.common import session, viewer
from hotline.models import User
from hotline.services.stations import set_password, verify_password

bp = make_blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The sign-in form; wrong passwords count towards the throttle (see ``throttle``)."""
    if current_user.is_authenticated:
        return redirect(url_for("board.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(session(), form.username.data or "", form.password.data or "")
        if user is not None:
            sign_in(staff_from_user(user))
            return redirect(safe_next(request.args.get("next")) or url_for("board.index"))
        mark_failed_login()
        error = _("Wrong username or password.")
    return render_template("console/login.html", form=form, error=error)


@bp.app_errorhandler(429)
def too_many_attempts(_error: Exception) -> ResponseReturnValue:
    form = LoginForm()
    message = _("Too many failed sign-ins. Wait 15 minutes and try again.")
    return render_template("console/login.html", form=form, error=message), 429


# Console pages (hotline.console.CONSOLE_PAGES) answer an oversized request with a page of their own;
# the API (its JSON handler), webhooks and the phone page keep theirs.


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """413 for a body past its route's limit (see ``hotline.app``), in the console's words."""
    if request.blueprint == "api":
        # This handler, registered for the code, is found before the API's own.
        return jsonify(error=error.name.lower(), status=413), 413
    if request.blueprint not in CONSOLE_PAGES:
        return error
    if request.endpoint == "directory.upload":
        reason = _("The file is larger than 10 MB.")
    else:
        reason = _("What was sent is too large for this page.")
    page = render_template("console/error.html", code=413, title=_("Too large"), reason=reason)
    return page, 413


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out: every session of this user ends, so a copied cookie signs nobody in afterwards."""
    form = ConfirmForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        sign_out(viewer())
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """Change one's own password; other sessions of this user end and their API token stops working."""
    refused = require_login()
    if refused is not None:
        return refused
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = session().get(User, viewer().id)
        if user is None or not verify_password(user, form.current.data or ""):
            form.current.errors = [_("The current password is wrong.")]
        else:
            before = user_snapshot(user)
            set_password(user, form.new.data or "")
            record_audit(
                session(), actor_id=user.id, actor=user.username, station_id=user.station_id,
                entity="user", entity_id=user.id, action="password",
                summary=user.username, before=before, after=user_snapshot(user),
            )
            session().commit()
            sign_in(staff_from_user(user))
            flash(_("Password changed."), "ok")
            return redirect(url_for("board.index"))
    return render_template("console/password.html", form=form)

