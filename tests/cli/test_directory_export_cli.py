"""``hotline directory export`` says why it wrote nothing in the operator's language (Chinese by default)."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGLISH = ("no station named", "give a file name", "cannot write", "Invalid value", "No such file", "is a directory")


@pytest.fixture
def runner(app):
    runner = app.test_cli_runner()
    for name in ("城关派出所", "南山派出所"):
        assert runner.invoke(args=["stations", "set", name]).exit_code == 0
    return runner


def _refused(runner, station: str, file: Path, *reasons: str) -> None:
    result = runner.invoke(args=["directory", "export", "--station", station, str(file)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for reason in reasons:
        assert reason in result.output, result.output
    for english in ENGLISH:
        assert english not in result.output, result.output


def test_an_unknown_station_lists_the_known_ones(runner, tmp_path):
    listed = "没有名为 “城关所” 的派出所；已有的派出所（最接近的在前）：城关派出所"
    _refused(runner, "城关所", tmp_path / "x.csv", listed)


def test_a_file_name_without_csv_or_xlsx_is_refused(runner, tmp_path):
    _refused(runner, "城关派出所", tmp_path / "x.txt", "x.txt：文件名要以 .csv 或 .xlsx 结尾，例如 名册.xlsx")


def test_a_path_that_cannot_be_written_says_why_and_what_to_do(runner, tmp_path):
    missing = tmp_path / "no-such-folder" / "x.csv"
    _refused(runner, "城关派出所", missing, f"{missing}：无法写入文件（文件夹不存在；请先建好文件夹，或换一个路径）")
    folder = tmp_path / "名册.xlsx"
    folder.mkdir()
    _refused(runner, "城关派出所", folder, "无法写入文件（这是一个文件夹；请写以 .csv 或 .xlsx 结尾的文件名）")
    beside_a_file = tmp_path / "plain" / "x.csv"
    beside_a_file.parent.write_text("a file, not a folder", encoding="utf-8")
    _refused(runner, "城关派出所", beside_a_file, "路径中有一段是文件而不是文件夹")


def test_a_good_path_is_written(runner, tmp_path):
    result = runner.invoke(args=["directory", "export", "--station", "城关派出所", str(tmp_path / "名册.csv")])
    assert result.exit_code == 0, result.output
    assert "已将派出所 城关派出所 的 0 名成员写入" in result.output
