"""A sheet past a limit (columns, rows, merged ranges, what an .xls lists besides cells, time) is refused, saying which.

The hostile files are made in each test's tmp_path: .xls ones with xlwt (a
record it cannot write is put where it writes a sheet's pictures), .xlsx ones
written entry by entry with zipfile. Memory is measured as in
test_bad_input.py; time only by a clock the test moves.
"""

from __future__ import annotations

import html
import struct
from pathlib import Path
from typing import IO

import openpyxl
import pytest
import xlwt
from sqlalchemy import select

from hotline.directory import limits
from hotline.directory.cells import Deadline, ReadError
from hotline.directory.merged import MergedRange, fill_merged
from hotline.directory.xls import read_xls
from hotline.models import Member
from tests.directory.test_bad_input import (
    MEMORY_BOUND,
    cli_import,
    member_count,
    peak_memory,
    streamed_workbook,
    upload,
)
from tests.support.console import login

HEADINGS = ["村", "小组", "姓名", "电话", "角色"]

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def overlapping_merges_xlsx(path: Path, count: int = 49_000, rows: int = 3000) -> Path:
    """Members' rows under ``count`` merged ranges, each from one row down to the last and 64 columns wide."""
    heading = "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{text}</t></is></c>'
        for column, text in zip("ABCDE", HEADINGS, strict=True)
    )

    def sheet(handle: IO[bytes]) -> None:
        handle.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'.encode())
        handle.write(f'<row r="1">{heading}</row>'.encode())
        members = range(2, rows + 2)
        handle.writelines(f'<row r="{row}"><c r="C{row}"><v>{row}</v></c></row>'.encode() for row in members)
        handle.write(f'</sheetData><mergeCells count="{count}">'.encode())
        handle.writelines(f'<mergeCell ref="A{2 + index % rows}:BL{rows + 1}"/>'.encode() for index in range(count))
        handle.write(b"</mergeCells></worksheet>")

    def no_strings(handle: IO[bytes]) -> None:
        handle.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="0" uniqueCount="0"/>'.encode())

    return streamed_workbook(path, sheet, no_strings)


def xls_book(name: str = "名单", heading: bool = True) -> tuple[xlwt.Workbook, xlwt.Worksheet]:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet(name)
    if heading:
        for column, text in enumerate(HEADINGS):
            sheet.write(0, column, text)
    return book, sheet


def far_right_column_xls(path: Path, rows: int = 65_536) -> Path:
    """Every row of the sheet (65,536, all an .xls has) holds one cell, in column IV (the 256th, its last)."""
    book, sheet = xls_book(heading=False)
    for row in range(rows):
        sheet.write(row, 255, "x")
        if row % 4096 == 4095:
            sheet.flush_row_data()
    book.save(str(path))
    return path


def overlapping_merges_xls(path: Path, count: int = 20_000, rows: int = 3000) -> Path:
    """Members' rows under ``count`` merged ranges, each from one row down to the last and 64 columns wide."""
    book, sheet = xls_book()
    for row in range(1, rows + 1):
        sheet.write(row, 2, f"村民{row}")
    # xlwt's merge() refuses overlapping ranges; its list of them does not.
    sheet.merged_ranges.extend((1 + index % rows, rows, 0, 63) for index in range(count))
    book.save(str(path))
    return path


def with_records(sheet: xlwt.Worksheet, *records: tuple[int, bytes]) -> None:
    """Have xlwt write these BIFF records (type, data) into ``sheet``, where it writes a sheet's pictures."""
    raw = b"".join(struct.pack("<HH", code, len(data)) + data for code, data in records)
    sheet._Worksheet__bitmaps_rec = lambda: raw


def whole_sheet_hyperlink_xls(path: Path) -> Path:
    """One hyperlink record, of 36 bytes, over all 65,536 x 256 cells of the sheet."""
    book, sheet = xls_book()
    guid = bytes.fromhex("d0c9ea79f9bace118c8200aa004ba90b")
    with_records(sheet, (0x01B8, struct.pack("<HHHH", 0, 65_535, 0, 255) + guid + struct.pack("<ii", 2, 0)))
    book.save(str(path))
    return path


