"""Signing in: passwords for the console, Bearer tokens for the API.

The signed-in user is a :class:`Staff`, a plain snapshot of the ``users``
row, so templates and scoping never lazy-load from a closed session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Blueprint, Flask, Request, current_app, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hotline.extensions import db, get_clock, get_settings
from hotline.models import User
from hotline.services.stations import sign_out_everywhere, verify_password

login_manager = LoginManager()

# When the session was last used (seconds since the epoch), kept in the session.
_LAST_SEEN = "seen"

# Checked when the username is unknown, so that a wrong name costs as much
# time as a wrong password and the response time reveals no usernames.
_DUMMY_HASH = generate_password_hash("not a password of anybody")


@dataclass(frozen=True, eq=False)
class Staff(UserMixin):
    """The signed-in user, as the console needs it.

    Attributes:
        station_id: None for a city-wide user, who sees every station.
        marker: Derived from the password hash: a password change makes
            every older session cookie invalid.
        epoch: The user's session epoch when this session began; signing
            out, a new password or disabling raises it, which ends the
            session even when its cookie is kept and sent again.
    """

    id: int
    username: str
    station_id: int | None
    station_name: str | None
    marker: str
    epoch: int = 0

    @property
    def city_wide(self) -> bool:
        return self.station_id is None

    def get_id(self) -> str:
        return f"{self.id}:{self.marker}:{self.epoch}"


def _marker(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def staff_from_user(user: User) -> Staff:
    return Staff(
        id=user.id,
        username=user.username,
        station_id=user.station_id,
        station_name=user.station.name if user.station is not None else None,
        marker=_marker(user.password_hash),
        epoch=user.session_epoch or 0,
    )


def authenticate(session_: Session, username: str, password: str) -> User | None:
    """The user with this username and password, or None (never says which was wrong)."""
    user = session_.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    right = verify_password(user, password)
    # A disabled user is told the same as a wrong password: nothing to probe.
    return user if right and user.disabled_at is None else None


def token_hash(token: str) -> str:
    """How API tokens are stored (see :func:`hotline.services.stations.issue_api_token`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(session_: Session, token: str) -> User | None:
    """The user holding API token ``token``, or None (also when the user is disabled)."""
    if not token:
        return None
    return session_.scalar(
        select(User).where(User.api_token_hash == token_hash(token), User.disabled_at.is_(None))
    )


def sign_in(staff: Staff) -> None:
    """Start a fresh session for ``staff``, keeping only the language choice.

    Clearing first means a session cookie planted before login is never the
    one that ends up signed in.
    """
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    login_user(staff)
    session[_LAST_SEEN] = _now()


def _now() -> int:
    """Seconds since the epoch on the app's clock: when a session was last used."""
    return int(get_clock()().timestamp())


def _load_user(user_id: str) -> Staff | None:
    raw_id, marker, raw_epoch = [*user_id.split(":"), "", ""][:3]
    if not (raw_id.isascii() and raw_id.isdigit() and raw_epoch.isascii() and raw_epoch.isdigit()):
        return None  # a cookie from before session epochs, or not ours
    user = db.session.get(User, int(raw_id))
    if user is None or user.disabled_at is not None:
        return None
    if _marker(user.password_hash) != marker or (user.session_epoch or 0) != int(raw_epoch):
        return None
    return staff_from_user(user)


def _expire_idle_session() -> None:
    """Sign out a session unused for ``HOTLINE_SESSION_IDLE_MINUTES``; note this request as use.

    The time of last use travels in the signed session cookie, so a copied
    cookie sent again after the idle time is refused too. It is rewritten at
    most once a minute, not on every request. Any signed-in request counts as
    use, the live board's refresh every few seconds included, so a board left
    open stays signed in while a browser closed or asleep does not.
    """
    if "_user_id" not in session:
        return
    now = _now()
    seen = session.get(_LAST_SEEN)
    idle = get_settings(current_app).session_idle_minutes * 60
    if not isinstance(seen, int) or now - seen > idle:
        logout_user()
        session.pop(_LAST_SEEN, None)
        return
    if now - seen >= 60:
        session[_LAST_SEEN] = now


def sign_out(staff: Staff) -> None:
    """End every session of ``staff`` (this one too): its copied cookie no longer signs anyone in."""
    user = db.session.get(User, staff.id)
    if user is not None:
        sign_out_everywhere(user)
        db.session.commit()
    logout_user()
    session.pop(_LAST_SEEN, None)


def _load_user_from_request(req: Request) -> Staff | None:
    # Tokens are for the API only: a stolen token must not open the console.
    if req.blueprint != "api":
        return None
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    user = user_for_token(db.session, token.strip())
    return staff_from_user(user) if user is not None else None


def _unauthorized() -> ResponseReturnValue:
    if request.blueprint == "api":
        response = jsonify(error="authentication required: sign in, or send Authorization: Bearer <token>")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
        return response
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def require_login() -> ResponseReturnValue | None:
    """A ``before_request`` hook: the blueprint's every view needs a signed-in user."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def protect(bp: Blueprint) -> Blueprint:
    """Make every view of ``bp`` require a signed-in user."""
    bp.before_request(require_login)
    return bp


def init_app(app: Flask) -> None:
    """Bind sign-in to ``app``; call after CSRF, so a stale form is judged before its session ends."""
    login_manager.init_app(app)
    app.before_request(_expire_idle_session)
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_user_from_request)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "basic"
