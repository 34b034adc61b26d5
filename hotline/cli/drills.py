"""``hotline drill ...``: start drills now or on a schedule, list and cancel schedules, report readiness."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext
from sqlalchemy import select


def _when(text: str, zone: str) -> datetime:
    """``2026-12-07 10:00`` (local time in ``zone`` unless it names its own offset), as an aware time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"无法识别的时间 {text!r}，请写成 2026-12-07 10:00", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


@click.group("drill")
def drill_group() -> None:
    """联防演练：按真实报警流程呼叫小组，检验响应速度（所有短信和语音都先说明是演练）。"""


@drill_group.command("start")
@click.option("--station", "station_name", required=True, help="派出所名称。")
@click.option("--group", "group_name", help="小组名称，重名时写成“村/组”。")
@click.option("--village", "village_name", help="村名：该村的每个小组。")
@click.option("--all", "all_groups", is_flag=True, help="本所的每个小组。")
@click.option("--at", "at", help="计划时间，例如 2026-12-07 10:00（默认立即开始）。")
@click.option(
    "--repeat",
    "rule",
    help="重复规则（RFC 5545 RRULE，两次之间至少隔一天），例如 FREQ=MONTHLY;BYDAY=1MO 为每月第一个星期一。",
)
@click.option("--duty-line", is_flag=True, help="无人响应时升级到派出所值班电话（默认只升级到社区民警）。")
@with_appcontext
def drill_start(
    station_name: str, group_name: str | None, village_name: str | None, all_groups: bool, at: str | None,
    rule: str | None, duty_line: bool,
) -> None:
    """开始演练，或按计划时间（及重复规则）开始。"""
    from hotline.extensions import db, get_carrier, get_settings, queues
    from hotline.services.drills import (
        DrillError,
        find_station,
        find_target,
        groups_in_scope,
        schedule_drill,
        start_now,
    )
    from hotline.services.outbox import dispatch_work

    if sum(bool(choice) for choice in (group_name, village_name, all_groups)) != 1:
        raise click.UsageError("请只选择一项：--group、--village 或 --all")
    if rule and not at:
        raise click.UsageError("--repeat 需要 --at 指定第一次的时间")
    settings = get_settings()
    session = db.session
    try:
        station = find_station(session, station_name)
        scope, group, village = find_target(session, station, group=group_name, village=village_name)
        if at:
            schedule = schedule_drill(
                session, settings, station, at=_when(at, settings.timezone), rule=rule, group=group, village=village,
                duty_line=duty_line, created_by="cli",
            )
            session.commit()
            assert schedule.next_run_at is not None
            local = schedule.next_run_at.astimezone(ZoneInfo(settings.timezone))
            click.echo(f"已计划演练 #{schedule.id}：{local:%Y-%m-%d %H:%M}" + (f"，重复：{rule}" if rule else ""))
            return
        groups = groups_in_scope(session, station, scope, group, village)
        started = start_now(
            session, settings, groups, duty_line=duty_line, created_by="cli",
            capabilities=get_carrier().capabilities,
        )
    except DrillError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    queue = queues.queue()
    for work in started.work:
        dispatch_work(queue, work)
    for drill in started.drills:
        household = drill.household.name if drill.household else ""
        where = f"{drill.group.village.name}/{drill.group.name}"
        click.echo(f"演练已开始：{where}，代{household}求助，事件 #{drill.incident_id}")
    for skipped, why in started.skipped:
        click.echo(f"未开始：{skipped.village.name}/{skipped.name}：{why}")
    if not started.drills:
        raise click.ClickException("没有开始任何演练")


@drill_group.command("schedules")
@click.option("--station", "station_name", help="只列出这个派出所的计划。")
@with_appcontext
def drill_schedules(station_name: str | None) -> None:
    """列出尚未结束的演练计划。"""
    from hotline.extensions import db, get_settings
    from hotline.models import DrillSchedule, Station

    zone = ZoneInfo(get_settings().timezone)
    query = (
        select(DrillSchedule).join(Station, DrillSchedule.station_id == Station.id)
        .where(DrillSchedule.next_run_at.is_not(None)).order_by(DrillSchedule.next_run_at)
    )
    if station_name:
        query = query.where(Station.name == station_name)
    for schedule in db.session.scalars(query):
        assert schedule.next_run_at is not None
        target = (
            f"{schedule.group.village.name}/{schedule.group.name}" if schedule.group
            else schedule.village.name if schedule.village else "全部小组"
        )
        click.echo(
            f"#{schedule.id}\t{schedule.station.name}\t{target}\t"
            f"{schedule.next_run_at.astimezone(zone):%Y-%m-%d %H:%M}\t{schedule.rule or '一次'}"
            + ("\t含值班电话" if schedule.duty_line else "")
        )


@drill_group.command("cancel")
@click.argument("schedule_id", type=int)
@with_appcontext
def drill_cancel(schedule_id: int) -> None:
    """取消演练计划 SCHEDULE_ID：此后不再开始。"""
    from hotline.extensions import db
    from hotline.models import DrillSchedule
    from hotline.services.drills import cancel_schedule

    schedule = db.session.get(DrillSchedule, schedule_id)
    if schedule is None:
        raise click.ClickException(f"没有演练计划 #{schedule_id}")
    cancel_schedule(db.session, schedule)
    db.session.commit()
    click.echo(f"已取消演练计划 #{schedule_id}")


@drill_group.command("report")
@click.option("--station", "station_name", required=True, help="派出所名称。")
@click.option(
    "--format", "file_format", type=click.Choice(["csv", "xlsx"]), help="文件格式（默认按文件名，否则 csv）。"
)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def drill_report(station_name: str, file_format: str | None, file: Path | None) -> None:
    """演练就绪报告：各小组按最近一次演练排名，标出未达标的小组，未演练的小组列在最后；
    写入 FILE（CSV 或 Excel），不写则输出 CSV。"""
    from hotline.console.export import to_xlsx
    from hotline.csvsafe import csv_bytes
    from hotline.extensions import db, get_settings
    from hotline.services.drills import DrillError, find_station
    from hotline.services.readiness import report_table, station_report

    settings = get_settings()
    try:
        station = find_station(db.session, station_name)
    except DrillError as exc:
        raise click.ClickException(str(exc)) from None
    report = station_report(db.session, settings, station)
    table = report_table(report, settings.language, ZoneInfo(settings.timezone))
    chosen = file_format or ("xlsx" if file is not None and file.suffix.lower() == ".xlsx" else "csv")
    if chosen == "xlsx" and file is None:
        raise click.UsageError("Excel 格式需要指定文件 FILE")
    data = to_xlsx(table, sheet_name="readiness") if chosen == "xlsx" else csv_bytes(table)
    if file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        file.write_bytes(data)
        counts = f"{report.group_count} 个小组，{report.missing_count} 个未达标（标准 {report.standard} 秒）" + (
            f"，其中 {len(report.never_drilled)} 个未演练" if report.never_drilled else ""
        )
        click.echo(f"已写入 {file}：{counts}")


def register(cli: click.Group) -> None:
    cli.add_command(drill_group)
