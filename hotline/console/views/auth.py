"""Signing in and out, and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.security import generate_password_hash

from hotline.console.access import authenticate, require_login, sign_in, staff_from_user
from hotline.console.audit import record_audit, user_snapshot
from hotline.console.forms import ConfirmForm, LoginForm, PasswordChangeForm
from hotline.console.throttle import mark_failed_login
from hotline.console.views import make_blueprint
from hotline.console.views.common import session, viewer
from hotline.models import User
from hotline.services.stations import verify_password

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


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> ResponseReturnValue:
    """Change one's own password; other sessions of this user are signed out."""
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
            user.password_hash = generate_password_hash(form.new.data or "")
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

