"""``hotline simulator serve`` and ``hotline simulate ...``: the carrier simulator from a terminal.

The simulator is a development tool outside the service. ``serve`` is the one
place the service's code loads it, inside the command, so nothing else pays for
(or depends on) it; ``simulate`` drives a running simulator over HTTP with the
service's own control client.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from config.settings import Settings
from hotline.carriers.simulator import SimulatorControl, SimulatorControlError
from hotline.extensions import get_settings


@click.group("simulator")
def simulator_group() -> None:
    """The carrier simulator that stands in for Twilio, or for Aliyun when HOTLINE_CARRIER=aliyun."""


@simulator_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5050, show_default=True)
@click.option(
    "--time-scale", default=1.0, show_default=True, help="Multiply every simulated wait (0.1 = ten times faster)."
)
@with_appcontext
def serve(host: str, port: int, time_scale: float) -> None:
    """Serve the simulator until Ctrl-C; it calls the service at HOTLINE_PUBLIC_URL."""
    # Loaded here, not at the top: the command line is the only part of the
    # service allowed to start the development tool.
    from simulator import Simulator, run_simulator

    settings = get_settings(current_app)
    sim = Simulator(
        service_url=settings.public_url,
        auth_token=settings.simulator_auth_token,
        hotline_number=settings.simulator_number,
        time_scale=time_scale,
        aliyun=_aliyun_setup(settings) if settings.carrier == "aliyun" else None,
    )

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # ``hotline up`` stops its children with SIGTERM; stop as on Ctrl-C.
    signal.signal(signal.SIGTERM, _stop)
    # One access-log line per poll would drown the worker's and web app's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simulator(sim, host, port, announce=lambda url: click.echo(f"运营商模拟器已在 {url} 运行"))


def _aliyun_setup(settings: Settings) -> Any:
    """The simulator's part as Aliyun: where the service takes receipts, and what each registered code says."""
    from hotline.carriers.aliyun.templates import Templates
    from simulator import AliyunSetup

    assert settings.aliyun_templates and settings.aliyun_receipt_token
    return AliyunSetup(
        receipts_url=f"{settings.public_url}/aliyun/{settings.aliyun_receipt_token}",
        sign_name=settings.aliyun_sign_name or "",
        wording=Templates.load(settings.aliyun_templates, settings.language).wording_by_code(),
    )


@click.group("simulate")
def simulate_group() -> None:
    """Drive the running simulator: dial in or text as a villager."""


def _client() -> SimulatorControl:
    return SimulatorControl(get_settings(current_app).simulator_url)


# What the terminal says a phone did, and how a call ended.
_PHONE_ACTIONS = {"phone.answered": "接听", "phone.pressed": "按键", "call.bridged": "接通"}
_CALL_ENDS = {"completed": "结束", "no-answer": "无人接听", "busy": "占线", "failed": "失败", "canceled": "已取消"}


def _describe(event: dict[str, Any]) -> str | None:
    kind = event.get("kind", "")
    phone = event.get("phone") or event.get("to") or ""
    if kind == "call.say":
        return f"{phone} 听到：{event.get('text', '')}"
    if kind == "phone.ringing":
        return f"{phone} 振铃"
    if kind in _PHONE_ACTIONS:
        return f"{phone} {_PHONE_ACTIONS[kind]} {event.get('digits', '')}".rstrip()
    if kind == "phone.sms_received":
        return f"{phone} 收到短信：{event.get('body', '')}"
    if kind == "call.status" and event.get("status") in _CALL_ENDS:
        return f"{phone} 通话{_CALL_ENDS[event['status']]}"
    return None


@simulate_group.command("call")
@click.option("--from", "from_phone", required=True, help="The calling phone number (E.164).")
@click.option("--hangup-after", type=float, default=None, help="The caller hangs up after this many seconds.")
@click.option("--watch", default=60.0, show_default=True, help="Seconds to print what the phones do.")
@with_appcontext
def simulate_call(from_phone: str, hangup_after: float | None, watch: float) -> None:
    """Dial the hotline from a phone number, and print what every phone hears and does."""
    from hotline.phones import PhoneError, parse_phone

    settings = get_settings(current_app)
    try:
        phone = parse_phone(from_phone, settings.default_region).e164
    except PhoneError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    client = _client()
    try:
        _, since = client.events()
        sid = client.dial(phone, hangup_after=hangup_after)
    except SimulatorControlError as exc:
        raise click.ClickException(f"模拟器 {settings.simulator_url} 没有接下这通电话：{exc}") from None
    click.echo(f"{phone} 拨打 {settings.hotline_number}（CallSid {sid}）")
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline:
        events, since = client.events(since)
        for event in events:
            line = _describe(event)
            if line:
                click.echo(f"  [{event.get('at', 0):6.1f}s] {line}")
        if client.call(sid).get("done"):
            click.echo("通话结束")
            return
        time.sleep(0.3)
    click.echo(f"{watch:.0f} 秒后仍在进行，请在控制台查看后续")


@simulate_group.command("sms")
@click.option("--from", "from_phone", required=True, help="The texting phone number, national (139...) or E.164.")
@click.argument("body")
@with_appcontext
def simulate_sms(from_phone: str, body: str) -> None:
    """Text the hotline from a phone number, e.g. a reply of 1."""
    from hotline.phones import PhoneError, parse_phone

    settings = get_settings(current_app)
    try:
        # The simulator takes E.164 only; stations write numbers as dialled at home.
        phone = parse_phone(from_phone, settings.default_region).e164
    except PhoneError:
        raise click.BadParameter(
            f"{from_phone!r} 不是有效的电话号码；写 11 位手机号（如 13900001002）或 +86 开头的号码", param_hint="--from"
        ) from None
    try:
        sid = _client().send_sms(phone, body)
    except SimulatorControlError as exc:
        raise click.ClickException(f"模拟器 {settings.simulator_url} 没有收下这条短信：{exc}") from None
    click.echo(f"{phone} 发送短信 {body!r}（MessageSid {sid}）")


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(simulator_group)
    cli.add_command(simulate_group)
