"""Console error pages speak the console's language: a refused form, a bad request, a page not found, a body too
large, on every console page (drills and broadcasts included), never Werkzeug's or Flask-WTF's English."""

from __future__ import annotations

import pytest

from hotline.app import DEFAULT_MAX_BYTES
from tests.support.console import login

ENGLISH = ("Bad Request", "Not Found", "Request Entity Too Large", "CSRF", "The browser (or proxy)")


def _chinese_page(response, code: int, *fragments: str) -> str:
    body = response.get_data(as_text=True)
    assert response.status_code == code, body[:300]
    assert '<html lang="zh-CN">' in body, "the console's own page"
    for english in ENGLISH:
        assert english not in body, english
    for fragment in fragments:
        assert fragment in body, fragment
    return body


def test_a_form_without_its_token_says_why_in_chinese(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    refused = client.post("/login", data={"username": "a_staff", "password": "x"})
    _chinese_page(refused, 400, "无法提交表单", "表单缺少安全令牌。")
    login(client, "a_staff")
    _chinese_page(client.post("/drills/start", data={"scope": "all"}), 400, "表单缺少安全令牌。")
    _chinese_page(client.post("/broadcasts/preview", data={"content": "x"}), 400, "表单缺少安全令牌。")
    client.get("/board?lang=en")
    english = client.post("/drills/start", data={"scope": "all"}).get_data(as_text=True)
    assert "security token is missing." in english and "CSRF" not in english


@pytest.fixture
def staff(console, world):
    login(console, "a_staff")
    return console


def test_a_bad_request_on_drills_and_broadcasts_is_a_chinese_page(staff):
    _chinese_page(staff.post("/drills/start", data={"scope": "everyone"}), 400, "无法处理这个请求", "提交的内容有误")
    _chinese_page(staff.post("/broadcasts/send", data={"content": "通知"}), 400, "无法处理这个请求")
    _chinese_page(staff.post("/broadcasts/preview", data={"kind": "nonsense"}), 400, "无法处理这个请求")
    # A form field the view reads without a default (request.form["..."]) missing.
    _chinese_page(staff.post("/directory/import/apply", data={}), 400)


def test_a_missing_drill_schedule_is_the_console_s_not_found_page(staff):
    _chinese_page(staff.post("/drills/schedules/999999/cancel"), 404, "未找到")
    _chinese_page(staff.get("/drills/", query_string={"station": "999999"}), 404, "未找到")


def test_drills_pages_carry_the_console_s_security_headers(staff):
    response = staff.get("/drills/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/drills/start", "/drills/standard", "/broadcasts/preview", "/broadcasts/send"])
def test_an_oversized_post_to_drills_or_broadcasts_is_a_chinese_413(staff, path):
    response = staff.post(path, data={"content": "x" * (DEFAULT_MAX_BYTES + 1)})
    _chinese_page(response, 413, "内容太大")


def test_the_api_keeps_answering_json(staff):
    response = staff.get("/api/broadcasts?station=x")
    assert response.status_code == 400 and response.get_json()["status"] == 400
    assert staff.get("/api/groups/999999").get_json()["status"] == 404
    # Signed in by cookie, a POST without its X-CSRFToken says why, in JSON.
    refused = staff.post("/api/broadcasts", json={"text": "通知"})
    assert refused.status_code == 400 and refused.get_json()["message"] == "表单缺少安全令牌。"


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_mistyped_address_is_the_console_s_not_found_page_in_a_browser(staff, app):
    _chinese_page(staff.get("/boardd", headers=BROWSER), 404, "未找到")
    anonymous = app.test_client()
    _chinese_page(anonymous.get("/incidents/1/reportt", headers=BROWSER), 404, "未找到")


def test_a_machine_asking_for_an_unknown_address_gets_the_plain_answer(app):
    client = app.test_client()
    for answer in (client.post("/twilio/nothing", headers=BROWSER), client.get("/nothing"),
                   client.get("/nothing", headers={"Accept": "application/json"})):
        assert answer.status_code == 404
        assert '<html lang="zh-CN">' not in answer.get_data(as_text=True)
