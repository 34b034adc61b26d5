"""``hotline directory import`` and ``hotline directory export``."""

from __future__ import annotations

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
from hotline.extensions import get_settings
from hotline.services.stations import StationError

_ABSENT_SHOWN = 20


@click.group("directory")
def directory_group() -> None:
    """Villages, groups and members: import and export station spreadsheets."""


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
@click.option("--station", "station_name", required=True, help="The station the file belongs to; created if new.")
@click.option("--prune", is_flag=True, help="Deactivate the station's members that the file does not list.")
@click.option("--dry-run", is_flag=True, help="Check the file and report what would change; write nothing.")
@with_appcontext
def import_command(file: Path, station_name: str, prune: bool, dry_run: bool) -> None:
    """Import FILE (.csv or .xlsx) into a station's directory, all or nothing.

    Columns, headed in Chinese or English: 村/village, 小组/group, 姓名/name,
    电话/phone, 角色/role, and optionally 地址/address and 状态/active. Any bad
    row refuses the whole import; every bad row is listed.
    """
    from hotline.extensions import db

    settings = get_settings(current_app)
    if sys.stdout.isatty():
        click.echo(f"reading {file} ...")  # a large workbook takes seconds to open
    try:
        sheet = read_sheet(file)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    session = db.session
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
            )
    except StationError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in plan.warnings:
        click.echo(f"warning: {warning}")
    if not plan.ok:
        for error in plan.errors:
            click.echo(f"error: {error}")
        count = len(plan.bad_rows)
        what = f"{count} row(s) have errors" if count else "the file has errors"
        raise click.ClickException(f"import refused: {what}; nothing was written")
    if dry_run:
        session.rollback()
        _report(plan, written=False)
        return
    try:
        with _progress("writing", plan.writes) as tick:
            apply_plan(session, plan, progress=tick)
        if plan.writes:
            _audit_import(session, file.name, plan)
        session.commit()
    except ImportRefused as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        session.rollback()
        raise click.ClickException(f"database error, nothing was written: {exc.__class__.__name__}: {exc}") from None
    _report(plan, written=True)


def _audit_import(session: Session, filename: str, plan: Plan) -> None:
    from types import SimpleNamespace

    from hotline.console.audit import CLI_ACTOR
    from hotline.console.directory_edit import record_import

    record_import(session, SimpleNamespace(id=None, username=CLI_ACTOR), plan.station_id, filename, plan)


def _report(plan: Plan, *, written: bool) -> None:
    prefix = "" if written else "dry run, nothing written: "
    created = "created" if plan.station_id is None else "existing"
    click.echo(
        f"{prefix}station {plan.station_name} ({created}): "
        f"{len(plan.new_villages)} village(s) and {len(plan.new_groups)} group(s) new; "
        f"members: {len(plan.creates)} created, {len(plan.updates)} updated, {plan.unchanged} unchanged"
    )
    if not plan.absent:
        return
    if plan.prune:
        click.echo(
            f"{len(plan.deactivations)} member(s) not in the file deactivated "
            f"({len(plan.absent) - len(plan.deactivations)} were inactive already):"
        )
    else:
        click.echo(
            f"{len(plan.absent)} member(s) of the station are not in the file; "
            "left as they are (--prune deactivates them):"
        )
    for member in plan.absent[:_ABSENT_SHOWN]:
        state = "" if member.active else " (inactive)"
        click.echo(f"  {member.village}/{member.group}: {member.name} {member.phone} {member.role.value}{state}")
    if len(plan.absent) > _ABSENT_SHOWN:
        click.echo(f"  ... and {len(plan.absent) - _ABSENT_SHOWN} more")


@directory_group.command("export")
@click.option("--station", "station_name", required=True, help="The station to export.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--english-headers", is_flag=True, help="Head the columns in English (default: Chinese).")
@with_appcontext
def export_command(station_name: str, file: Path, english_headers: bool) -> None:
    """Write a station's directory to FILE (.csv or .xlsx), in the format the import reads."""
    from hotline.extensions import db

    settings = get_settings(current_app)
    try:
        count = export_directory(
            db.session, station_name, file, english_headers=english_headers, region=settings.default_region
        )
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {count} member(s) of station {station_name} to {file}")


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(directory_group)
