"""The browser phone's side of the carrier simulator: answering modes and trimmed phone state.

The page never talks to the simulator itself (another origin, another
port); the views forward through :class:`SimulatorControl` using what is here.
"""

from __future__ import annotations

from typing import Any

from hotline.carriers.simulator import SimulatorControl, SimulatorControlError

# How a watched phone behaves when the hotline rings it. A phone keeps the
# script it had when a call started, so a change applies from the next call.
MODES: dict[str, dict[str, Any]] = {
    # Rings until a person presses answer or reject on the page.
    "manual": {"manual": True},
    # Picks up after three seconds and presses 1, as a keen member would.
    "auto": {"answer_after": 3.0, "press": "1", "press_after": 1.0, "talk_for": 30.0},
    # Rings out: nobody home.
    "ignore": {"ignore": True},
}
MODE_LABELS = {
    "manual": "我来接听",
    "auto": "自动接听并按1",
    "ignore": "不接听",
    "other": "其他脚本",
}
CALL_STATUS_LABELS = {
    "queued": "正在接通",
    "initiated": "正在接通",
    "ringing": "响铃中",
    "in-progress": "通话中",
    "completed": "已挂断",
    "busy": "已拒接",
    "no-answer": "未接听",
    "failed": "呼叫失败",
    "canceled": "已取消",
}
# Why a call ended, when the status alone does not say it.
ENDED_BY_LABELS = {
    "lost": "其他成员已先接听",
    "caller-hangup": "求助人已挂断",
    "callee-hangup": "已挂断",
    "screening": "未接受，热线已挂断",
    "time-limit": "通话时间到",
}
LIVE_STATUSES = frozenset({"queued", "initiated", "ringing", "in-progress"})
# Enough history to read back what happened, small enough to poll every second.
MAX_CALLS = 4
MAX_MESSAGES = 12


