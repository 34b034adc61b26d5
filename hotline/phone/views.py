"""The browser phone's page and its JSON API (thin: the work is in the sibling modules)."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from hotline.carriers.simulator import SimulatorControl
from hotline.extensions import db, get_settings
from hotline.phone import bp, simlink
from hotline.phone.directory import caller_view, directory_tree, unknown_numbers
from hotline.phone.timeline import latest_incident, timeline_json

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
_KEYS = re.compile(r"^[0-9*#]{1,8}$")
CALL_ACTIONS = frozenset({"answer", "reject", "hangup", "press"})
MAX_WATCHED = 40
MAX_SMS_LENGTH = 320
# Reading state is quick; texting waits for the hotline to answer the simulator's webhook.
READ_TIMEOUT = 5.0
ACTION_TIMEOUT = 20.0

# The page loads nothing from elsewhere and runs no inline script.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class ApiError(Exception):
    """A request the API refuses; answered as JSON ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.status


@bp.errorhandler(simlink.SimulatorUnavailable)
def _simulator_error(error: simlink.SimulatorUnavailable) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.http_status


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> tuple[Response, int]:
    return jsonify(error=f"页面已过期，请刷新后重试（CSRF: {error.description}）"), 400


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/phone/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _client(timeout: float = READ_TIMEOUT) -> SimulatorControl:
    return SimulatorControl(get_settings(current_app).simulator_url, timeout=timeout)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError("请求体必须是 JSON 对象")
    return body


def _known_all(numbers: list[Any]) -> list[str]:
    """``numbers`` if every one is a directory number or duty line.

    Raises:
        ApiError: 400 when one is not an E.164 string, 404 when one is not in the directory.
    """
    checked: list[str] = []
    for number in numbers:
        if not isinstance(number, str) or not _E164.match(number):
            raise ApiError(f"号码格式不对（应为 E.164，如 +8613800000001）：{number!r}")
        checked.append(number)
    unknown = unknown_numbers(db.session, checked)
    if unknown:
        raise ApiError(f"名单中没有这个号码：{'、'.join(unknown)}", 404)
    return checked


def _known(number: Any) -> str:
    """``number`` if it is a directory number or duty line (see :func:`_known_all`)."""
    return _known_all([number])[0]


@bp.get("/")
def index() -> str | tuple[str, int]:
    """The page: the directory, and the chosen caller's phone with the group's phones.

    A ``?caller=`` that is no member's number gets the directory alone, with status 404.
    """
    settings = get_settings(current_app)
    chosen = request.args.get("caller", "").strip()
    view = caller_view(db.session, chosen) if chosen else None
    page = render_template(
        "phone/index.html",
        tree=directory_tree(db.session),
        view=view,
        chosen=chosen,
        hotline_number=settings.hotline_number,
        ring_timeout=settings.ring_timeout,
    )
    return (page, 404) if chosen and view is None else page


@bp.post("/api/watch")
def watch() -> Response:
    """Make the page's phones answerable by hand (unscripted ones become manual); return their state."""
    numbers = _body().get("numbers")
    if not isinstance(numbers, list) or not numbers or len(numbers) > MAX_WATCHED:
        raise ApiError(f"numbers 必须是 1 到 {MAX_WATCHED} 个号码的列表")
    client = _client()
    return jsonify(phones=[simlink.watch(client, number) for number in _known_all(numbers)])


@bp.get("/api/phones")
def phones() -> Response:
    """The current state of each ``?number=`` (calls, prompts heard, SMS), for polling."""
    numbers = request.args.getlist("number")
    if not numbers or len(numbers) > MAX_WATCHED:
        raise ApiError(f"请给出 1 到 {MAX_WATCHED} 个 number 参数")
    client = _client()
    return jsonify(phones=[simlink.read_phone(client, number) for number in _known_all(numbers)])


@bp.put("/api/phones/<number>/mode")
def set_mode(number: str) -> Response:
    """Choose how a phone answers from its next call: manual, auto (answers, presses 1) or ignore."""
    number = _known(number)
    mode = _body().get("mode")
    if mode not in simlink.MODES:
        raise ApiError(f"mode 必须是 {', '.join(simlink.MODES)} 之一")
    return jsonify(phone=simlink.set_mode(_client(), number, mode))


@bp.post("/api/dial")
def dial() -> tuple[Response, int]:
    """Call the hotline as ``from``."""
    caller = _known(_body().get("from"))
    return jsonify(sid=simlink.dial(_client(), caller)), 201


@bp.post("/api/sms")
def sms() -> tuple[Response, int]:
    """Text the hotline as ``from``: a reply such as 1 or 2, or a silent call for help."""
    body = _body()
    sender = _known(body.get("from"))
    text = body.get("body")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SMS_LENGTH:
        raise ApiError(f"短信内容不能为空，且不超过 {MAX_SMS_LENGTH} 字")
    return jsonify(sid=simlink.send_sms(_client(ACTION_TIMEOUT), sender, text.strip())), 201


@bp.post("/api/calls/<sid>/<action>")
def call_action(sid: str, action: str) -> Response:
    """Answer, reject, hang up, or press keys (``{"digits": "1"}``) on a call."""
    if action not in CALL_ACTIONS:
        raise ApiError(f"未知操作：{action}", 404)
    if not _CALL_SID.match(sid):
        raise ApiError(f"通话编号格式不对：{sid}", 404)
    digits = None
    if action == "press":
        digits = _body().get("digits")
        if not isinstance(digits, str) or not _KEYS.match(digits):
            raise ApiError("digits 必须是 0-9、*、# 组成的按键")
    return jsonify(call=simlink.call_action(_client(ACTION_TIMEOUT), sid, action, digits))


@bp.get("/api/timeline")
def timeline() -> Response:
    """The newest incident ``?caller=`` opened and its timeline, read from the database."""
    caller = _known(request.args.get("caller"))
    incident = latest_incident(db.session, caller)
    if incident is None:
        return jsonify(incident=None, events=[])
    return jsonify(timeline_json(db.session, incident))
