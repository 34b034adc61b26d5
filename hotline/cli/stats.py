"""``hotline stats rebuild``: count every incident into the statistics rollups again."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext


@click.group("stats")
def stats_group() -> None:
    """统计汇总（控制台统计页的数据来源）。"""


@stats_group.command("rebuild")
@click.option("--chunk", default=100_000, show_default=True, help="每批统计的警情编号数。")
@with_appcontext
def stats_rebuild(chunk: int) -> None:
    """按设置的时区（HOTLINE_TIMEZONE）重新统计全部警情。

    时区改过、或直接清空过 incidents 表之后运行。运行期间警情仍可查看，
    但新的写入会等到重建完成（PostgreSQL 上锁住 incidents 表）。
    """
    from hotline.console.i18n import local_zone
    from hotline.extensions import db
    from hotline.services.stats_rollups import rebuild

    started = time.monotonic()
    zone = local_zone()

    def progress(done: int, total: int) -> None:
        click.echo(f"  已统计警情编号 {done:,} / {total:,}（{time.monotonic() - started:.0f} 秒）", err=True)

    with db.engine.begin() as connection:
        counted = rebuild(connection, zone, chunk=chunk, progress=progress)
    click.echo(
        f"统计汇总已重建：{counted:,} 起警情，按 {zone.key} 的日历分月、分周（{time.monotonic() - started:.0f} 秒）"
    )


def register(cli: click.Group) -> None:
    """Add this module's commands to the ``hotline`` command group."""
    cli.add_command(stats_group)
