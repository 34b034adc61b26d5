"""``hotline users token USERNAME``: issue an API token for the console's JSON API."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from hotline.cli.admin import users_group


@click.command("token")
@click.argument("username")
@with_appcontext
def users_token(username: str) -> None:
    """为 USERNAME 签发新的 API 令牌，之前的令牌作废。

    令牌只显示这一次，系统只保存其摘要。调用 /api/ 时放在请求头
    ``Authorization: Bearer <令牌>`` 中。
    """
    from hotline.console.audit import CLI_ACTOR, record_audit, user_snapshot
    from hotline.extensions import db
    from hotline.services.stations import StationError, find_user, issue_api_token

    session = db.session
    try:
        user = find_user(session, username)
    except StationError as exc:
        raise click.ClickException(str(exc)) from None
    before = user_snapshot(user)
    token = issue_api_token(user)
    record_audit(
        session, actor_id=None, actor=CLI_ACTOR, station_id=user.station_id, entity="user",
        entity_id=user.id, action="token", summary=user.username, before=before, after=user_snapshot(user),
    )
    session.commit()
    click.echo(token)


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    users_group.add_command(users_token)
