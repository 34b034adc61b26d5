"""``hotline users disable|enable|remove|password`` and the demo login seeded only with the simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config.settings import load_settings
from hotline.demo import DEMO_USER, seed_demo
from hotline.models import AuditLog, Station, User
from tests.support.console import PASSWORD, login


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _audit_actions(session, username: str) -> list[str]:
    session.expire_all()
    query = select(AuditLog.action).where(AuditLog.entity == "user", AuditLog.summary == username)
    return list(session.scalars(query.order_by(AuditLog.id)))


def test_a_disabled_user_cannot_sign_in_and_their_session_and_token_stop(console_app, world, runner, session):
    browser = console_app.test_client()
    login(browser, "a_staff")
    token = runner.invoke(args=["users", "token", "a_staff"]).output.strip()
    result = runner.invoke(args=["users", "disable", "a_staff"])
    assert result.exit_code == 0 and "已停用用户 a_staff" in result.output
    assert browser.get("/board").status_code == 302
    assert browser.get("/api/incidents", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    refused = login(console_app.test_client(), "a_staff")
    assert refused.status_code == 200 and "用户名或密码错误" in refused.get_data(as_text=True)
    # Disabling twice says so and changes nothing more.
    again = runner.invoke(args=["users", "disable", "a_staff"])
    assert again.exit_code == 0 and "已经是停用状态" in again.output
    # Enabled again, the same password works; the old token stays gone.
    assert runner.invoke(args=["users", "enable", "a_staff"]).exit_code == 0
    assert login(console_app.test_client(), "a_staff").status_code == 302
    assert _audit_actions(session, "a_staff") == ["token", "disable", "enable"]


def test_removing_a_user_keeps_the_audit_history(console, world, runner, session):
    login(console, "a_staff")
    created = console.post("/directory/groups/new", data={"village": "新村", "name": "三组", "ring_mode": "conference"})
    assert created.status_code == 302
    written_by_them = session.scalar(select(func.count(AuditLog.id)).where(AuditLog.actor == "a_staff"))
    assert written_by_them == 1
    result = runner.invoke(args=["users", "remove", "a_staff", "--yes"])
    assert result.exit_code == 0 and "已删除用户 a_staff" in result.output
    session.expire_all()
    assert session.scalar(select(User).where(User.username == "a_staff")) is None
    assert session.scalar(select(func.count(AuditLog.id)).where(AuditLog.actor == "a_staff")) == 1
    assert _audit_actions(session, "a_staff")[-1] == "delete"
    assert console.get("/board").status_code == 302


def test_remove_asks_first(world, runner, session):
    result = runner.invoke(args=["users", "remove", "a_staff"], input="n\n")
    assert result.exit_code != 0
    assert session.scalar(select(User).where(User.username == "a_staff")) is not None


@pytest.mark.parametrize("command", ["disable", "enable", "remove", "password"])
def test_an_unknown_user_is_an_error_in_chinese(world, runner, command):
    args = ["users", command, "nobody"] + (["--yes"] if command == "remove" else [])
    result = runner.invoke(args=args, input="a-new-password\n")
    assert result.exit_code == 1
    assert "没有名为“nobody”的用户" in result.output


def test_setting_a_password_from_the_command_line_ends_sessions(console_app, world, runner, session):
    browser = console_app.test_client()
    login(browser, "a_staff")
    short = runner.invoke(args=["users", "password", "a_staff", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "至少要 8 个字符" in short.output
    result = runner.invoke(args=["users", "password", "a_staff", "--password-stdin"], input="another-password-9\n")
    assert result.exit_code == 0 and "已修改用户 a_staff 的密码" in result.output
    assert browser.get("/board").status_code == 302
    assert login(console_app.test_client(), "a_staff", PASSWORD).status_code == 200  # the old one is refused
    assert login(console_app.test_client(), "a_staff", "another-password-9").status_code == 302
    assert _audit_actions(session, "a_staff") == ["password"]


def test_the_password_is_prompted_for_twice(world, runner):
    result = runner.invoke(args=["users", "password", "a_staff"], input="another-password-9\nanother-password-9\n")
    assert result.exit_code == 0, result.output


TWILIO = {
    "HOTLINE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "HOTLINE_TWILIO_AUTH_TOKEN": "token",
    "HOTLINE_TWILIO_NUMBER": "+8657188880000",
}


def test_the_demo_and_its_login_are_not_seeded_with_twilio(session):
    assert seed_demo(session, load_settings(TWILIO)) is None
    assert seed_demo(session, load_settings({**TWILIO, "HOTLINE_CARRIER": "twilio"})) is None
    assert session.scalar(select(func.count(Station.id))) == 0
    assert session.scalar(select(User).where(User.username == DEMO_USER)) is None


def test_the_demo_is_seeded_with_the_simulator(session):
    assert seed_demo(session, load_settings({})) is not None
    assert session.scalar(select(User).where(User.username == DEMO_USER)) is not None
