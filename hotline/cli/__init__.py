"""The ``hotline`` command: a Flask CLI group, the one entry point for operators."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from config.settings import SettingsError

# Flask's own options (which app to load, a .env file, debug mode) mean nothing for hotline's commands.
_FLASK_OPTIONS = {"app", "env_file", "debug"}


def _create_app() -> Flask:
    from hotline.app import create_app

    try:
        return create_app()
    except SettingsError as exc:
        # Only a command that needs the settings gets here; --help never loads them.
        problems = "".join(f"\n  {problem}" for problem in exc.problems)
        raise click.ClickException(f"设置有误，命令没有运行：{problems}") from None


def _hotline_version() -> str:
    try:
        return version("hotline")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class HotlineGroup(FlaskGroup):
    """Flask's command group, showing hotline's options and version, whose help needs no settings.

    Every command is registered on the group itself (the app factory adds
    none to ``app.cli``), so listing and finding commands never loads the app:
    ``hotline --help`` works even when a setting is wrong, and a command that
    needs the settings says which one is wrong when it runs.
    """

    def __init__(self, **extra: object) -> None:
        super().__init__(add_version_option=False, **extra)  # type: ignore[arg-type]
        self.params = [param for param in self.params if param.name not in _FLASK_OPTIONS]
        click.version_option(_hotline_version(), "--version", prog_name="hotline", message="%(prog)s %(version)s")(
            self
        )

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(click.Group.list_commands(self, ctx))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return click.Group.get_command(self, ctx, cmd_name)


@click.group(cls=HotlineGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """hotline：联防一键求助。设置来自环境变量（见 README）。"""


@click.group("db")
def db_group() -> None:
    """数据库结构迁移。"""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """创建数据库结构，或迁移到最新版本。"""
    from hotline.extensions import db
    from hotline.migrate import upgrade

    upgrade(db.engine, revision)
    click.echo(f"数据库已升级到 {revision}：{db.engine.url.render_as_string(hide_password=True)}")


def _register_commands(cli: click.Group) -> None:
    """Add every command group to ``cli``; the app factory registers none."""
    from hotline.cli import (
        admin,
        aliyun,
        broadcasts,
        console,
        directory,
        drills,
        simulator,
        stats,
        triggers,
        up,
        worker,
    )

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
    broadcasts.register(cli)
    stats.register(cli)


_register_commands(main)


__all__ = ["current_app", "main"]
