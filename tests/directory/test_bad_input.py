"""Bad input gets a clear answer: hostile and real-world spreadsheets, other stations' numbers.

Files are made in each test's tmp_path; the hostile workbooks are written
entry by entry with zipfile, so a 120 MB string costs the test no memory.
"""

from __future__ import annotations

import html
import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import openpyxl
import psutil
import pytest
import xlwt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.models import Group, Member, Role, Station, Village
from tests.support.console import STATION_A, STATION_B, login, member

MEMORY_BOUND = 100 * 1024 * 1024

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHEET_OPEN = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_CLOSE = "</sheetData></worksheet>"
_SST_OPEN = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" count="1" uniqueCount="1"><si><t>'
_SST_CLOSE = "</t></si></sst>"


Writer = Callable[[IO[bytes]], None]


def streamed_workbook(path: Path, write_sheet: Writer, write_strings: Writer) -> Path:
    """An .xlsx of one sheet whose XML and shared strings are streamed in by the writers."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as handle:
            write_sheet(handle)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as handle:
            write_strings(handle)
    return path


def far_right_column_workbook(path: Path, rows: int = 1000) -> Path:
    """Every row holds one cell, in column XFD (the 16,384th)."""

    def sheet(handle: IO[bytes]) -> None:
        handle.write(_SHEET_OPEN.encode())
        row = '<row r="{0}"><c r="XFD{0}" t="s"><v>0</v></c></row>'
        handle.writelines(row.format(number).encode() for number in range(1, rows + 1))
        handle.write(_SHEET_CLOSE.encode())

    def strings(handle: IO[bytes]) -> None:
        handle.write((_SST_OPEN + "x" + _SST_CLOSE).encode())

    return streamed_workbook(path, sheet, strings)


def shared_string_bomb(path: Path, megabytes: int = 120) -> Path:
    """One shared string of ``megabytes`` MB, compressing to a fraction of a megabyte."""

    def sheet(handle: IO[bytes]) -> None:
        handle.write((_SHEET_OPEN + '<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + _SHEET_CLOSE).encode())

    def strings(handle: IO[bytes]) -> None:
        handle.write(_SST_OPEN.encode())
        chunk = b"a" * (1024 * 1024)
        handle.writelines(chunk for _ in range(megabytes))
        handle.write(_SST_CLOSE.encode())

    return streamed_workbook(path, sheet, strings)


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The process's resident memory above what it was on entry, at its highest (sampled)."""
    process = psutil.Process()
    baseline = process.memory_info().rss
    growth = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            growth[0] = max(growth[0], process.memory_info().rss - baseline)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield growth
    finally:
        stop.set()
        sampler.join()
        growth[0] = max(growth[0], process.memory_info().rss - baseline)


def upload(client, data: bytes, filename: str, **fields: object):
    return client.post(
        "/directory/import", data={"file": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
    )


def cli_import(app, path: Path, station: str = STATION_A, *extra: str):
    return app.test_cli_runner().invoke(args=["directory", "import", str(path), "--station", station, *extra])


def member_count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count(Member.id))) or 0


# ---------------------------------------------------------------- 1. hostile workbooks


