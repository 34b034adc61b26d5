"""``hotline users token USERNAME``: issue an API token for the console's JSON API."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from hotline.cli.admin import users_group


@click.command("token")
@click.argument("username")
@with_appcontext
def users_token(username: str) -> None:
    """Issue a new API token for USERNAME, replacing any earlier one.

    The token is printed once; only its hash is stored. Send it as
    ``Authorization: Bearer <token>`` to /api/.
    """
    from hotline.console.audit import CLI_ACTOR, record_audit, user_snapshot
    from hotline.extensions import db
    from hotline.models import User
    from hotline.services.stations import issue_api_token

    session = db.session
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
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
