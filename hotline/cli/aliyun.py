"""``hotline aliyun ...``: preparing a deployment on Alibaba Cloud (mainland China)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from config.templates import available_languages


@click.group("aliyun")
def aliyun_group() -> None:
    """阿里云（中国大陆）：短信与语音模板。"""


@aliyun_group.command("templates-example")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option(
    "--language", default=lambda: os.environ.get("HOTLINE_LANGUAGE", "zh"), show_default="HOTLINE_LANGUAGE 或 zh",
    type=click.Choice(available_languages()), help="消息模板的语言。",
)
@click.option("--force", is_flag=True, help="覆盖已有文件。")
def templates_example(path: Path, language: str, force: bool) -> None:
    """写出完整的模板文件 PATH：每条短信和语音提示一项（含各类群发的短信和语音通知），含占位代码、变量名和应登记的内容。

    在阿里云控制台登记每个模板后，把占位代码换成控制台给出的代码，并设置
    HOTLINE_ALIYUN_TEMPLATES=PATH。服务启动时会检查每一项。
    """
    from hotline.carriers.aliyun.templates import example

    if path.exists() and not force:
        raise click.ClickException(f"{path} 已存在；用 --force 覆盖")
    path.write_text(example(language), encoding="utf-8")
    click.echo(f"已写出 {path}：请登记模板并填入代码")


def register(cli: click.Group) -> None:
    cli.add_command(aliyun_group)