@pytest.mark.parametrize("make", [far_right_column_workbook, shared_string_bomb], ids=["XFD", "shared-strings"])
def test_hostile_workbooks_are_refused_within_the_memory_bound(console, world, session, tmp_path, make) -> None:
    path = make(tmp_path / "名单.xlsx")
    data = path.read_bytes()
    assert len(data) < 1024 * 1024  # well under the upload cap
    before = member_count(session)
    login(console, "a_staff")
    with peak_memory() as web:
        response = upload(console, data, "名单.xlsx")
    assert web[0] < MEMORY_BOUND, f"the web process grew by {web[0] / 1e6:.0f} MB"
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "名单.xlsx：" in page and "Traceback" not in page

    with peak_memory() as command:
        result = cli_import(console.application, path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "名单.xlsx：" in result.output
    assert command[0] < MEMORY_BOUND, f"the command grew by {command[0] / 1e6:.0f} MB"
    assert member_count(session) == before


# ---------------------------------------------------------------- 5. other stations' villagers


def test_preview_does_not_show_another_stations_villagers(console, world, session) -> None:
    theirs = member(world.group_b, Role.HOUSEHOLD, 0).phone
    csv_text = f"村,小组,姓名,电话,角色\n东村,一组,猜的号码,{theirs},求助户\n"
    login(console, "a_staff")
    response = upload(console, csv_text.encode(), "guess.csv")
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "已在其他派出所登记" in page and "联系市局管理员" in page
    assert STATION_B not in page and "南村" not in page

    city = console.application.test_client()
    login(city, "city")
    response = upload(city, csv_text.encode(), "guess.csv", station_id=world.group_a.village.station_id)
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert STATION_B in page and "南村/一组" in page


def test_add_member_form_tells_only_city_wide_users_where_a_number_is(console, world) -> None:
    theirs = member(world.group_b, Role.HOUSEHOLD, 0).phone
    form = {"group_id": world.group_a.id, "name": "新户", "phone": theirs, "role": "household", "active": "y"}
    login(console, "a_staff")
    page = html.unescape(console.post(f"/directory/groups/{world.group_a.id}/members/new", data=form).get_data(True))
    assert "其他派出所" in page and "联系市局管理员" in page and STATION_B not in page and "南村" not in page
    city = console.application.test_client()
    login(city, "city")
    page = html.unescape(city.post(f"/directory/groups/{world.group_a.id}/members/new", data=form).get_data(True))
    assert STATION_B in page and "南村/一组" in page


# ---------------------------------------------------------------- 10-15. ledgers as stations keep them


def test_merged_village_cells_and_blank_cells_continue(app, session, tmp_path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["东风村联防小组名单"])
    sheet.append(["序号", "所属村", "组别", "姓名", "手机号", "职务", "身份证号"])
    for index in range(10):
        group = "一组" if index < 5 else ("二组" if index == 5 else None)
        village = "东风村" if index == 0 else None
        role = "户主" if index else "治保主任"
        sheet.append([index + 1, village, group, f"村民{index}", f"139000010{index:02d}", role, ""])
    sheet.merge_cells("B3:B12")
    path = tmp_path / "ledger.xlsx"
    workbook.save(path)
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    placed = {name: (village, group) for name, village, group in session.execute(
        select(Member.name, Village.name, Group.name).join(Group, Member.group_id == Group.id).join(Village)
    )}
    assert placed["村民1"] == ("东风村", "一组") and placed["村民6"] == ("东风村", "二组")
    assert placed["村民9"] == ("东风村", "二组")
    assert member_count(session) == 10
    # The group cells left blank under 二组 continued it, and the output says so.
    assert "第 9 至 12 行留空，沿用上面的 “二组”" in result.output


def test_messages_are_chinese_and_say_how_to_fix(app, tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("村,小组,姓名,电话,角色\n一村,一组,甲,0871-1234567,求助户\n一村,一组,乙,123456789012345678901,组长\n",
                    encoding="utf-8")
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 1
    assert "昆明市的固定电话在区号 0871 后应有 8 位数字，这里是 7 位" in result.output
    assert "手机号应为 11 位数字" in result.output
    assert "导入被拒绝" in result.output
    assert "The string supplied" not in result.output and "not a valid" not in result.output


def test_usual_headings_roles_and_unknown_headings(app, session, tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "所属村,组别,姓名,手机号,职务,电化\n"
        "一村,一组,甲,13900001001,户主,\n一村,一组,乙,13900001002,村民,\n"
        "一村,一组,丙,13900001003,治保主任,\n一村,一组,丁,13900001004,辅警,\n",
        encoding="utf-8",
    )
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    roles = dict(session.execute(select(Member.name, Member.role)).all())
    assert roles == {"甲": "household", "乙": "household", "丙": "leader", "丁": "assistant"}
    assert "“电化” 应为 “电话”" in result.output


def test_two_numbers_in_one_cell_keep_a_backup_number(app, session, tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        "村,小组,姓名,电话,角色\n"
        "一村,一组,甲,13800138000/13900139000,求助户\n一村,一组,乙,13800138001，13900139001,求助户\n"
        "一村,一组,丙,13800138002、13900139002,求助户\n一村,一组,丁,13800138003 13900139003,求助户\n"
        "一村,一组,戊,13800138004或13900139004,求助户\n",
        encoding="utf-8",
    )
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    numbers = dict(session.execute(select(Member.phone, Member.backup_phone)).all())
    assert numbers == {f"+861380013800{index}": f"+861390013900{index}" for index in range(5)}
    out = tmp_path / "out.csv"
    exported = app.test_cli_runner().invoke(args=["directory", "export", "--station", "示例派出所", str(out)])
    assert exported.exit_code == 0, exported.output
    assert "138 0013 8000 / 139 0013 9000" in out.read_text(encoding="utf-8-sig")
    again = cli_import(app, out, "示例派出所")
    assert again.exit_code == 0 and "未变 5" in again.output


def test_data_on_the_second_sheet_is_found_and_named(app, session, tmp_path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["本表为联防小组名单，请勿改动列标题"])
    data = workbook.create_sheet("名单")
    data.append(["村", "小组", "姓名", "电话", "角色"])
    data.append(["一村", "一组", "甲", "13900001001", "求助户"])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    assert "读取的是工作表“名单”（工作簿共 2 个工作表）" in result.output
    assert member_count(session) == 1


def test_old_excel_xls_files_are_read_with_merged_cells(app, session, tmp_path) -> None:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("名单")
    for column, heading in enumerate(["村", "小组", "姓名", "电话", "角色"]):
        sheet.write(0, column, heading)
    sheet.write_merge(1, 3, 0, 0, "东风村")
    for row in range(1, 4):
        sheet.write(row, 1, "一组")
        sheet.write(row, 2, f"村民{row}")
        sheet.write(row, 3, 13900001000.0 + row)  # stored as a number, as Excel does
        sheet.write(row, 4, "求助户")
    path = tmp_path / "wps.xls"
    book.save(str(path))
    result = cli_import(app, path, "示例派出所", "--create-station")
    assert result.exit_code == 0, result.output
    assert sorted(session.scalars(select(Member.phone))) == [f"+86139000010{row:02d}" for row in range(1, 4)]


def test_mistyped_station_is_an_error_listing_known_stations(app, session, tmp_path) -> None:
    for name in ("示例派出所", "城关派出所"):
        session.add(Station(name=name))
    session.commit()
    path = tmp_path / "d.csv"
    path.write_text("村,小组,姓名,电话,角色\n一村,一组,甲,13900001001,求助户\n", encoding="utf-8")
    result = cli_import(app, path, "示列派出所")
    assert result.exit_code == 1
    assert "没有名为 “示列派出所” 的派出所" in result.output
    assert result.output.index("示例派出所") < result.output.index("城关派出所")  # nearest first
    session.rollback()
    assert session.scalar(select(func.count(Station.id))) == 2
    assert cli_import(app, path, "新派出所", "--create-station").exit_code == 0
