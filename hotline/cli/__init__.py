"""The ``hotline`` command: a Flask CLI group, the one entry point for operators."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from config.settings import SettingsError


def _create_app() -> Flask:
    from hotline.app import create_app

    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """hotline: joint-defence alerting. Settings come from the environment (see README)."""


@click.group("db")
def db_group() -> None:
    """Database migrations."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from hotline.extensions import db
    from hotline.migrate import upgrade

    upgrade(db.engine, revision)
    click.echo(f"database at {revision}: {db.engine.url.render_as_string(hide_password=True)}")


def _register_commands(cli: click.Group) -> None:
    """Add every command group to ``cli``; the app factory registers none."""
    from hotline.cli import admin, aliyun, console, directory, drills, simulator, triggers, up, worker

    cli.add_command(db_group)
    admin.register(cli)
    console.register(cli)
    directory.register(cli)
    worker.register(cli)
    up.register(cli)
    simulator.register(cli)
    aliyun.register(cli)
    triggers.register(cli)
    drills.register(cli)


_register_commands(main)


__all__ = ["current_app", "main"]
