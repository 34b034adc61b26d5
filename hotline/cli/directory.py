"""``hotline directory import`` and ``hotline directory export``."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hotline.directory import (
    ExportError,
    ImportRefused,
    Plan,
    ReadError,
    apply_plan,
    export_directory,
    plan_import,
    read_sheet,
)
from hotline.directory.columns import role_text
from hotline.directory.wording import Text, _l, quoted
from hotline.extensions import get_settings
from hotline.services.stations import StationError

_ABSENT_SHOWN = 20


@click.group("directory")
def directory_group() -> None:
    """村、小组和成员：导入、导出派出所的联防名册（表格）。"""


@contextmanager
def _progress(label: str, length: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal; nothing at all when output is piped or captured."""
    if length <= 0 or not sys.stdout.isatty():
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stdout) as bar:
        yield bar.update


@directory_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--station", "station_name", required=True, help="名册所属的派出所名称。")
@click.option("--create-station", is_flag=True, help="没有这个名称的派出所时新建它。")
@click.option("--prune", is_flag=True, help="停用名册中没有列出的本所成员。")
@click.option("--dry-run", is_flag=True, help="只检查文件并列出将发生的变更，不写入。")
@with_appcontext
def import_command(file: Path, station_name: str, create_station: bool, prune: bool, dry_run: bool) -> None:
    """把 FILE（.csv、.xlsx 或 .xls）导入派出所名册：要么全部导入，要么一行不改。

    \b
    列名可用中文或英文：村/village、小组/group、姓名/name、电话/phone、角色/role，
    可选：地址/address、状态/active、需响应人数/responders_needed
    （小组的设置，写在该组任一行；空白为 1）。
    有任何一行出错，整个文件都不导入，并列出每一行错误。
    提示语言由 HOTLINE_LANGUAGE 决定（默认中文，设为 en 时为英文）。
    """
    from hotline.extensions import db

    settings = get_settings(current_app)
    language = settings.language
    session = db.session
    _require_station(session, station_name, create_station, language)
    if sys.stdout.isatty():
        click.echo(_l("reading %(file)s ...", file=str(file)).render(language))  # a large workbook takes seconds
    try:
        sheet = read_sheet(file)
    except ReadError as exc:
        raise click.ClickException(exc.render(language)) from None
    if sheet.sheet_name is not None and sheet.sheet_count > 1:
        click.echo(_l("read sheet %(sheet)s (the workbook has %(count)d sheets)", sheet=sheet.sheet_name,
                      count=sheet.sheet_count).render(language))
    try:
        with _progress("checking rows", len(sheet.rows)) as tick:
            plan = plan_import(
                session,
                sheet,
                station_name,
                region=settings.default_region,
                default_capacity=settings.max_group_size,
                prune=prune,
                progress=tick,
                show_other_stations=True,  # whoever runs the command line sees every station
            )
    except StationError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in plan.warnings:
        click.echo(_l("warning: %(issue)s", issue=warning.describe(language)).render(language))
    if not plan.ok:
        for error in plan.errors:
            click.echo(_l("error: %(issue)s", issue=error.describe(language)).render(language))
        count = len(plan.bad_rows)
        what = _l("%(count)d row(s) have errors", count=count) if count else _l("the file has errors")
        raise click.ClickException(_l("import refused: %(what)s; nothing was written", what=what).render(language))
    if dry_run:
        session.rollback()
        _report(plan, written=False, language=language)
        return
    try:
        with _progress("writing", plan.writes) as tick:
            apply_plan(session, plan, progress=tick)
        if plan.writes:
            _audit_import(session, file.name, plan)
        session.commit()
    except ImportRefused as exc:
        session.rollback()
        raise click.ClickException(exc.render(language)) from None
    except SQLAlchemyError as exc:
        session.rollback()
        raise click.ClickException(
            _l("database error, nothing was written: %(error)s", error=exc.__class__.__name__).render(language)
        ) from None
    _report(plan, written=True, language=language)


