"""``hotline triggers ...``: systems allowed to raise alerts over ``POST /api/alerts``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from hotline.models import TriggerSource, utcnow
from hotline.services.triggers import TriggerError, add_source


@click.group("triggers")
def triggers_group() -> None:
    """报警来源：一键报警器、运营商群呼平台等通过 POST /api/alerts 报警的系统。"""


@triggers_group.command("add")
@click.argument("name")
@click.option("--station", "station_name", required=True, help="该来源所属的派出所；它只能为本所的小组报警。")
@with_appcontext
def triggers_add(name: str, station_name: str) -> None:
    """添加报警来源 NAME，并显示其令牌（只显示这一次，服务只保存其散列）。"""
    from hotline.extensions import db

    try:
        source, token = add_source(db.session, name, station_name)
    except TriggerError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"已添加报警来源 {source.name}（{station_name}）。令牌只显示这一次：")
    click.echo(token)


@triggers_group.command("list")
@with_appcontext
def triggers_list() -> None:
    """列出报警来源。"""
    from hotline.extensions import db

    for source in db.session.scalars(select(TriggerSource).order_by(TriggerSource.name)):
        state = "已停用" if source.revoked_at else "有效"
        click.echo(f"{source.name}\t{source.station.name}\t{state}")


@triggers_group.command("revoke")
@click.argument("name")
@with_appcontext
def triggers_revoke(name: str) -> None:
    """停用报警来源 NAME：它的令牌从此无效。"""
    from hotline.extensions import db

    source = db.session.scalar(select(TriggerSource).where(TriggerSource.name == name))
    if source is None:
        raise click.ClickException(f"没有名为 {name!r} 的报警来源")
    source.revoked_at = source.revoked_at or utcnow()
    db.session.commit()
    click.echo(f"已停用报警来源 {name}")


def register(cli: click.Group) -> None:
    cli.add_command(triggers_group)