def many_names_xls(path: Path, count: int = 100_000) -> Path:
    """A workbook naming ``count`` ranges, in 21 bytes each; xlrd builds every name as it opens the file."""
    book, _sheet = xls_book()
    # NAME: options, shortcut key, name length, formula size, 0, sheet, four text lengths; then the name.
    fields = struct.pack("<HBBHHHBBBB", 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
    names = b"".join(
        struct.pack("<HH", 0x0018, len(fields) + 3) + fields + b"\x00" + f"{index % 676:03d}"[-2:].encode()
        for index in range(count)
    )
    palette = book._Workbook__palette_rec
    # The workbook's own records are written in one piece; the names go after its palette.
    book._Workbook__palette_rec = lambda: palette() + names
    book.save(str(path))
    return path


# ---------------------------------------------------------------- hostile files, refused before they are loaded


@pytest.mark.parametrize(
    ("make", "filename", "refusal"),
    [
        (far_right_column_xls, "名单.xls", "名单.xls：工作表“名单”第 1 行第 256 列有内容，超出名单最多可用的 64 列"),
        (overlapping_merges_xls, "名单.xls", "名单.xls：工作表“名单”的合并区域合计覆盖超过 3840000 个单元格"),
        (overlapping_merges_xlsx, "名单.xlsx", "名单.xlsx：工作表“名单”的合并区域合计覆盖超过 3840000 个单元格"),
        (whole_sheet_hyperlink_xls, "名单.xls", "名单.xls：工作表“名单”的批注、超链接和标签区域超过 20000 个"),
        (many_names_xls, "名单.xls", "名单.xls：工作簿中的单元格格式、名称和外部链接超过 20000 个"),
    ],
    ids=["xls-column-IV", "xls-overlapping-merges", "xlsx-overlapping-merges", "xls-hyperlink", "xls-names"],
)
def test_files_past_the_limits_are_refused_saying_which_within_the_memory_bound(
    console, world, session, tmp_path, make, filename, refusal
) -> None:
    path = make(tmp_path / filename)
    data = path.read_bytes()
    assert len(data) < limits.MAX_FILE_BYTES
    before = member_count(session)
    login(console, "a_staff")
    with peak_memory() as web:
        response = upload(console, data, filename)
    assert web[0] < MEMORY_BOUND, f"the web process grew by {web[0] / 1e6:.0f} MB"
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert refusal in page and "Traceback" not in page

    with peak_memory() as command:
        result = cli_import(console.application, path)
    assert result.exit_code == 1 and refusal in result.output
    assert command[0] < MEMORY_BOUND, f"the command grew by {command[0] / 1e6:.0f} MB"
    assert member_count(session) == before


# ---------------------------------------------------------------- the same limits, lowered, on ordinary files


def test_an_xls_sheet_past_the_row_limit_is_refused_naming_it(app, session, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_ROWS", 5)
    book, sheet = xls_book()
    for row in range(1, 6):
        sheet.write(row, 2, f"村民{row}")
    path = tmp_path / "wps.xls"
    book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 1
    assert "wps.xls：工作表“名单”超过 5 行；请按村拆分后分别导入" in result.output
    assert member_count(session) == 0


def test_an_xls_sheet_with_a_cell_past_the_column_limit_is_refused_naming_it(app, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_COLUMNS", 6)
    book, sheet = xls_book("一村")
    for column, text in enumerate(["一村", "一组", "村民", "13900001001", "求助户", "", "备注"]):
        sheet.write(1, column, text)
    path = tmp_path / "wps.xls"
    book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 1
    assert "wps.xls：工作表“一村”第 2 行第 7 列有内容，超出名单最多可用的 6 列" in result.output


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_a_sheet_with_too_many_merged_ranges_is_refused_naming_it(app, tmp_path, monkeypatch, suffix) -> None:
    monkeypatch.setattr(limits, "MAX_MERGED_RANGES", 3)
    rows = [["一村", "一组", f"村民{row}", f"139000010{row:02d}", "求助户"] for row in range(1, 9)]
    path = tmp_path / f"book{suffix}"
    if suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        workbook.active.title = "一村"
        for row in [HEADINGS, *rows]:
            workbook.active.append(row)
        for row in range(2, 10, 2):
            workbook.active.merge_cells(f"A{row}:A{row + 1}")
        workbook.save(path)
    else:
        book, sheet = xls_book("一村")
        for number, row in enumerate(rows, start=1):
            for column, text in enumerate(row[1:], start=1):
                sheet.write(number, column, text)
        for number in range(1, 9, 2):
            sheet.write_merge(number, number + 1, 0, 0, "一村")
        book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 1
    assert f"book{suffix}：工作表“一村”的合并区域超过 3 个；请取消合并并填上内容" in result.output


def test_an_xls_workbook_with_too_many_texts_is_refused(app, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_XLS_STRINGS", 5)  # the five headings, and a name
    book, sheet = xls_book()
    sheet.write(1, 2, "村民")
    path = tmp_path / "wps.xls"
    book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 1
    assert "wps.xls：工作簿中不同的文字超过 5 条；请按村拆分后分别导入" in result.output


def test_an_xls_workbook_opens_at_the_sheet_it_was_saved_showing(app, session, tmp_path) -> None:
    book = xlwt.Workbook(encoding="utf-8")
    for name, phone in (("一村", "13900001001"), ("二村", "13900001002")):
        sheet = book.add_sheet(name)
        for column, text in enumerate(HEADINGS):
            sheet.write(0, column, text)
        for column, text in enumerate([name, "一组", "村民", phone, "求助户"]):
            sheet.write(1, column, text)
    sheet.sheet_visible = True
    book.active_sheet = 1
    path = tmp_path / "wps.xls"
    book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    assert "读取的是工作表“二村”（工作簿共 2 个工作表）" in result.output
    assert list(session.scalars(select(Member.phone))) == ["+8613900001002"]


# ---------------------------------------------------------------- the time limit, by a clock the test moves


class FakeClock:
    """Seconds that pass only when the test moves them; counts how often it is read."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_filling_merged_ranges_stops_at_the_deadline() -> None:
    clock = FakeClock()
    deadline = Deadline("名单.xlsx", 30, clock)
    # 400 ranges over the same 100 rows x 64 columns: each row alone has 25,600 cells to fill.
    ranges = [MergedRange(1, 1, 100, 64)] * 400
    rows = fill_merged(((number, ["x"] + [""] * 63) for number in range(1, 101)), ranges, 64, deadline)
    assert next(rows) == (1, ["x"] * 64)
    assert clock.reads > 1  # read while the row was filled, not only when the deadline was set
    clock.now = 31
    with pytest.raises(ReadError) as late:
        next(rows)
    assert late.value.render("zh").startswith("名单.xlsx：读取超过 30 秒仍未完成")


def test_walking_an_xls_files_records_stops_at_the_deadline(tmp_path) -> None:
    book, sheet = xls_book()
    for row in range(1, 5001):
        sheet.write(row, 2, f"村民{row}")
    path = tmp_path / "wps.xls"
    book.save(str(path))
    clock = FakeClock()
    deadline = Deadline("wps.xls", 30, clock)
    clock.now = 31
    with pytest.raises(ReadError) as late:
        read_xls(path.read_bytes(), "wps.xls", deadline)
    assert late.value.render("zh").startswith("wps.xls：读取超过 30 秒仍未完成")
