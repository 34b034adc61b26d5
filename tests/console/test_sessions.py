"""Sessions end on the server: at sign-out, after an idle time, and when the password changes.

The console's session is a signed cookie; a copy of it once kept working
after sign-out and forever after. Now each user has a session epoch that
sign-out, a new password or disabling raises, and the session carries its
last use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hotline.extensions import use_clock
from hotline.models import User
from tests.support.console import PASSWORD, login


def _copy_session(source, target) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_a_copied_cookie_replayed_after_sign_out_signs_nobody_in(console_app, world):
    browser, thief = console_app.test_client(), console_app.test_client()
    login(browser, "a_staff")
    _copy_session(browser, thief)
    assert thief.get("/board").status_code == 200  # a copy works while the session lasts
    assert browser.post("/logout").status_code == 302
    replayed = thief.get("/board")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/login")
    assert thief.get("/api/incidents").status_code == 401


def test_signing_in_again_after_sign_out_works(console, world):
    login(console, "a_staff")
    console.post("/logout")
    assert login(console, "a_staff").status_code == 302
    assert console.get("/board").status_code == 200


@dataclass
class HandClock:
    """A clock moved by hand: ``t`` is seconds since the epoch."""

    t: int = 1_800_000_000

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@pytest.fixture
def clock(app) -> HandClock:
    """The app's clock, moved by hand."""
    hand = HandClock()
    use_clock(app, hand)
    return hand


def test_a_session_unused_past_the_idle_time_is_over(console, world, clock):
    login(console, "a_staff")
    idle = 60 * 60  # HOTLINE_SESSION_IDLE_MINUTES defaults to 60
    clock.t += idle - 30
    assert console.get("/incidents").status_code == 200  # used within the idle time
    clock.t += idle + 1
    expired = console.get("/incidents")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
    assert console.get("/api/incidents").status_code == 401


def test_a_copy_of_an_idle_cookie_is_refused_even_while_the_original_was_used(console_app, world, clock):
    browser, thief = console_app.test_client(), console_app.test_client()
    login(browser, "a_staff")
    _copy_session(browser, thief)
    clock.t += 2 * 60 * 60
    assert thief.get("/board").status_code == 302


def test_the_live_boards_refresh_keeps_a_board_left_open_signed_in(console, world, clock):
    login(console, "a_staff")
    for _ in range(12 * 12):  # twelve hours, polled every five minutes here (the page polls every 5 s)
        clock.t += 5 * 60
        assert console.get("/board.json").status_code == 200


def test_the_idle_time_is_a_setting(environ, world, clock):
    from hotline.app import create_app

    app = create_app({**environ, "HOTLINE_SESSION_IDLE_MINUTES": "5"})
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    use_clock(app, clock)
    client = app.test_client()
    login(client, "a_staff")
    clock.t += 6 * 60
    assert client.get("/board").status_code == 302


def test_changing_ones_password_ends_other_sessions_and_the_api_token(console_app, world, runner, session):
    here, elsewhere = console_app.test_client(), console_app.test_client()
    login(here, "a_staff")
    login(elsewhere, "a_staff")
    token = runner.invoke(args=["users", "token", "a_staff"]).output.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert here.get("/api/incidents", headers=bearer).status_code == 200
    changed = here.post(
        "/account/password", data={"current": PASSWORD, "new": "a-new-password-2", "confirm": "a-new-password-2"}
    )
    assert changed.status_code == 302
    assert here.get("/board").status_code == 200  # the session that changed it goes on
    assert elsewhere.get("/board").status_code == 302
    fresh = console_app.test_client()
    assert fresh.get("/api/incidents", headers=bearer).status_code == 401
    user = session.scalar(select(User).where(User.username == "a_staff"))
    session.refresh(user)
    assert user.api_token_hash is None


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
