"""The incident report for the case file (PDF, in Chinese), and the console's small readability fixes.

The PDF is read back with pypdf: it must hold the caller, the station, every
key step of the timeline and who handled the incident, as Chinese text.
"""

from __future__ import annotations

import html
import io
import re

import pytest
from pypdf import PdfReader

from hotline.models import Incident
from hotline.presenters.timeline import key_steps, timeline_rows
from tests.support.console import STATION_A, at, login, make_incident


@pytest.fixture
def signed_in(console, world):
    login(console, "a_staff")
    return console


def pdf_text(data: bytes) -> str:
    """Every page's text, with whitespace removed (extractors space CJK glyphs unevenly).

    The font's two-byte codes are mapped by a CMap embedded in the PDF; pypdf
    reads that CMap's Unicode values but leaves each code's high byte as NUL,
    which is dropped here (poppler's pdftotext reads the same file cleanly).
    """
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_report_pdf_holds_the_facts_every_key_step_and_who_handled_it(signed_in, session, world):
    incident = make_incident(
        session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=75, decline_after=8, level=1,
        failed_phones=("+8613800100002",),
    )
    closed = signed_in.post(f"/incidents/{incident.id}/close", data={"outcome": "resolved", "note": "已到场处置完毕"})
    assert closed.status_code == 302

    response = signed_in.get(f"/incidents/{incident.id}/report.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)

    session.expire_all()
    incident = session.get(Incident, incident.id)
    steps = key_steps(timeline_rows(incident.events, incident.opened_at, language="zh"))
    assert len(steps) >= 5
    for step in steps:
        assert squeeze(step.title) in text, step.title
    for fact in (
        f"警情报告#{incident.id}", STATION_A, incident.caller_name, "13800100001", "东村/一组", "2026-03-0209:00:00",
        "电话通知", "短信通知", "王组长", "李助理", "拒绝", "接警", "升级", "张警官", "已送达", "失败",
        "已处置", "已到场处置完毕", "结案人", "a_staff",
    ):
        assert squeeze(fact) in text, fact


def test_report_of_another_station_is_not_found(console, session, world):
    theirs = make_incident(session, world.group_b, opened_at=at("2026-03-02 01:00:00"))
    login(console, "a_staff")
    assert console.get(f"/incidents/{theirs.id}/report.pdf").status_code == 404
    city = console.application.test_client()
    login(city, "city")
    assert city.get(f"/incidents/{theirs.id}/report.pdf").status_code == 200
    anonymous = console.application.test_client()
    assert anonymous.get(f"/incidents/{theirs.id}/report.pdf").status_code in (302, 401)


def test_incident_page_links_the_report_and_prints_without_menus(signed_in, session, world):
    incident = make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), accept_after=20)
    page = signed_in.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert f'href="/incidents/{incident.id}/report.pdf"' in page
    assert "东村2号" in page  # the caller's address
    css = signed_in.get("/static/console.css").get_data(as_text=True)
    assert "@media print" in css and "header.top" in css.split("@media print")[1]


def test_numbers_read_the_same_everywhere_and_e164_stays_in_data(signed_in, session, world):
    make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"))
    board = signed_in.get("/board").get_data(as_text=True)
    assert "138 0010 0001" in board and 'data-phone="+8613800100001"' in board
    row = signed_in.get("/board.json").get_json()["incidents"][0]
    assert row["caller_phone"] == "+8613800100001" and row["caller_phone_text"] == "138 0010 0001"
    listing = signed_in.get("/incidents").get_data(as_text=True)
    assert "138 0010 0001" in listing and ">+8613800100001<" not in listing
    group = signed_in.get(f"/directory/groups/{world.group_a.id}").get_data(as_text=True)
    assert "138 0010 0001" in group


def test_every_page_names_a_favicon_that_is_served(signed_in):
    page = signed_in.get("/board").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon is not None
    served = signed_in.get(icon.group(1))
    assert served.status_code == 200 and served.mimetype == "image/svg+xml"
    login_page = signed_in.application.test_client().get("/login").get_data(as_text=True)
    assert 'rel="icon"' in login_page


def test_directory_tabs_mark_the_page_on_screen_and_adding_a_group_is_not_a_tab(signed_in):
    for path, tab in (("/directory/", "小组"), ("/directory/health", "小组健康"), ("/directory/audit", "变更记录")):
        page = signed_in.get(path).get_data(as_text=True)
        tabs = page.split('<nav class="tabs"')[1].split("</nav>")[0]
        current = re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', tabs)
        assert current == [tab], (path, current)
        assert "新增小组" not in tabs.split("</ul>")[0]


def test_import_preview_shows_the_number_that_will_be_saved(signed_in, world):
    csv = "村,小组,姓名,电话,角色\n西村,二组,新户,１３８００１３８００３,求助户\n"
    response = signed_in.post(
        "/directory/import",
        data={"file": (io.BytesIO(csv.encode("utf-8")), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    rows = response.get_data(as_text=True).split('id="import-rows"')[1]
    assert ">138 0013 8003</td>" in rows
    assert ">１３８００１３８００３</td>" not in rows


def test_audit_log_says_what_an_import_did_in_words(signed_in, world):
    csv = "村,小组,姓名,电话,角色\n西村,二组,新户一,139 0000 0001,求助户\n西村,二组,新户二,139 0000 0002,求助户\n"
    preview = signed_in.post(
        "/directory/import",
        data={"file": (io.BytesIO(csv.encode("utf-8")), "名单.csv")},
        content_type="multipart/form-data",
    )
    token = preview.get_data(as_text=True).split('name="token" type="hidden" value="')[1].split('"')[0]
    assert signed_in.post("/directory/import/apply", data={"token": token}).status_code == 302
    audit = html.unescape(signed_in.get("/directory/audit").get_data(as_text=True))
    assert "名单.csv：新增 2 人，修改 0 人，停用 0 人" in audit
    assert "+2 ~0 -0" not in audit
