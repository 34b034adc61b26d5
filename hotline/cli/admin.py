"""``hotline stations ...`` and ``hotline users ...``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from hotline.cli.station_show import stations_show
from hotline.extensions import get_settings
from hotline.models import Station
from hotline.services.stations import StationError, add_user, configure_station


@click.group("stations")
def stations_group() -> None:
    """Police stations: hotline number, duty line, escalation delays, group size."""


@stations_group.command("set")
@click.argument("name")
@click.option("--duty-phone", help="The station's duty line, called at the last escalation level.")
@click.option("--escalation-delays", help="Seconds before each escalation level, e.g. 60,180.")
@click.option(
    "--max-group-size", type=int,
    help="Members per group (default HOTLINE_MAX_GROUP_SIZE); members past the tenth are called separately.",
)
@click.option(
    "--hotline-number",
    help="The number this station's villagers dial, if it has its own; \"\" clears it.",
)
@with_appcontext
def stations_set(
    name: str, duty_phone: str | None, escalation_delays: str | None, max_group_size: int | None,
    hotline_number: str | None,
) -> None:
    """Create station NAME, or change its settings."""
    from flask import current_app

    from hotline.extensions import db

    session = db.session
    try:
        station = configure_station(
            session,
            name,
            duty_phone=duty_phone,
            escalation_delays=escalation_delays,
            max_group_size=max_group_size,
            hotline_number=hotline_number,
            region=get_settings(current_app).default_region,
        )
    except StationError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(_describe(station))


stations_group.add_command(stations_show)


@stations_group.command("list")
@with_appcontext
def stations_list() -> None:
    """Every station with its hotline number, duty line and settings."""
    from sqlalchemy import select

    from hotline.extensions import db

    for station in db.session.scalars(select(Station).order_by(Station.name)):
        click.echo(_describe(station))


def _describe(station: Station) -> str:
    return (
        f"station {station.name}: hotline number {station.hotline_number or 'shared'}, "
        f"duty phone {station.duty_phone or '-'}, "
        f"escalation delays {station.escalation_delays or 'default'}, "
        f"group size {station.max_group_size or 'default'}"
    )


@click.group("users")
def users_group() -> None:
    """Station staff who use the console."""


@users_group.command("add")
@click.argument("username")
@click.option("--station", "station_name", help="The user's station; omit with --city-wide.")
@click.option("--city-wide", is_flag=True, help="The user sees every station.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_add(username: str, station_name: str | None, city_wide: bool, password_stdin: bool) -> None:
    """Add a staff user. The password is prompted for, or read from stdin."""
    from hotline.extensions import db

    if bool(station_name) == city_wide:
        raise click.UsageError("give exactly one of --station NAME or --city-wide")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
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
    scope = "city-wide" if user.station_id is None else f"station {station_name}"
    click.echo(f"user {user.username} added ({scope})")


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(stations_group)
    cli.add_command(users_group)
