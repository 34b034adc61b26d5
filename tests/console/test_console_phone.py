"""The console on a phone: headless Chromium at 390 × 844, signed in as a station user with real data.

Every page reachable from the menu (and from the pages it leads to) must fit
the screen's width; the board reads as cards, the most urgent first. The
station has broadcasts (one sent once, one repeating with a send) and a
drill, so their pages are checked with data, and a broadcast's preview
(reached by posting the form) too. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotline.console.audit import record_audit
from hotline.extensions import get_settings
from hotline.models import Drill, InboundMessage, Notification, utcnow
from hotline.services import broadcasts as broadcast_service
from hotline.services.drills import schedule_drill
from tests.factories import message_sid
from tests.support.browser import ARTIFACTS, artifact_path, launch_browser, needs_chromium, serve_console, sign_in
from tests.support.console import PASSWORD, at, make_incident

pytestmark = needs_chromium

PHONE = {"width": 390, "height": 844}
# Links that leave the console's pages, change state or download a file.
SKIP = re.compile(r"/logout|[?&]lang=|\.(csv|xlsx|pdf|json)(\?|$)|/delete$")
MAX_PAGES = 30


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture
def server(app) -> Iterator[str]:
    yield from serve_console(app)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _sent(session, broadcast, when, failed_phone=None) -> None:
    """Mark a broadcast's rows delivered (one failed), as the carrier's receipts would."""
    for row in session.scalars(select(Notification).where(Notification.broadcast_id == broadcast.id)):
        row.status, row.sent_at, row.status_at = "delivered", when, when
        if row.phone == failed_phone:
            row.status, row.failure_reason, row.error_code = "failed", "unreachable", 30003
    broadcast.status, broadcast.finished_at = "done", when + timedelta(minutes=2)


@pytest.fixture
def busy_station(app, session, world):
    """Station A with open incidents at every escalation level, handled ones, a directory change, a broadcast
    sent once (a failure, a reply), a repeating one with one send, a drill (a number not reached, a group
    never drilled) and a monthly drill schedule."""
    now = utcnow()
    calm = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=20))
    officers = make_incident(session, world.group_a2, opened_at=now - timedelta(seconds=90), level=1, decline_after=5)
    duty = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=200), level=1)
    duty.escalation_level = 2
    answered = make_incident(session, world.group_a, opened_at=now - timedelta(seconds=300), accept_after=30)
    closed = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=75,
                           decline_after=8, level=1, closed=True, failed_phones=("+8613800100002",))
    record_audit(session, actor_id=None, actor="a_staff", station_id=world.group_a.village.station_id,
                 entity="directory", entity_id=None, action="import", summary="名单.csv: +9 ~0 -0",
                 after={"file": "名单.csv", "created": 9, "updated": 0, "deactivated": 0, "unchanged": 0})
    settings = get_settings(app)
    station = world.group_a.village.station
    text = "今晚有大到暴雨，请远离河道、山塘和低洼地带，留意村广播，夜间非必要不出门，老人小孩由家人照看好"
    composed = broadcast_service.plan(
        session, settings, station, audience=broadcast_service.Audience(), channel="both", kind="free",
        values={"text": text}, now=now - timedelta(hours=3),
    )
    once, _ids = broadcast_service.create(session, settings, composed, now=now - timedelta(hours=3))
    _sent(session, once, now - timedelta(hours=3), failed_phone="+8613800100003")
    session.add(InboundMessage(message_sid=message_sid(), from_phone="+8613800100004",
                               body="收到，已经通知邻居了，谢谢派出所", handled_as="broadcast_reply",
                               received_at=now - timedelta(hours=2)))
    first = now - timedelta(days=1)
    repeating, _ids = broadcast_service.create(
        session, settings, composed, at=first, rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", now=first - timedelta(hours=1)
    )
    session.commit()
    broadcast_service.start_due(session, settings, first + timedelta(seconds=5))
    [send] = broadcast_service.children(session, repeating)
    _sent(session, send, first + timedelta(seconds=5), failed_phone="+8613800100005")
    drilled = make_incident(session, world.group_a, opened_at=at("2026-03-05 02:00:00"), accept_after=45, drill=True,
                            closed=True, failed_phones=("+8613800100006",))
    session.add(Drill(station_id=station.id, group_id=world.group_a.id, incident_id=drilled.id,
                      household_id=drilled.caller_member_id, run_at=drilled.opened_at, created_by="a_staff"))
    schedule_drill(session, settings, station, at=now + timedelta(days=3), rule="FREQ=MONTHLY;BYDAY=1MO")
    session.commit()
    return {"calm": calm, "officers": officers, "duty": duty, "answered": answered, "closed": closed,
            "broadcast": once, "repeating": repeating, "send": send}


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the screen (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def scrolled_tables(page) -> int:
    """How many card-style tables still need sideways scrolling inside their box to be read."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('table.stack'))"
        ".filter(t => t.offsetParent && t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).length"
    )


