"""``hotline stations show [NAME]``: one station's settings, directory size and users, in full."""

from __future__ import annotations

import difflib

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.directory.wording import Text, _l, quoted
from hotline.extensions import get_settings
from hotline.models import Group, Member, Station, User, Village


@click.command("show")
@click.argument("name", required=False)
@with_appcontext
def stations_show(name: str | None) -> None:
    """显示派出所 NAME 的设置（不写 NAME 时显示全部）。

    \b
    包括值班电话、求助号码、升级时限、小组人数、演练标准，
    村、小组、成员数量，以及工作人员。
    """
    from hotline.extensions import db

    settings = get_settings(current_app)
    language = settings.language
    session = db.session
    stations = list(session.scalars(select(Station).order_by(Station.name)))
    if name is not None:
        chosen = [station for station in stations if station.name == name.strip()]
        if not chosen:
            raise click.ClickException(_unknown(name, [station.name for station in stations]).render(language))
        stations = chosen
    if not stations:
        click.echo(_l("no stations yet; hotline stations set NAME creates one").render(language))
        return
    for index, station in enumerate(stations):
        if index:
            click.echo("")
        for line in _describe(session, station, settings.escalation_delays, settings.max_group_size,
                              settings.hotline_number, settings.drill_standard_seconds):
            click.echo(line.render(language))


def _unknown(name: str, known: list[str]) -> Text:
    nearest = sorted(known, key=lambda other: -difflib.SequenceMatcher(None, name, other).ratio())
    if not nearest:
        return _l("no station named %(name)s; there are no stations yet", name=quoted(name))
    return _l("no station named %(name)s; known stations, nearest first: %(known)s", name=quoted(name),
              known=nearest[:10])


def _describe(
    session: Session, station: Station, default_delays: tuple[int, ...], default_size: int, shared_number: str | None,
    default_standard: int,
) -> list[Text]:
    villages = session.scalar(select(func.count(Village.id)).where(Village.station_id == station.id)) or 0
    groups = session.scalar(
        select(func.count(Group.id))
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station.id)
    ) or 0
    members = session.execute(
        select(func.count(Member.id), func.count(Member.id).filter(Member.active.is_(True)))
        .join(Group, Member.group_id == Group.id)
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station.id)
    ).one()
    users = list(session.scalars(select(User.username).where(User.station_id == station.id).order_by(User.username)))
    delays = station.delays(default_delays)
    delays_text = "、".join(str(seconds) for seconds in delays)
    own = _l("%(value)s (the station's own)", value=delays_text)
    default = _l("%(value)s (default, HOTLINE_ESCALATION_DELAYS)", value=delays_text)
    size = station.group_capacity(default_size)
    return [
        _l("station %(name)s", name=station.name),
        _l("  hotline number:    %(number)s", number=station.hotline_number or _l(
            "shared (%(number)s)", number=shared_number or "-")),
        _l("  duty line:         %(phone)s", phone=station.duty_phone or _l(
            "none: the last escalation level has no one to call; set it with --duty-phone")),
        _l("  escalation delays: %(delays)s seconds", delays=own if station.escalation_delays else default),
        _l("  group size:        %(size)s", size=_l("%(value)s (the station's own)", value=str(size))
           if station.max_group_size else _l("%(value)s (default, HOTLINE_MAX_GROUP_SIZE)", value=str(size))),
        _l("  drill standard:    %(standard)s", standard=_l(
            "covered within %(value)s seconds (the station's own)", value=str(station.drill_standard_seconds))
           if station.drill_standard_seconds else _l(
            "covered within %(value)s seconds (default, HOTLINE_DRILL_STANDARD_SECONDS)", value=str(default_standard))),
        _l("  directory:         %(villages)d village(s), %(groups)d group(s), %(members)d member(s), "
           "%(active)d active", villages=villages, groups=groups, members=members[0], active=members[1]),
        _l("  users:             %(users)s", users=users or _l("none; hotline users add NAME --station adds one")),
    ]
