"""``hotline directory import`` and ``hotline directory export``."""

from __future__ import annotations

import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.models import Member, Station
from tests.directory.test_directory_import import EN_HEADER, e164, good_rows, phone, write, write_csv, write_xlsx

STATION = "城关派出所"


@pytest.fixture(autouse=True)
def english_messages(environ: dict[str, str]) -> None:
    """These tests read the command line's English messages (HOTLINE_LANGUAGE=en); Chinese is the default."""
    environ["HOTLINE_LANGUAGE"] = "en"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def run_import(runner, path: Path, *extra: str):
    return runner.invoke(args=["directory", "import", str(path), "--station", STATION, "--create-station", *extra])


def count(session: Session, model: type = Member, **where: object) -> int:
    """Rows as committed now: the read transaction ends first, so no stale snapshot is seen."""
    session.rollback()
    try:
        return session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0
    finally:
        session.rollback()


def test_import_reports_counts(runner, session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", good_rows(30))
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert (
        f"station {STATION} (created): 1 village(s) and 3 group(s) new; "
        "members: 30 created, 0 updated, 0 unchanged"
    ) in result.output
    assert "checking rows" not in result.output  # no progress bar when output is not a terminal
    assert count(session) == 30

    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "members: 0 created, 0 updated, 30 unchanged" in result.output


def test_done_when_scenario_with_xlsx(runner, session: Session, tmp_path: Path) -> None:
    rows = good_rows(1000)
    bad = [list(row) for row in rows]
    bad[14][3] = "12345"
    bad[101][4] = "村长"
    bad[25][0:2] = bad[10][0:2]
    bad[57][3] = phone(33)
    bad[75][3] = phone(72)
    result = run_import(runner, write(tmp_path / "bad.xlsx", bad))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: row")]
    assert [line.split(",")[0] for line in errors] == [
        "error: row 16",
        "error: row 27",
        "error: row 59",
        "error: row 77",
        "error: row 103",
    ]
    assert "error: row 16, 电话/phone: '12345' is not a valid phone number" in result.output
    assert "import refused: 5 row(s) have errors; nothing was written" in result.output
    assert "Traceback" not in result.output
    assert count(session) == 0

    fixed = write(tmp_path / "fixed.xlsx", rows)
    result = run_import(runner, fixed)
    assert result.exit_code == 0, result.output
    assert "members: 1000 created, 0 updated, 0 unchanged" in result.output
    result = run_import(runner, fixed)
    assert result.exit_code == 0, result.output
    assert "members: 0 created, 0 updated, 1000 unchanged" in result.output
    assert count(session) == 1000


def test_landline_warning_is_printed(runner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["一村", "一组", "村委会", "0571 8888 0000", "组长", ""]])
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "warning: row 2, 电话/phone: +8657188880000 is a landline: it can be called but not texted" in result.output


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("d.docx", b"PK\x03\x04...", "unsupported file type '.docx'"),
        ("d.csv", b"", "the file is empty"),
        ("d.csv", b"\xc9\xfa\xff\xff,\xff\n", "neither UTF-8 nor GBK/GB18030"),
        ("d.xlsx", b"garbage", "not a valid Excel .xlsx workbook"),
    ],
)
def test_bad_file_is_a_clear_error(runner, tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert message in result.output
    assert isinstance(result.exception, SystemExit)


def test_missing_file_and_missing_columns(runner, tmp_path: Path) -> None:
    result = run_import(runner, tmp_path / "nope.csv")
    assert result.exit_code == 1 and "no such file" in result.output
    path = write_csv(tmp_path / "d.csv", [["一村", "张三"]], ["村", "姓名"])
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "missing required column(s): 小组/group, 电话/phone, 角色/role" in result.output


def test_dry_run_writes_nothing(runner, session: Session, tmp_path: Path) -> None:
    result = run_import(runner, write_csv(tmp_path / "d.csv", good_rows(10)), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written: " in result.output and "10 created" in result.output
    assert count(session) == 0
    assert count(session, Station) == 0


def test_absent_members_reported_then_pruned(runner, session: Session, tmp_path: Path) -> None:
    rows = good_rows(20)
    assert run_import(runner, write_csv(tmp_path / "a.csv", rows)).exit_code == 0
    shorter = write_csv(tmp_path / "b.csv", rows[:18])
    result = run_import(runner, shorter)
    assert result.exit_code == 0, result.output
    assert "2 member(s) of the station are not in the file; left as they are" in result.output
    assert f"1村/2组: 村民18 {e164(18)} household" in result.output
    assert count(session, active=True) == 20

    result = run_import(runner, shorter, "--prune")
    assert result.exit_code == 0, result.output
    assert "2 member(s) not in the file deactivated" in result.output
    assert count(session, active=True) == 18


@pytest.mark.parametrize(("suffix", "english"), [(".csv", False), (".xlsx", True)])
def test_export_round_trip(runner, session: Session, tmp_path: Path, suffix: str, english: bool) -> None:
    assert run_import(runner, write_xlsx(tmp_path / "a.xlsx", good_rows(40))).exit_code == 0
    out = tmp_path / f"out{suffix}"
    args = ["directory", "export", "--station", STATION, str(out)] + (["--english-headers"] if english else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert f"wrote 40 member(s) of station {STATION}" in result.output
    if suffix == ".xlsx":
        header = next(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
        assert list(header) == [*EN_HEADER, "active", "responders_needed"]
    else:
        assert out.read_bytes().startswith("\ufeff村,小组,姓名,电话,角色,地址,状态,需响应人数".encode())
    result = run_import(runner, out)
    assert result.exit_code == 0, result.output
    assert "members: 0 created, 0 updated, 40 unchanged" in result.output


def test_export_errors(runner, tmp_path: Path) -> None:
    result = runner.invoke(args=["directory", "export", "--station", "nowhere", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "no station named 'nowhere'" in result.output
    result = runner.invoke(args=["directory", "export", "--station", "nowhere", str(tmp_path / "x.txt")])
    assert result.exit_code == 1 and ".csv or .xlsx" in result.output


def test_import_33000_rows_xlsx(runner, session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_xlsx(tmp_path / "big.xlsx", good_rows(33_000))
    started = time.perf_counter()
    result = run_import(runner, path)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "members: 33000 created" in result.output
    assert count(session) == 33_000
    with capsys.disabled():
        print(f"\n33,000-row .xlsx through the CLI: {elapsed:.1f}s")
