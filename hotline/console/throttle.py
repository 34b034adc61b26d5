"""Throttling of failed sign-ins, with Flask-Limiter counting in Redis.

Only failures count: five wrong passwords for one username from one address
within 15 minutes lock that pair out for the rest of the window, and fifty
failures from one address (any usernames) lock the address out, which stops
guessing across many accounts. A right password does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from hotline.extensions import get_settings

PER_ACCOUNT = "5 per 15 minutes"
PER_ADDRESS = "50 per 15 minutes"
LOGIN_ENDPOINT = "auth.login"


def storage_uri(redis_url: str | None) -> str:
    """Where the limiter counts: the app's Redis.

    Without ``REDIS_URL`` the app would use an embedded Redis that is only
    started on demand (``hotline up`` starts it and passes its URL on to the
    web processes), so a bare app counts in its own memory instead of
    starting a server just to configure itself.
    """
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def mark_failed_login() -> None:
    """Called by the login view when a password was wrong: this attempt counts."""
    g.login_failed = True


def _failed(_response: Response) -> bool:
    return bool(g.get("login_failed"))


def _account_key() -> str:
    username = (request.form.get("username") or "").strip().casefold()
    return f"login:{get_remote_address()}:{username}"


def _address_key() -> str:
    return f"login:{get_remote_address()}"


def init_app(app: Flask) -> Limiter:
    """Throttle the login view of ``app``; call after the auth blueprint is registered.

    The limiter is made per app, not shared at module level, because
    Flask-Limiter keeps its storage on the instance.

    Raises:
        KeyError: The login view is not registered yet.
    """
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=storage_uri(get_settings(app).redis_url),
        strategy="fixed-window",
        key_prefix="hotline",
        # With Redis down, staff must still be able to sign in during an
        # emergency: the throttle fails open (and the error is logged).
        swallow_errors=True,
    )
    view: Callable[..., Any] = app.view_functions[LOGIN_ENDPOINT]
    for limit, key in ((PER_ACCOUNT, _account_key), (PER_ADDRESS, _address_key)):
        view = limiter.limit(limit, key_func=key, methods=["POST"], deduct_when=_failed)(view)
    app.view_functions[LOGIN_ENDPOINT] = view
    app.extensions["hotline.limiter"] = limiter
    return limiter