class SimulatorUnavailable(Exception):
    """The simulator did not answer, or refused what was asked.

    Attributes:
        http_status: What the page's API answers: the simulator's own 4xx, or
            502 when it could not be reached or failed.
    """

    def __init__(self, message: str, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


def mode_of(script: dict[str, Any]) -> str:
    """Which of :data:`MODES` a simulator script is, or ``"other"`` (set from the CLI or a test)."""
    if script.get("manual"):
        return "manual"
    if script.get("ignore"):
        return "ignore"
    automatic = not any(script.get(flag) for flag in ("busy", "fail", "voicemail"))
    if automatic and script.get("press") == "1":
        return "auto"
    return "other"


def _call_view(call: dict[str, Any]) -> dict[str, Any]:
    """A call leg as one phone sees it; ``incoming`` is the hotline calling this phone."""
    status = call["status"]
    incoming = call["direction"] != "inbound"
    bridged_phone = None
    if call["bridged"] and not incoming:
        # The caller's leg names the member it was bridged to among its Dial legs.
        bridged_phone = next((leg["phone"] for leg in call["legs"] if leg["sid"] == call["bridged_with"]), None)
    return {
        "sid": call["sid"],
        "incoming": incoming,
        "status": status,
        "status_label": CALL_STATUS_LABELS.get(status, status),
        "live": status in LIVE_STATUSES,
        "manual": call["manual"],
        "screening": call["screening"],
        "bridged": call["bridged"],
        "bridged_phone": bridged_phone,
        "conference": call["conference"],
        "ringing_legs": sum(1 for leg in call["legs"] if leg["status"] == "ringing"),
        "ended_note": None if status in LIVE_STATUSES else ENDED_BY_LABELS.get(call["ended_by"] or ""),
        "heard": call["heard"],
        "digits": "".join(call["digits"]),
        "created_at": call["created_at"],
    }


def _messages(state: dict[str, Any]) -> list[dict[str, Any]]:
    received = [{"sid": m["sid"], "mine": False, "body": m["body"], "at": m["at"]} for m in state["messages"]]
    sent = [{"sid": m["sid"], "mine": True, "body": m["body"], "at": m["at"]} for m in state["sent"]]
    return sorted(received + sent, key=lambda m: m["at"])[-MAX_MESSAGES:]


def phone_view(state: dict[str, Any]) -> dict[str, Any]:
    """Trim the simulator's state of one phone to what a phone card shows.

    Live calls come first, then the latest ended ones.
    """
    mode = mode_of(state["script"])
    calls = [_call_view(call) for call in state["calls"]]
    live = [c for c in calls if c["live"]]
    ended = [c for c in calls if not c["live"]]
    shown = sorted(live, key=lambda c: c["created_at"], reverse=True)
    shown += sorted(ended, key=lambda c: c["created_at"], reverse=True)
    return {
        "number": state["number"],
        "mode": mode,
        "mode_label": MODE_LABELS[mode],
        "scripted": state["scripted"],
        "calls": shown[:MAX_CALLS],
        "messages": _messages(state),
    }


def _forward(action: str, call: Any) -> Any:
    """Run one client call, turning its error into :class:`SimulatorUnavailable`."""
    try:
        return call()
    except SimulatorControlError as exc:
        status = exc.http_status
        if status is None or status >= 500:
            raise SimulatorUnavailable(f"模拟器未响应（{action}）：{exc}", 502) from exc
        raise SimulatorUnavailable(str(exc), status) from exc


def read_phone(client: SimulatorControl, number: str) -> dict[str, Any]:
    """The card state of ``number``.

    Raises:
        SimulatorUnavailable: The simulator could not be reached.
    """
    return phone_view(_forward("读取电话", lambda: client.phone(number)))


def watch(client: SimulatorControl, number: str) -> dict[str, Any]:
    """Make ``number`` answerable from the page unless someone already scripted it.

    An unscripted phone would ring out unanswered, so it becomes manual; a
    phone given a script (by another tab, the CLI or a test) keeps it.

    Raises:
        SimulatorUnavailable: The simulator could not be reached.
    """
    state = _forward("读取电话", lambda: client.phone(number))
    if not state["scripted"]:
        state = _forward("设置接听方式", lambda: client.script(number, **MODES["manual"]))
    return phone_view(state)


def set_mode(client: SimulatorControl, number: str, mode: str) -> dict[str, Any]:
    """Script ``number`` to answer per ``mode`` (a key of :data:`MODES`).

    Raises:
        KeyError: ``mode`` is not one of :data:`MODES`.
        SimulatorUnavailable: The simulator could not be reached or refused the script.
    """
    fields = MODES[mode]
    return phone_view(_forward("设置接听方式", lambda: client.script(number, **fields)))


def call_action(client: SimulatorControl, sid: str, action: str, digits: str | None = None) -> dict[str, Any]:
    """Answer, reject, hang up or key ``digits`` on call ``sid``.

    Raises:
        SimulatorUnavailable: 404 for an unknown call, 409 when the call's
            state does not allow it (e.g. answering a call that stopped
            ringing), 400 for bad digits, 502 when unreachable.
    """
    if action == "press":
        return _call_view(_forward("按键", lambda: client.press(sid, digits or "")))
    operations = {"answer": client.answer, "reject": client.reject, "hangup": client.hangup}
    labels = {"answer": "接听", "reject": "拒接", "hangup": "挂断"}
    return _call_view(_forward(labels[action], lambda: operations[action](sid)))


def dial(client: SimulatorControl, from_phone: str) -> str:
    """Call the hotline from ``from_phone``; the caller stays on until someone hangs up.

    Raises:
        SimulatorUnavailable: The simulator could not be reached or refused the call.
    """
    return _forward("拨号", lambda: client.dial(from_phone))


def send_sms(client: SimulatorControl, from_phone: str, body: str) -> str:
    """Text the hotline from ``from_phone``; returns once the hotline has answered the webhook.

    Raises:
        SimulatorUnavailable: The simulator could not be reached.
    """
    return _forward("发短信", lambda: client.send_sms(from_phone, body))