def shot(page, name: str) -> None:
    page.screenshot(path=str(artifact_path(name)), full_page=True)


def console_links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("header a, main a", "links => links.map(a => a.href)")
    return [href for href in hrefs if href.startswith(base) and not SKIP.search(href)]


@pytest.mark.parametrize("width", [390, 360])
def test_no_console_page_scrolls_sideways_at_phone_width(phone, server, busy_station, width):
    phone.set_viewport_size({"width": width, "height": PHONE["height"]})
    sign_in(phone, server, "a_staff", PASSWORD)
    # Every page the menu leads to, and the pages those lead to: one of each kind (ids do not matter).
    queue, seen, kinds, checked = [f"{server}/board"], set(), set(), {}
    while queue and len(checked) < MAX_PAGES:
        url = queue.pop(0).split("#")[0]
        kind = re.sub(r"\d+", "N", urlsplit(url).path)
        if url in seen or kind in kinds:
            continue
        seen.add(url)
        kinds.add(kind)
        response = phone.goto(url)
        assert response is not None and response.status == 200, url
        checked[kind] = max(overflow(phone), scrolled_tables(phone))
        queue.extend(console_links(phone, server))
    wide = {kind: extra for kind, extra in checked.items() if extra > 0}
    assert not wide, f"pages wider than {width} px, or with tables to scroll sideways: {wide}"
    for kind in ("/board", "/incidents", "/incidents/N", "/stats", "/directory/", "/directory/groups/N",
                 "/directory/health", "/directory/import", "/directory/audit", "/directory/members/N/edit",
                 "/directory/groups/new", "/account/password", "/broadcasts/", "/broadcasts/N",
                 "/broadcasts/opt-outs", "/drills/"):
        assert kind in checked, f"{kind} was not reached from the menu: {sorted(checked)}"


@pytest.mark.parametrize("width", [390, 360])
def test_broadcast_drill_and_preview_pages_fit_the_phone_with_their_data(phone, server, busy_station, width):
    """Each broadcast's page (the crawl above checks one per kind), the drills and readiness page with its data,
    and the preview a posted form leads to."""
    phone.set_viewport_size({"width": width, "height": PHONE["height"]})
    sign_in(phone, server, "a_staff", PASSWORD)
    pages = {
        "broadcast": (f"/broadcasts/{busy_station['broadcast'].id}", "table#failures tbody tr"),
        "repeating": (f"/broadcasts/{busy_station['repeating'].id}", "table#sends tbody tr"),
        "send": (f"/broadcasts/{busy_station['send'].id}", "table#villages tbody tr"),
        "drills": ("/drills/", "table#readiness tr.not-drilled"),
    }
    for name, (path, filled) in pages.items():
        response = phone.goto(f"{server}{path}")
        assert response is not None and response.status == 200, path
        assert phone.locator(filled).count() >= 1, f"{path} has no data in {filled}"
        assert max(overflow(phone), scrolled_tables(phone)) <= 0, f"{path} is wider than {width} px"
        shot(phone, f"console-phone-{name}-{width}")
    assert "每月第一个周一" in phone.locator("main").inner_text()

    phone.goto(f"{server}/broadcasts/")
    phone.get_by_label("求助户", exact=True).check()
    phone.get_by_label("联防组长", exact=True).check()
    phone.locator("#b-channel").select_option("both")
    phone.locator("#b-content").fill("今晚有大到暴雨，请远离河道、山塘和低洼地带，留意村广播，夜间非必要不出门")
    phone.locator("#b-repeat").select_option("weekdays")
    phone.locator("#b-at").fill("2030-01-07T18:00")
    phone.get_by_role("button", name="预览").click()
    phone.wait_for_url(f"{server}/broadcasts/preview*")
    assert phone.locator("#broadcast-summary").is_visible() and phone.locator("#sms-preview").is_visible()
    assert phone.locator("#repeat").inner_text() == "每个工作日18:00"
    assert max(overflow(phone), scrolled_tables(phone)) <= 0, f"the preview is wider than {width} px"
    shot(phone, f"console-phone-broadcast-preview-{width}")


