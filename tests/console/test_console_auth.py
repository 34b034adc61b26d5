"""Signing in, sessions, CSRF, throttling, API tokens and the token command."""

from __future__ import annotations

from sqlalchemy import select

from hotline.models import AuditLog, User
from tests.factories import message_sid, signed_post
from tests.support.console import PASSWORD, csrf_token, login


def test_anonymous_visitor_is_sent_to_the_login_page(console):
    response = console.get("/incidents?status=open")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/incidents?status%3Dopen"


def test_login_lands_on_the_board_and_remembers_the_user(console, world):
    response = login(console, "a_staff")
    assert response.status_code == 302
    assert response.headers["Location"] == "/board"
    board = console.get("/board")
    assert board.status_code == 200
    assert "a_staff" in board.get_data(as_text=True)


def test_login_follows_a_local_next_but_never_an_outside_one(console, world):
    console.get("/login")
    ok = console.post("/login?next=/stats", data={"username": "a_staff", "password": PASSWORD})
    assert ok.headers["Location"] == "/stats"
    console.post("/logout")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = console.post(f"/login?next={target}", data={"username": "a_staff", "password": PASSWORD})
        assert response.headers["Location"] == "/board"
        console.post("/logout")


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(console, world):
    wrong_password = login(console, "a_staff", "nope-nope-nope")
    unknown_user = login(console, "nobody", "nope-nope-nope")
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert "用户名或密码错误" in wrong_password.get_data(as_text=True)
    assert "用户名或密码错误" in unknown_user.get_data(as_text=True)
    assert console.get("/board").status_code == 302


def test_passwords_are_stored_hashed(session, world):
    user = session.scalar(select(User).where(User.username == "a_staff"))
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_logout_ends_the_session(console, world):
    login(console, "a_staff")
    assert console.post("/logout").status_code == 302
    assert console.get("/board").status_code == 302


def test_session_cookie_is_httponly_and_samesite(console, world):
    response = login(console, "a_staff")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain http in this test


def test_session_cookie_is_secure_when_the_public_url_is_https(environ, migrated_engine, redis_conn, session):
    from hotline.app import create_app
    from tests.support.console import build_world

    environ = {**environ, "HOTLINE_PUBLIC_URL": "https://hotline.example.cn"}
    app = create_app(environ)
    app.config["WTF_CSRF_ENABLED"] = False
    build_world(session)
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "a_staff", "password": PASSWORD}, base_url="https://hotline.example.cn"
    )
    assert "Secure" in response.headers["Set-Cookie"]
    from hotline.extensions import db

    db.state(app).engine.dispose()


def test_repeated_failed_logins_are_throttled_per_username_and_address(console, world):
    for _ in range(5):
        assert login(console, "a_staff", "wrong-password").status_code == 200
    locked = login(console, "a_staff", PASSWORD)
    assert locked.status_code == 429
    assert "登录失败次数过多" in locked.get_data(as_text=True)
    # Another account from the same address is not locked by a's failures.
    assert login(console, "b_staff").status_code == 302


def test_successful_logins_do_not_count_towards_the_throttle(console, world):
    for _ in range(8):
        assert login(console, "a_staff").status_code == 302
        console.post("/logout")


def test_throttle_counts_in_redis(console, world, redis_conn):
    login(console, "a_staff", "wrong-password")
    assert any(b"login" in key for key in redis_conn.keys("*"))


def test_post_without_csrf_token_is_refused_when_csrf_is_enabled(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    refused = client.post("/login", data={"username": "a_staff", "password": PASSWORD})
    assert refused.status_code == 400
    assert client.get("/board").status_code == 302
    accepted = login(client, "a_staff")  # reads the token from the form
    assert accepted.status_code == 302
    # Signed in, a form posted without its token is still refused.
    assert client.post("/logout").status_code == 400


def test_twilio_webhooks_are_exempt_from_csrf(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = signed_post(client, "/twilio/sms", {"MessageSid": message_sid(), "From": "+8613800000000", "Body": "hi"})
    assert response.status_code != 400


def test_api_needs_authentication(console, world):
    response = console.get("/api/incidents")
    assert response.status_code == 401
    assert response.is_json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_accepts_a_bearer_token_and_only_the_right_one(console, session, world, console_app):
    runner = console_app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "a_staff"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    user = session.scalar(select(User).where(User.username == "a_staff"))
    session.refresh(user)
    assert user.api_token_hash and token not in user.api_token_hash

    ok = console.get("/api/groups", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert {group["id"] for group in ok.get_json()["groups"]} == {world.group_a.id, world.group_a2.id}
    assert console.get("/api/groups", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    # A token opens the API, not the console pages.
    assert console.get("/board", headers={"Authorization": f"Bearer {token}"}).status_code == 302

    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "user", AuditLog.action == "token"))
    assert entry.actor == "cli" and entry.entity_id == user.id
    assert token not in str(entry.after)


def test_token_command_refuses_an_unknown_user(console_app, world):
    result = console_app.test_cli_runner().invoke(args=["users", "token", "ghost"])
    assert result.exit_code != 0
    assert "没有名为“ghost”的用户" in result.output


def test_password_change_is_audited_and_signs_out_other_sessions(console_app, session, world):
    first, second = console_app.test_client(), console_app.test_client()
    login(first, "a_staff")
    login(second, "a_staff")
    wrong = first.post(
        "/account/password", data={"current": "wrong", "new": "new-password-9", "confirm": "new-password-9"}
    )
    assert wrong.status_code == 200 and "当前密码不正确" in wrong.get_data(as_text=True)
    changed = first.post(
        "/account/password", data={"current": PASSWORD, "new": "new-password-9", "confirm": "new-password-9"}
    )
    assert changed.status_code == 302
    assert first.get("/board").status_code == 200
    assert second.get("/board").status_code == 302  # the old session no longer matches
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "password"))
    assert entry.actor == "a_staff"
    assert "hash" not in str(entry.before) + str(entry.after)


def test_console_pages_send_security_headers(console, world):
    login(console, "a_staff")
    response = console.get("/board")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_csrf_token_helper_finds_the_login_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    assert csrf_token(app.test_client().get("/login").get_data(as_text=True))


def test_sign_in_still_works_when_redis_is_down(environ, migrated_engine, redis_conn, session):
    from hotline.app import create_app
    from hotline.extensions import db
    from tests.support.console import build_world

    app = create_app({**environ, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    app.config["WTF_CSRF_ENABLED"] = False
    build_world(session)
    response = app.test_client().post("/login", data={"username": "a_staff", "password": PASSWORD})
    assert response.status_code == 302
    db.state(app).engine.dispose()
