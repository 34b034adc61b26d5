"""``hotline broadcast ...``: compose and send broadcasts, follow them, pause, resume or cancel them, report."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext

if TYPE_CHECKING:
    from config.settings import Settings
    from hotline.models import Broadcast
    from hotline.services.broadcast_report import Report
    from hotline.services.broadcasts import Plan


def _when(text: str, zone: str) -> datetime:
    """``2026-12-07 18:00`` (local time in ``zone`` unless it names its own offset), as an aware time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"无法识别的时间 {text!r}，请写成 2026-12-07 18:00", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def _values(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} 应写成 名称=值", param_hint="--var")
        values[name.strip()] = value
    return values


def _summary(settings: Settings, composed: Plan) -> str:
    from hotline.console.present import broadcast_channel_text
    from hotline.services.broadcasts import kind_label
    from hotline.services.messages import duration_text

    found = composed.recipients
    channel = broadcast_channel_text(composed.channel, settings.language)
    lines = [
        f"派出所：{composed.station.name}",
        f"内容：{kind_label(settings.language, composed.kind)}；渠道：{channel}",
        f"接收号码：{found.numbers} 个（名单 {found.matched} 人，重复号码 {found.duplicates} 个，"
        f"已退订 {found.opted_out} 个）",
    ]
    if found.sms or composed.channel != "voice":
        lines.append(
            f"短信：{len(found.sms)} 条，每条拆成 {composed.texts.segments} 条，共 {composed.segments_total} 条计费"
            + (f"（{found.no_sms} 个号码不能收短信）" if found.no_sms else "")
        )
    if found.calls:
        lines.append(f"语音电话：{len(found.calls)} 个")
    lines.append(f"预计用时：约 {duration_text(settings, composed.seconds)}（期间有紧急求助时求助优先）")
    if composed.calls_wait_until is not None:
        local = composed.calls_wait_until.astimezone(ZoneInfo(settings.timezone))
        lines.append(f"现在是免打扰时段：语音电话将在 {local:%m-%d %H:%M} 后拨出")
    if found.sms:
        lines += ["短信预览：", f"  {composed.texts.sms}"]
    if found.calls:
        lines += ["语音预览：", f"  {composed.texts.voice}"]
    return "\n".join(lines)


def _dispatch(ids: list[int]) -> None:
    from redis.exceptions import RedisError

    from hotline.extensions import queues
    from hotline.queues import BROADCASTS
    from hotline.services.outbox import dispatch_broadcast

    if not ids:
        return
    try:
        dispatch_broadcast(queues.queue(BROADCASTS), ids)
    except (RedisError, OSError) as exc:
        click.echo(f"警告：暂时无法连接 Redis（{exc}），已保存的群发将由后台补发", err=True)


@click.group("broadcast")
def broadcast_group() -> None:
    """群发：每日案情通报、反诈预警、天气或灾害预警，以短信或语音电话发给村民（回复TD退订；紧急求助优先）。"""


