"""``hotline stations ...`` and ``hotline users ...``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from hotline.cli.station_show import stations_show
from hotline.extensions import get_settings
from hotline.models import Station, User, utcnow
from hotline.services.stations import (
    StationError,
    add_user,
    configure_station,
    disable_user,
    enable_user,
    find_user,
    remove_user,
    set_password,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group("stations")
def stations_group() -> None:
    """派出所：求助号码、值班电话、升级时限、小组人数、演练标准。"""


@stations_group.command("set")
@click.argument("name")
@click.option("--duty-phone", help="派出所值班电话，最后一级升级时拨打。")
@click.option("--escalation-delays", help="每一级升级前等待的秒数，例如 60,180。")
@click.option(
    "--max-group-size", type=int,
    help="每个小组的人数上限（默认 HOTLINE_MAX_GROUP_SIZE）；第十人之后的成员单独呼叫。",
)
@click.option(
    "--hotline-number",
    help="本所村民拨打的求助号码（如有自己的号码）；写 \"\" 清除。",
)
@click.option(
    "--drill-standard", metavar="SECONDS",
    help="演练中小组须在多少秒内达到所需响应人数，10 到 3600（例如 120）；慢于此的小组在战备报告中记为未达标。"
    "写 \"\" 恢复为 HOTLINE_DRILL_STANDARD_SECONDS。",
)
@with_appcontext
def stations_set(
    name: str, duty_phone: str | None, escalation_delays: str | None, max_group_size: int | None,
    hotline_number: str | None, drill_standard: str | None,
) -> None:
    """新建名为 NAME 的派出所，或修改它的设置。"""
    from flask import current_app
    from sqlalchemy import select

    from hotline.console.audit import CLI_ACTOR, record_station_setting
    from hotline.extensions import db

    session = db.session
    existing = session.scalar(select(Station).where(Station.name == name.strip()))
    standard_before = existing.drill_standard_seconds if existing is not None else None
    try:
        station = configure_station(
            session,
            name,
            duty_phone=duty_phone,
            escalation_delays=escalation_delays,
            max_group_size=max_group_size,
            hotline_number=hotline_number,
            drill_standard=drill_standard,
            region=get_settings(current_app).default_region,
        )
    except StationError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    if drill_standard is not None:
        record_station_setting(
            session, actor_id=None, actor=CLI_ACTOR, station=station, action="drill_standard",
            before=standard_before, after=station.drill_standard_seconds,
        )
    session.commit()
    click.echo(_describe(station))


stations_group.add_command(stations_show)


@stations_group.command("list")
@with_appcontext
def stations_list() -> None:
    """列出所有派出所及其求助号码、值班电话和设置。"""
    from sqlalchemy import select

    from hotline.extensions import db

    for station in db.session.scalars(select(Station).order_by(Station.name)):
        click.echo(_describe(station))


def _describe(station: Station) -> str:
    return (
        f"station {station.name}: hotline number {station.hotline_number or 'shared'}, "
        f"duty phone {station.duty_phone or '-'}, "
        f"escalation delays {station.escalation_delays or 'default'}, "
        f"group size {station.max_group_size or 'default'}, "
        f"drill standard {f'{station.drill_standard_seconds} s' if station.drill_standard_seconds else 'default'}"
    )


@click.group("users")
def users_group() -> None:
    """使用控制台的派出所工作人员。"""


@users_group.command("add")
@click.argument("username")
@click.option("--station", "station_name", help="用户所属派出所；与 --city-wide 二选一。")
@click.option("--city-wide", is_flag=True, help="全市用户，可查看所有派出所。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码。")
@with_appcontext
def users_add(username: str, station_name: str | None, city_wide: bool, password_stdin: bool) -> None:
    """添加工作人员账号。密码在提示时输入，或从标准输入读取。"""
    from hotline.extensions import db

    if bool(station_name) == city_wide:
        raise click.UsageError("请给出 --station 派出所名称 或 --city-wide 二者之一（全市用户用 --city-wide）。")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True, confirmation_prompt="再输入一次")
    from hotline.console.audit import CLI_ACTOR, record_audit, user_snapshot

    session = db.session
    try:
        user = add_user(session, username, password, None if city_wide else station_name)
    except StationError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    record_audit(
        session, actor_id=None, actor=CLI_ACTOR, station_id=user.station_id, entity="user",
        entity_id=user.id, action="create", summary=user.username, after=user_snapshot(user),
    )
    session.commit()
    scope = "全市" if user.station_id is None else f"派出所：{station_name}"
    click.echo(f"已添加用户 {user.username}（{scope}）")


def _change_user(username: str, action: str, change: Callable[[Session, User], tuple[bool, str]]) -> None:
    """Find USERNAME, apply ``change``, record it in the audit log as ``action``, commit, and say what happened.

    ``change`` answers whether it changed anything (only a change is
    recorded) and the message for the operator.

    Raises:
        click.ClickException: No such user, or ``change`` refused (exit status 1).
    """
    from hotline.console.audit import CLI_ACTOR, record_audit, user_snapshot
    from hotline.extensions import db

    session = db.session
    try:
        user = find_user(session, username)
        before = user_snapshot(user)
        station_id, user_id, name = user.station_id, user.id, user.username
        changed, message = change(session, user)
    except StationError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    if not changed:
        click.echo(message)
        return
    after = None if action == "delete" else user_snapshot(user)
    record_audit(
        session, actor_id=None, actor=CLI_ACTOR, station_id=station_id, entity="user",
        entity_id=user_id, action=action, summary=name, before=before, after=after,
    )
    session.commit()
    click.echo(message)


@users_group.command("disable")
@click.argument("username")
@with_appcontext
def users_disable(username: str) -> None:
    """停用 USERNAME：不能再登录，已登录的会话和 API 令牌立即失效。"""

    def change(_session: Session, user: User) -> tuple[bool, str]:
        if not disable_user(user, utcnow()):
            return False, f"用户 {user.username} 已经是停用状态。"
        return True, f"已停用用户 {user.username}：不能再登录，已登录的会话和 API 令牌即刻失效。"

    _change_user(username, "disable", change)


@users_group.command("enable")
@click.argument("username")
@with_appcontext
def users_enable(username: str) -> None:
    """重新启用 USERNAME，可用原密码登录（API 令牌需重新签发）。"""

    def change(_session: Session, user: User) -> tuple[bool, str]:
        if not enable_user(user):
            return False, f"用户 {user.username} 没有被停用。"
        return True, f"已恢复用户 {user.username}，可以用原密码登录（API 令牌需重新签发）。"

    _change_user(username, "enable", change)


@users_group.command("remove")
@click.argument("username")
@click.option("--yes", is_flag=True, help="不再确认。")
@with_appcontext
def users_remove(username: str, yes: bool) -> None:
    """删除 USERNAME。操作日志和事件时间线保留其姓名。"""
    if not yes:
        click.confirm(f"删除用户 {username}？", abort=True)

    def change(session: Session, user: User) -> tuple[bool, str]:
        name = user.username
        remove_user(session, user)
        return True, f"已删除用户 {name}；审计日志和事件时间线中的记录仍保留其用户名。"

    _change_user(username, "delete", change)


@users_group.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码。")
@with_appcontext
def users_password(username: str, password_stdin: bool) -> None:
    """设置 USERNAME 的密码；其会话结束，API 令牌失效。"""
    from hotline.extensions import db

    try:
        find_user(db.session, username)
    except StationError as exc:
        raise click.ClickException(str(exc)) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("新密码", hide_input=True, confirmation_prompt="再输入一次")

    def change(_session: Session, user: User) -> tuple[bool, str]:
        set_password(user, password)
        return True, f"已修改用户 {user.username} 的密码；其已登录的会话和 API 令牌已失效。"

    _change_user(username, "password", change)


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(stations_group)
    cli.add_command(users_group)