def test_board_is_cards_most_urgent_first_and_keeps_refreshing(phone, server, session, world, busy_station):
    sign_in(phone, server, "a_staff", PASSWORD)
    rows = phone.locator("#board-table tbody tr")
    assert rows.count() == 4
    tops = {row.get_attribute("data-id"): row.bounding_box()["y"] for row in rows.all()}
    order = sorted(tops, key=tops.get)
    assert order[:2] == [str(busy_station["duty"].id), str(busy_station["officers"].id)]
    assert overflow(phone) <= 0
    # Every card shows the status, escalation and responders that the table's narrow columns used to cut off.
    first = phone.locator(f'#board-table tr[data-id="{busy_station["duty"].id}"]')
    for cell in first.locator("td").all():
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], cell.inner_text()
    text = first.inner_text()
    assert "未响应" in text
    assert "值班电话" in text and "村民1" in text and "138 0010 0001" in text
    assert first.locator("[data-phone]").get_attribute("data-phone") == "+8613800100001"
    sound = phone.locator("#board-sound")
    assert sound.is_visible()
    sound.tap()
    assert phone.evaluate("localStorage.getItem('hotline-board-sound')") == "on"

    # A new alert appears without reloading, as a card, still fitting the screen.
    fresh = make_incident(session, world.group_a2, opened_at=utcnow() - timedelta(seconds=5))
    phone.locator(f'#board-table tr[data-id="{fresh.id}"]').wait_for(state="visible", timeout=12_000)
    assert phone.locator("#board").get_attribute("data-state") == "live"
    assert overflow(phone) <= 0
    shot(phone, "console-phone-board")


def test_incident_directory_and_report_at_phone_size(phone, server, world, busy_station):
    closed = busy_station["closed"]
    sign_in(phone, server, "a_staff", PASSWORD)
    phone.goto(f"{server}/incidents/{closed.id}")
    steps = phone.locator("ol.timeline li")
    assert steps.count() >= 5
    for step in steps.all():
        box = step.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], step.inner_text()
    assert overflow(phone) <= 0
    shot(phone, "console-phone-incident")

    # The printed page is the report for the case file: no menu, no forms, every step.
    phone.emulate_media(media="print")
    assert not phone.locator("header.top").is_visible()
    assert phone.locator("ol.timeline li").count() == steps.count()
    shot(phone, "console-phone-incident-print")
    phone.emulate_media(media="screen")

    report = phone.request.get(f"{server}/incidents/{closed.id}/report.pdf")
    assert report.status == 200 and report.headers["content-type"] == "application/pdf"
    pdf = report.body()
    assert pdf.startswith(b"%PDF-")
    # A picture of the report's first page (./tests/install installs poppler's pdftoppm).
    assert shutil.which("pdftoppm"), "pdftoppm is missing: run ./tests/install (Debian's poppler-utils)"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "console-report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(ARTIFACTS / "console-report.pdf"),
                    str(ARTIFACTS / "console-report")], check=True, timeout=60)
    assert (ARTIFACTS / "console-report.png").stat().st_size > 0

    # The directory can be edited on the phone: the group's members, then a member's form.
    phone.goto(f"{server}/directory/groups/{world.group_a.id}")
    assert phone.locator("table.stack tbody tr").count() >= 5
    assert overflow(phone) <= 0
    shot(phone, "console-phone-directory")
    phone.locator("table.stack tbody tr").first.get_by_role("link", name="编辑").tap()
    phone.get_by_label("地址或备注").fill("东村2号 东头第三家")
    phone.get_by_role("button", name="保存").tap()
    phone.wait_for_url(f"{server}/directory/groups/{world.group_a.id}")
    assert "东头第三家" in phone.locator("main").inner_text()
    assert overflow(phone) <= 0


def test_other_station_gets_404_for_the_report(phone, server, busy_station):
    sign_in(phone, server, "b_staff", PASSWORD)
    report = phone.request.get(f"{server}/incidents/{busy_station['closed'].id}/report.pdf")
    assert report.status == 404
