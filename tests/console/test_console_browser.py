"""The console in a real browser: headless Debian Chromium driven by Playwright.

The app is served by werkzeug on a free loopback port, with CSRF checks on,
as in production. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hotline.models import Member, utcnow
from tests.support.browser import artifact_path, launch_browser, needs_chromium, serve_console, sign_in
from tests.support.console import PASSWORD, at, make_incident

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture
def server(app) -> Iterator[str]:
    yield from serve_console(app)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page, name: str) -> Path:
    path = artifact_path(name)
    page.screenshot(path=str(path), full_page=True)
    return path


def test_login_lands_on_the_live_board_which_refreshes_itself(page, server, session, world):
    page.goto(server)
    assert page.url.startswith(f"{server}/login")
    page.get_by_label("用户名").fill("a_staff")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"

    sign_in(page, server, "a_staff", PASSWORD)
    assert page.get_by_role("heading", name="值班看板").is_visible()
    assert page.get_by_text("当前没有未结警情。").is_visible()

    # An alert opened while the board is on screen appears without reloading.
    make_incident(session, world.group_a, opened_at=utcnow() - timedelta(seconds=42), decline_after=5)
    row = page.locator("#board-table tbody tr").first
    row.wait_for(state="visible", timeout=12_000)
    assert "东村 / 一组" in row.inner_text()
    assert "李助理 · 拒绝" in row.inner_text()
    assert page.locator("#board").get_attribute("data-state") == "live"
    shot(page, "console-board")


def test_station_a_cannot_open_station_b_incident_by_url(page, server, session, world):
    theirs = make_incident(session, world.group_b, opened_at=at("2026-03-02 01:00:00"))
    ours = make_incident(session, world.group_a, opened_at=at("2026-03-02 02:00:00"))
    sign_in(page, server, "a_staff", PASSWORD)
    response = page.goto(f"{server}/incidents/{theirs.id}")
    assert response.status == 404
    assert page.get_by_text("此处没有内容，或属于其他派出所。").is_visible()
    assert page.goto(f"{server}/incidents/{ours.id}").status == 200
    page.goto(f"{server}/incidents")
    assert page.get_by_role("link", name=f"#{ours.id}").is_visible()
    assert page.get_by_role("link", name=f"#{theirs.id}").count() == 0


def test_incident_timeline_and_closing(page, server, session, world):
    incident = make_incident(
        session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=75, decline_after=8, level=1
    )
    sign_in(page, server, "a_staff", PASSWORD)
    page.goto(f"{server}/incidents/{incident.id}")
    items = page.locator("ol.timeline li")
    texts = items.all_inner_texts()
    assert texts[0].startswith("+0:00") and "收到求助电话" in texts[0]
    assert any(text.startswith("+1:00") and "升级" in text for text in texts)
    assert any(text.startswith("+1:15") and "电话接警" in text for text in texts)
    shot(page, "console-incident")

    page.get_by_label("处理结果").select_option("false_alarm")
    page.get_by_label("备注").fill("演示：老人误按")
    page.get_by_role("button", name="结案").click()
    assert page.get_by_role("status").inner_text() == "警情已结案。"
    assert page.locator("dl.facts").get_by_text("误报").is_visible()
    assert page.get_by_text("a_staff", exact=False).first.is_visible()


def test_import_with_errors_shows_them_and_writes_nothing(page, server, session, world):
    before = session.scalar(select(func.count(Member.id)))
    sign_in(page, server, "a_staff", PASSWORD)
    page.goto(f"{server}/directory/import")
    csv = "村,小组,姓名,电话,角色\n西村,二组,新户一,139 0000 0001,求助户\n西村,二组,新户二,12345,村长\n"
    page.get_by_label("文件（CSV 或 Excel .xlsx）").set_input_files(
        files=[{"name": "名单.csv", "mimeType": "text/csv", "buffer": csv.encode("utf-8")}]
    )
    page.get_by_role("button", name="检查文件").click()
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 2
    assert "12345" in errors.nth(0).inner_text() and "村长" in errors.nth(1).inner_text()
    assert page.get_by_role("button", name="确认导入").count() == 0
    shot(page, "console-import-errors")
    assert session.scalar(select(func.count(Member.id))) == before


def test_statistics_charts_and_language_switch(page, server, session, world):
    for day, seconds in ((2, 12), (3, 45), (4, None), (10, 80), (11, 20), (17, 150), (18, 35)):
        make_incident(session, world.group_a, opened_at=at(f"2026-03-{day:02d} 01:00:00"), accept_after=seconds,
                      level=0 if seconds else 1)
    make_incident(session, world.group_a2, opened_at=at("2026-03-12 01:00:00"), accept_after=25)
    sign_in(page, server, "a_staff", PASSWORD)
    page.goto(f"{server}/stats")
    assert page.locator("figure.chart svg rect").count() == 7 + 3
    shot(page, "console-stats")
    page.goto(f"{server}/board")
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Live board").is_visible()
    page.get_by_role("link", name="Statistics").click()
    assert page.get_by_role("heading", name="Statistics").is_visible()
    assert page.locator("figure.chart svg").count() == 2


def test_uploading_a_valid_file_after_preview(page, server, session, world):
    sign_in(page, server, "a_staff", PASSWORD)
    page.goto(f"{server}/directory/import")
    data = io.BytesIO("村,小组,姓名,电话,角色\n北村,一组,新户,139 0000 0009,求助户\n".encode())
    page.get_by_label("文件（CSV 或 Excel .xlsx）").set_input_files(
        files=[{"name": "new.csv", "mimeType": "text/csv", "buffer": data.getvalue()}]
    )
    page.get_by_role("button", name="检查文件").click()
    assert page.get_by_text("文件无误。尚未保存任何内容。").is_visible()
    page.get_by_role("button", name="确认导入").click()
    assert "已导入 new.csv" in page.get_by_role("status").inner_text()
    assert session.scalar(select(Member).where(Member.phone == "+8613900000009")) is not None