@broadcast_group.command("send")
@click.option("--station", "station_name", required=True, help="派出所名称。")
@click.option("--village", "villages", multiple=True, help="只发给这个村（可重复）。")
@click.option("--group", "groups", multiple=True, help="只发给这个小组，重名时写成“村/组”（可重复）。")
@click.option(
    "--role", "roles", multiple=True, help="只发给这种角色：求助户、联防组长、警务助理、社区民警，或 all（可重复）。"
)
@click.option("--channel", required=True, type=click.Choice(["sms", "voice", "both"]), help="短信、语音电话或两者。")
@click.option("--text", help="自定义内容。")
@click.option(
    "--template", "kind", help="模板：bulletin（每日案情通报）、fraud（反诈预警）、weather（天气/灾害预警）、free。"
)
@click.option("--var", "pairs", multiple=True, help="模板变量，写成 名称=值（可重复），例如 content=……")
@click.option("--at", "at", help="计划时间，例如 2026-12-07 18:00（默认立即发送）。")
@click.option(
    "--repeat", "rule", help="重复规则（RFC 5545 RRULE，两次之间至少隔一天），例如 FREQ=DAILY 为每天同一时间。"
)
@click.option("--yes", is_flag=True, help="不再确认，直接发送。")
@with_appcontext
def broadcast_send(
    station_name: str, villages: tuple[str, ...], groups: tuple[str, ...], roles: tuple[str, ...], channel: str,
    text: str | None, kind: str | None, pairs: tuple[str, ...], at: str | None, rule: str | None, yes: bool,
) -> None:
    """编写群发，显示接收人数、短信条数、预计用时和预览，确认后发送（或按计划时间发送）；输出群发编号。"""
    from hotline.console.present import repeat_text
    from hotline.extensions import db, get_carrier, get_settings
    from hotline.services.broadcasts import BroadcastError, create, find_audience, plan
    from hotline.services.drills import DrillError, find_station

    if bool(text) == bool(kind):
        raise click.UsageError("请只选择一项：--text 或 --template")
    values = _values(pairs)
    if text:
        kind, values = "free", {"text": text}
    assert kind is not None
    settings = get_settings()
    session = db.session
    try:
        station = find_station(session, station_name)
        audience = find_audience(session, station, villages=list(villages), groups=list(groups), roles=list(roles))
        starts = _when(at, settings.timezone) if at else None
        composed = plan(
            session, settings, station, audience=audience, channel=channel, kind=kind, values=values,
            carrier=get_carrier(), at=starts,
        )
    except (BroadcastError, DrillError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    if not yes:
        click.echo(_summary(settings, composed))
        if not click.confirm("确认发送？", default=False):
            session.rollback()
            raise click.ClickException("已取消，没有发送")
    try:
        broadcast, ids = create(
            session, settings, composed, at=starts, rule=rule,
            created_by="cli",
        )
    except BroadcastError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    _dispatch(ids)
    if broadcast.next_run_at is not None:
        local = broadcast.next_run_at.astimezone(ZoneInfo(settings.timezone))
        repeat = repeat_text(rule, broadcast.starts_at, ZoneInfo(settings.timezone), settings.language)
        click.echo(f"群发 #{broadcast.id} 已计划：{local:%Y-%m-%d %H:%M}" + (f"，重复：{repeat}" if rule else ""))
    else:
        click.echo(f"群发 #{broadcast.id} 已开始发送：{composed.recipients.numbers} 个号码")


def _find(broadcast_id: int) -> Broadcast:
    from hotline.extensions import db
    from hotline.models import Broadcast

    broadcast = db.session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise click.ClickException(f"没有群发 #{broadcast_id}")
    return broadcast


def _counts_line(broadcast: Broadcast) -> str:
    from hotline.extensions import db
    from hotline.services.broadcasts import progress, status_word

    done = progress(db.session, broadcast)
    shown = status_word(broadcast.status)
    if broadcast.status == "sending" and done.finished:
        shown = "已全部交给运营商"
    return (
        f"{shown}：共 {done.total}，待发送 {done.queued}"
        + (f"（暂缓 {done.held}）" if done.held else "")
        + f"，已发送 {done.sent}，已送达 {done.delivered}，失败 {done.failed}，已退订 {done.opted_out}"
        + (f"，已取消 {done.canceled}" if done.canceled else "")
    )


@broadcast_group.command("status")
@click.argument("broadcast_id", type=int)
@click.option("--once", is_flag=True, help="只显示一次，不跟随进度。")
@with_appcontext
def broadcast_status(broadcast_id: int, once: bool) -> None:
    """群发 BROADCAST_ID 的进度：待发送、已发送、已送达、失败、已退订；在终端上以进度条跟随到发完。
    重复群发显示各次发送的合计和最近各次的送达、失败。"""
    from hotline.console.present import broadcast_channel_text, repeat_text
    from hotline.extensions import db, get_settings
    from hotline.services.broadcast_report import build
    from hotline.services.broadcasts import audience_text, progress, status_word

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    broadcast = _find(broadcast_id)
    audience = audience_text(db.session, broadcast)
    channel = broadcast_channel_text(broadcast.channel, settings.language)
    click.echo(f"群发 #{broadcast.id}（{broadcast.station.name}，{audience}，{channel}）")
    if broadcast.rule or broadcast.next_run_at is not None:
        when = f"{broadcast.next_run_at.astimezone(zone):%Y-%m-%d %H:%M}" if broadcast.next_run_at else "无"
        starts = broadcast.starts_at or broadcast.next_run_at
        repeat = f"，重复：{repeat_text(broadcast.rule, starts, zone, settings.language)}" if broadcast.rule else ""
        click.echo(f"{status_word(broadcast.status)}：下次 {when}{repeat}")
        if broadcast.rule:
            _sends_lines(build(db.session, broadcast, settings.language), zone)
        return
    done = progress(db.session, broadcast)
    if once or not sys.stdout.isatty() or done.finished or broadcast.status != "sending":
        click.echo(_counts_line(broadcast))
        return
    with click.progressbar(length=max(done.total, 1), label="发送进度", show_pos=True) as bar:
        shown = 0
        while True:
            db.session.expire_all()
            done = progress(db.session, broadcast)
            bar.update(done.total - done.queued - shown)
            shown = done.total - done.queued
            if done.finished or broadcast.status != "sending":
                break
            time.sleep(1)
    click.echo(_counts_line(broadcast))


SENDS_SHOWN = 10


def _sends_lines(report: Report, zone: ZoneInfo) -> None:
    """A repeating broadcast's sends: their total, then the latest ones, one line each."""
    from hotline.services.broadcasts import status_word

    if not report.sends:
        click.echo("还没有发送过")
        return
    total = report.total
    click.echo(
        f"已发送 {len(report.sends)} 次，合计：号码 {total.numbers} 个次，已送达/已接听 {total.reached}，"
        f"失败 {total.failed}"
    )
    shown = report.sends[-SENDS_SHOWN:]
    if len(report.sends) > len(shown):
        click.echo(f"最近 {len(shown)} 次（全部见 hotline broadcast report {report.broadcast.id}）：")
    for line in shown:
        when = f"{line.started_at.astimezone(zone):%Y-%m-%d %H:%M}" if line.started_at else "未发送"
        click.echo(
            f"  #{line.broadcast.id} {when} {status_word(line.broadcast.status)}："
            f"已送达/已接听 {line.reached}/{line.numbers}，失败 {line.failed}"
        )


def _change(broadcast_id: int, action: str) -> None:
    from hotline.extensions import db, get_settings
    from hotline.services.broadcasts import BroadcastError, cancel, pause, resume

    broadcast = _find(broadcast_id)
    ids: list[int] = []
    try:
        if action == "pause":
            pause(db.session, broadcast)
            said = "已暂停"
        elif action == "resume":
            ids = resume(db.session, get_settings(), broadcast)
            said = "已继续发送"
        else:
            count = cancel(db.session, broadcast)
            said = f"已取消（{count} 条未发出的不再发送）"
    except BroadcastError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    _dispatch(ids)
    click.echo(f"群发 #{broadcast_id} {said}")


@broadcast_group.command("pause")
@click.argument("broadcast_id", type=int)
@with_appcontext
def broadcast_pause(broadcast_id: int) -> None:
    """暂停群发：未发出的暂缓，已交给运营商的照常。"""
    _change(broadcast_id, "pause")


@broadcast_group.command("resume")
@click.argument("broadcast_id", type=int)
@with_appcontext
def broadcast_resume(broadcast_id: int) -> None:
    """继续已暂停的群发。"""
    _change(broadcast_id, "resume")


@broadcast_group.command("cancel")
@click.argument("broadcast_id", type=int)
@with_appcontext
def broadcast_cancel(broadcast_id: int) -> None:
    """取消群发（或重复群发的以后各次）：未发出的不再发送。"""
    _change(broadcast_id, "cancel")


@broadcast_group.command("list")
@click.option("--station", "station_name", help="只列出这个派出所的群发。")
@with_appcontext
def broadcast_list(station_name: str | None) -> None:
    """列出最近的群发。"""
    from sqlalchemy import select

    from hotline.console.present import broadcast_channel_text
    from hotline.extensions import db, get_settings
    from hotline.models import Broadcast, Station
    from hotline.services.broadcasts import kind_label, status_word

    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    query = select(Broadcast).join(Station, Broadcast.station_id == Station.id).order_by(Broadcast.id.desc()).limit(50)
    if station_name:
        query = query.where(Station.name == station_name)
    for broadcast in db.session.scalars(query):
        when = broadcast.started_at or broadcast.next_run_at or broadcast.created_at
        channel = broadcast_channel_text(broadcast.channel, settings.language)
        click.echo(
            f"#{broadcast.id}\t{broadcast.station.name}\t{kind_label(settings.language, broadcast.template)}\t"
            f"{channel}\t{status_word(broadcast.status)}\t{when.astimezone(zone):%Y-%m-%d %H:%M}"
        )


@broadcast_group.command("report")
@click.argument("broadcast_id", type=int)
@click.option(
    "--format", "file_format", type=click.Choice(["csv", "xlsx"]), help="文件格式（默认按文件名，否则 csv）。"
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def broadcast_report(broadcast_id: int, file_format: str | None, file: Path | None) -> None:
    """群发报告：各村送达情况、失败明细及原因、收到的回复；重复群发为各次发送的合计并逐次列出；
    写入 FILE（CSV 或 Excel），不写则输出 CSV。"""
    from hotline.console.export import to_xlsx
    from hotline.csvsafe import csv_bytes
    from hotline.extensions import db, get_settings
    from hotline.services.broadcast_report import build, report_table

    settings = get_settings()
    report = build(db.session, _find(broadcast_id), settings.language)
    table = report_table(report, settings.language, ZoneInfo(settings.timezone))
    chosen = file_format or ("xlsx" if file is not None and file.suffix.lower() == ".xlsx" else "csv")
    if chosen == "xlsx" and file is None:
        raise click.UsageError("Excel 格式需要指定文件 FILE")
    data = to_xlsx(table, sheet_name="broadcast") if chosen == "xlsx" else csv_bytes(table)
    if file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        file.write_bytes(data)
        counts = f"{len(report.villages)} 个村，{len(report.failures)} 条失败，{len(report.replies)} 条回复"
        if report.repeating:
            counts = f"{len(report.sends)} 次发送，" + counts
        click.echo(f"已写入 {file}：{counts}")


@broadcast_group.command("opt-outs")
@click.option("--station", "station_name", required=True, help="派出所名称。")
@with_appcontext
def broadcast_opt_outs(station_name: str) -> None:
    """列出本所退订群发的号码（退订不影响紧急求助的短信和电话）。"""
    from hotline.extensions import db, get_settings
    from hotline.services.broadcast_optouts import station_opt_outs
    from hotline.services.drills import DrillError, find_station

    zone = ZoneInfo(get_settings().timezone)
    try:
        station = find_station(db.session, station_name)
    except DrillError as exc:
        raise click.ClickException(str(exc)) from None
    for record, members in station_opt_outs(db.session, station.id):
        who = "、".join(f"{m.group.village.name}/{m.group.name} {m.name}" for m in members)
        click.echo(f"{record.phone}\t{record.created_at.astimezone(zone):%Y-%m-%d %H:%M}\t{record.keyword}\t{who}")


@broadcast_group.command("quiet-hours")
@click.option("--station", "station_name", required=True, help="派出所名称。")
@click.argument("hours", required=False)
@with_appcontext
def broadcast_quiet_hours(station_name: str, hours: str | None) -> None:
    """显示或设置本所的免打扰时段（如 21:00-08:00，期间不拨语音群发；"" 恢复默认）；修改记入变更记录。"""
    from hotline.console.audit import CLI_ACTOR, record_station_setting
    from hotline.extensions import db, get_settings
    from hotline.services.drills import DrillError, find_station
    from hotline.services.quiet_hours import stored_range

    settings = get_settings()
    try:
        station = find_station(db.session, station_name)
    except DrillError as exc:
        raise click.ClickException(str(exc)) from None
    if hours is not None:
        try:
            wanted = stored_range(hours)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="HOURS") from None
        before, station.quiet_hours = station.quiet_hours, wanted
        record_station_setting(
            db.session, actor_id=None, actor=CLI_ACTOR, station=station, action="quiet_hours", before=before,
            after=wanted,
        )
        db.session.commit()
    own = station.quiet_hours
    click.echo(f"{station.name} 免打扰时段：{own or settings.quiet_hours}" + ("" if own else "（默认）"))


def register(cli: click.Group) -> None:
    cli.add_command(broadcast_group)
