"""The browser phone in a real browser: headless Debian Chromium driven by Playwright.

The whole service runs as in ``hotline up``: the web app over HTTP (with
CSRF checks on), the carrier simulator, and an RQ worker subprocess. The
simulator runs in real time, because a person's clicks have to beat the
same ring and keypress timeouts a villager's would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.models import Incident, Response
from tests.factories import make_group
from tests.support.browser import artifact_path, launch_browser, needs_chromium
from tests.support.stack import Stack, rows, running_stack

pytestmark = [
    pytest.mark.e2e,
    needs_chromium,
]


def expect(locator):
    """Playwright's auto-retrying assertions; they query the DOM, so the page's CSP (no eval) holds."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture
def stack(environ, app, tmp_path) -> Iterator[Stack]:
    with running_stack(environ, tmp_path, time_scale=1.0) as running:
        yield running


@pytest.fixture
def context(browser):
    opened = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


def open_phone(context, stack: Stack, caller_name: str):
    """Open the phone page, pick ``caller_name`` in the directory, and wait until the phones are ready."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    page.goto(f"{stack.base_url}/phone/")
    page.get_by_role("navigation", name="通讯录").get_by_role("link", name=caller_name).first.click()
    page.wait_for_selector("body[data-ready=true]")
    return page


def card(page, name: str):
    return page.locator(f'.phone-card[aria-label="{name} 的手机"]')


def shot(page, name: str) -> Path:
    path = artifact_path(name)
    # A passing notice would cover a card.
    page.locator("#toast").evaluate("toast => { toast.hidden = true; }")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


def test_the_whole_story_in_the_browser(context, stack, session):
    group = make_group(session, households=3, delays="120,120")
    caller = next(m for m in group.members if m.name == "村民1")
    leader = next(m for m in group.members if m.name == "王组长")
    replier = next(m for m in group.members if m.name == "村民2")
    page = open_phone(context, stack, "村民1")

    # Every phone of the group rings at once, waiting for a person to answer it.
    cards = page.locator(".grid .phone-card")
    assert cards.count() == len(group.members) - 1 + 1, "the group's other members and the duty line"
    assert all(mode == "manual" for mode in cards.locator('select[data-part="mode"]').evaluate_all(
        "selects => selects.map(s => s.value)"
    ))
    page.get_by_role("button", name="拨打求助热线").click()
    ringing = page.locator(".grid .phone-card[data-state=ringing]")
    expect(ringing).to_have_count(5)
    assert card(page, "城关派出所值班室").get_attribute("data-state") == "idle"
    # The caller's card is drawn from the call, which may reach the page a poll after the ringing phones.
    expect(card(page, "村民1")).to_contain_text("正在同时呼叫 5 部电话")

    # The leader answers, hears who needs help, and presses 1: accepted and bridged.
    leader_card = card(page, leader.name)
    leader_card.get_by_role("button", name="接听").click()
    leader_card.locator(".keypad").wait_for()
    leader_card.locator(".heard").get_by_text("需要帮助").wait_for()
    assert f"{caller.name}在" in leader_card.locator(".heard").inner_text()
    leader_card.get_by_role("button", name="按 1 接受").click()
    page.wait_for_selector(f'.phone-card[aria-label="{leader.name} 的手机"][data-state=bridged]')
    expect(leader_card).to_contain_text("已与求助人接通")
    card(page, caller.name).get_by_text(f"已与 {leader.name} 接通").wait_for()
    expect(ringing).to_have_count(0)
    expect(card(page, replier.name)).to_contain_text("其他成员已先接听")

    # Another member got the alert SMS and replies 1.
    replier_card = card(page, replier.name)
    replier_card.locator(".bubble").get_by_text("【联防求助】").wait_for()
    replier_card.get_by_role("button", name="短信回复 1 正在赶往").click()
    replier_card.locator(".bubble.mine").get_by_text("1", exact=True).wait_for()

    # The timeline, read from the database, shows both answers with seconds since the call.
    timeline = page.locator("#timeline")
    accepted = timeline.locator('li[data-kind="call_accepted"]')
    replied = timeline.locator('li[data-kind="sms_reply"]')
    accepted.wait_for()
    replied.wait_for()
    assert leader.name in accepted.inner_text() and "接受" in accepted.inner_text()
    assert replier.name in replied.inner_text() and "接受" in replied.inner_text()
    assert timeline.locator("li").first.inner_text().startswith("+0:00")
    expect(page.locator("#incident-summary")).to_contain_text(f"已有人响应（{leader.name}）")
    path = shot(page, "phone-story")
    assert path.stat().st_size > 50_000

    incident = rows(stack.app, lambda s: s.scalar(select(Incident).order_by(Incident.id.desc())))
    assert (incident.status, incident.acknowledged_by_id) == ("acknowledged", leader.id)
    answers = rows(stack.app, lambda s: [
        (r.phone, r.channel, r.answer) for r in s.scalars(select(Response).order_by(Response.id))
    ])
    assert answers == [(leader.phone, "call", "accept"), (replier.phone, "sms", "accept")]

    # The caller hangs up; the call's end reaches the timeline too.
    card(page, caller.name).get_by_role("button", name="挂断").click()
    timeline.locator('li[data-kind="caller_hung_up"]').wait_for()
    assert page.errors == []


def test_two_tabs_run_two_alerts_and_a_phone_can_answer_by_itself(context, stack, session):
    first = make_group(session, households=2, delays="120,120")
    second = make_group(session, village_name="西村", households=2, delays="120,120", prefix="+86138002")
    east = open_phone(context, stack, "村民1")
    west_caller = next(m for m in second.members if m.name == "村民2")
    west = context.new_page()
    west.goto(f"{stack.base_url}/phone/?caller={west_caller.phone.replace('+', '%2B')}")
    west.wait_for_selector("body[data-ready=true]")

    # In the west tab the leader's phone answers and presses 1 by itself.
    west_leader = next(m for m in second.members if m.name == "王组长")
    card(west, west_leader.name).locator('select[data-part="mode"]').select_option("auto")
    west.get_by_role("status").get_by_text("下一通来电起生效").wait_for()
    assert stack.sim.phone(west_leader.phone)["script"]["press"] == "1"

    east.get_by_role("button", name="拨打求助热线").click()
    west.get_by_role("button", name="拨打求助热线").click()
    expect(east.locator(".grid .phone-card[data-state=ringing]")).to_have_count(4)

    west.wait_for_selector(f'.phone-card[aria-label="{west_leader.name} 的手机"][data-state=bridged]', timeout=20_000)
    west.locator('#timeline li[data-kind="acknowledged"]').wait_for()
    assert "已有人响应" not in east.locator("#incident-summary").inner_text(), "each tab follows its own incident"

    east_officer = card(east, "张警官")
    east_officer.get_by_role("button", name="接听").click()
    east_officer.get_by_role("button", name="按 1 接受").click()
    east.locator('#timeline li[data-kind="acknowledged"]').wait_for()

    east_id = east.locator("#incident-summary").inner_text().split(" ")[0]
    west_id = west.locator("#incident-summary").inner_text().split(" ")[0]
    assert east_id != west_id
    incidents = rows(stack.app, lambda s: {i.caller_phone: i.acknowledged_by_id for i in s.scalars(select(Incident))})
    east_caller = next(m for m in first.members if m.name == "村民1")
    officer = next(m for m in first.members if m.name == "张警官")
    assert incidents == {east_caller.phone: officer.id, west_caller.phone: west_leader.id}
    for page in (east, west):
        page.get_by_role("button", name="挂断").first.click()