def _require_station(session: Session, name: str, create: bool, language: str) -> None:
    """Stop unless station ``name`` exists or ``create`` allows a new one.

    Raises:
        click.ClickException: No station has that name and ``create`` is
            false; the message lists the known stations, nearest first.
    """
    from sqlalchemy import select

    from hotline.models import Station

    names = list(session.scalars(select(Station.name)))
    session.rollback()
    if create or name.strip() in names:
        return
    known = sorted(names, key=lambda known: -difflib.SequenceMatcher(None, name, known).ratio())
    if known:
        message = _l(
            "no station named %(name)s; known stations, nearest first: %(known)s. "
            "Check the name, or add --create-station to create a new station",
            name=quoted(name), known=known[:10],
        )
    else:
        message = _l("no station named %(name)s yet; add --create-station to create it", name=quoted(name))
    raise click.ClickException(message.render(language))


def _audit_import(session: Session, filename: str, plan: Plan) -> None:
    from types import SimpleNamespace

    from hotline.console.audit import CLI_ACTOR
    from hotline.console.directory_edit import record_import

    record_import(session, SimpleNamespace(id=None, username=CLI_ACTOR), plan.station_id, filename, plan)


def _report(plan: Plan, *, written: bool, language: str) -> None:
    def say(text: Text) -> None:
        click.echo(text.render(language))

    counts = _l(
        "%(villages)d village(s) and %(groups)d group(s) new; "
        "members: %(created)d created, %(updated)d updated, %(unchanged)d unchanged",
        villages=len(plan.new_villages), groups=len(plan.new_groups), created=len(plan.creates),
        updated=len(plan.updates), unchanged=plan.unchanged,
    )
    if plan.station_id is None:
        line = _l("station %(station)s (created): %(counts)s", station=plan.station_name, counts=counts)
    else:
        line = _l("station %(station)s (existing): %(counts)s", station=plan.station_name, counts=counts)
    say(line if written else _l("dry run, nothing written: %(line)s", line=line))
    if plan.needed:
        needed = [f"{village}/{group} {count}" for (village, group), count in plan.needed.items()]
        say(_l("responders needed set for %(count)d group(s): %(groups)s", count=len(needed), groups=needed))
    if not plan.absent:
        return
    if plan.prune:
        say(_l(
            "%(count)d member(s) not in the file deactivated (%(inactive)d were inactive already):",
            count=len(plan.deactivations), inactive=len(plan.absent) - len(plan.deactivations),
        ))
    else:
        say(_l(
            "%(count)d member(s) of the station are not in the file; left as they are (--prune deactivates them):",
            count=len(plan.absent),
        ))
    for member in plan.absent[:_ABSENT_SHOWN]:
        state = _l(" (inactive)").render(language) if not member.active else ""
        role = role_text(member.role, english=language != "zh")
        click.echo(f"  {member.village}/{member.group}: {member.name} {member.phone} {role}{state}")
    if len(plan.absent) > _ABSENT_SHOWN:
        say(_l("  ... and %(count)d more", count=len(plan.absent) - _ABSENT_SHOWN))


@directory_group.command("export")
@click.option("--station", "station_name", required=True, help="要导出的派出所名称。")
@click.argument("file", type=click.Path(path_type=Path))  # checked by the export, in the reader's language
@click.option("--english-headers", is_flag=True, help="用英文列名（默认中文）。")
@with_appcontext
def export_command(station_name: str, file: Path, english_headers: bool) -> None:
    """把派出所名册写入 FILE（.csv 或 .xlsx），格式与导入相同。"""
    from hotline.extensions import db

    settings = get_settings(current_app)
    try:
        count = export_directory(
            db.session, station_name, file, english_headers=english_headers, region=settings.default_region
        )
    except ExportError as exc:
        raise click.ClickException(exc.render(settings.language)) from None
    click.echo(_l("wrote %(count)d member(s) of station %(station)s to %(file)s", count=count, station=station_name,
                  file=str(file)).render(settings.language))


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(directory_group)
