"""Directory import and export services: reading, validation, planning, applying."""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hotline.directory import (
    Action,
    Column,
    ExportError,
    ImportRefused,
    ReadError,
    apply_plan,
    export_directory,
    import_sheet,
    plan_import,
    read_bytes,
    read_sheet,
)
from hotline.directory.columns import parse_role, read_header
from hotline.models import Group, Member, Role, Station, Village

ZH_HEADER = ["村", "小组", "姓名", "电话", "角色", "地址"]
EN_HEADER = ["village", "group", "name", "phone", "role", "address"]


# ---------------------------------------------------------------- test data


def phone(index: int) -> str:
    """A distinct valid mainland mobile number per index."""
    return f"139{index:08d}"


def e164(index: int) -> str:
    return f"+86{phone(index)}"


def good_rows(count: int, group_size: int = 10) -> list[list[object]]:
    """``count`` rows, ten to a group: a leader, households, and the village officer.

    The officer's number repeats across the village's groups, which is allowed.
    """
    rows: list[list[object]] = []
    for index in range(count):
        group_no, position = divmod(index, group_size)
        village_no = group_no // 10
        village, group = f"{village_no + 1}村", f"{group_no % 10 + 1}组"
        if position == 0:
            role = "联防组长"
        elif position == group_size - 1:
            role = "社区民警"
        else:
            role = "求助户"
        number = phone(900_000 + village_no) if role == "社区民警" else phone(index)
        rows.append([village, group, f"村民{index}", number, role, f"{group}{position + 1}号"])
    return rows


def write_csv(
    path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = ZH_HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = ZH_HEADER) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def write(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = ZH_HEADER) -> Path:
    return write_xlsx(path, rows, header) if path.suffix == ".xlsx" else write_csv(path, rows, header)


def import_file(session: Session, path: Path, station: str = "城关派出所", **kwargs):
    plan = import_sheet(session, read_sheet(path), station, region="CN", default_capacity=10, **kwargs)
    session.commit()
    return plan


def plan_file(session: Session, path: Path, station: str = "城关派出所", **kwargs):
    kwargs.setdefault("show_other_stations", True)
    return plan_import(session, read_sheet(path), station, region="CN", default_capacity=10, **kwargs)


def member_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Member)) or 0


def error_rows(plan) -> list[int]:
    return plan.bad_rows


# ---------------------------------------------------------------- headings and vocabulary


@pytest.mark.parametrize(
    "headings",
    [
        ["村", "小组", "姓名", "电话", "角色", "地址"],
        ["Village", "GROUP", " name ", "Phone", "role", "Address"],
        ["\u3000村\u3000", "组名", "姓 名", "手机", "角色", "备注"],
        ["village", "组", "Name", "联系电话", "ROLE", "地址备注"],
        ["ｖｉｌｌａｇｅ", "group", "name", "电话号码", "role*", "address"],
    ],
)
def test_headings_in_chinese_or_english(headings: list[str]) -> None:
    header = read_header(headings)
    assert header.missing() == []
    assert header.positions[Column.PHONE] == 3
    assert header.positions[Column.ADDRESS] == 5


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["1村", "1组", "张三", "13800138000"]], ["村", "小组", "姓名", "电话"])
    with pytest.raises(ReadError, match="角色/role") as info:
        read_sheet(path)
    assert "missing required column" in str(info.value)


def test_two_columns_for_one_field_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [], ["村", "小组", "姓名", "电话", "手机", "角色"])
    with pytest.raises(ReadError, match=r"电话.*手机.*电话/phone"):
        read_sheet(path)


def test_title_row_above_headings_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["城关派出所联防小组名单"])
    sheet.append([])
    sheet.append(ZH_HEADER)
    sheet.append(["1村", "1组", "张三", "13800138000", "组长", ""])
    workbook.save(path)
    read = read_sheet(path)
    assert read.header_row == 3
    assert [row.number for row in read.rows] == [4]


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("求助户", Role.HOUSEHOLD),
        ("Household", Role.HOUSEHOLD),
        ("联防组长", Role.LEADER),
        ("组长", Role.LEADER),
        ("LEADER", Role.LEADER),
        ("警务助理", Role.ASSISTANT),
        ("assistant", Role.ASSISTANT),
        ("社区民警", Role.OFFICER),
        ("民警", Role.OFFICER),
        (" Officer ", Role.OFFICER),
        ("村长", None),
    ],
)
def test_roles_in_chinese_or_english(text: str, role: Role | None) -> None:
    assert parse_role(text) is role


# ---------------------------------------------------------------- reading files


def test_csv_encodings(tmp_path: Path) -> None:
    rows = [["一村", "一组", "张三", "13800138000", "求助户", "东头"]]
    for encoding in ("utf-8", "utf-8-sig", "gbk", "gb18030"):
        path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding=encoding)
        read = read_sheet(path)
        assert read.rows[0].cells[Column.VILLAGE] == "一村", encoding
        assert read.rows[0].cells[Column.NAME] == "张三", encoding


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("d.pdf", b"%PDF-1.4 ...", "unsupported file type '.pdf'"),
        ("d.csv", b"", "the file is empty"),
        ("d.csv", b"  \r\n\r\n", "the file is empty"),
        ("d.xlsx", b"", "the file is empty"),
        ("d.csv", "村,小组,姓名,电话,角色\n".encode() + b"\xff\xfe\xff,x\n", "neither UTF-8 nor GBK"),
        ("d.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file"),
        ("d.xlsx", b"this is not a workbook", "not a valid Excel .xlsx workbook"),
        ("d.xlsx", b"PK\x03\x04 truncated zip", "not a valid Excel .xlsx workbook"),
        ("d.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old Excel .xls"),
        ("d.csv", "name,phone\n张三,13800138000\n".encode(), "missing required column"),
        ("d.csv", b"hello,world\n", "no heading row found"),
    ],
)
def test_bad_files_get_a_clear_error(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ReadError, match=message):
        read_bytes(data, name)


def test_excel_unicode_text_and_semicolons() -> None:
    tab_separated = "村\t小组\t姓名\t电话\t角色\n一村\t一组\t张三\t13800138000\t组长\n".encode("utf-16")
    assert read_bytes(tab_separated, "d.txt").rows[0].cells[Column.NAME] == "张三"
    semicolons = b"village;group;name;phone;role\nv;g;n;13800138000;leader\n"
    assert read_bytes(semicolons, "d.csv").rows[0].cells[Column.ROLE] == "leader"


def test_headings_without_rows(session: Session, tmp_path: Path) -> None:
    plan = plan_file(session, write_csv(tmp_path / "d.csv", []))
    assert [str(error) for error in plan.errors] == ["no members found below the heading row (row 1)"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="no such file"):
        read_sheet(tmp_path / "nope.csv")


def test_excel_numbers_stored_as_floats_and_ints(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "d.xlsx",
        [
            ["一村", 1, "张三", 13800138000, "求助户", None],
            ["一村", 1, "李四", 13800138001.0, "求助户", 12],
        ],
    )
    plan = import_file(session, path)
    assert len(plan.creates) == 2
    members = session.scalars(select(Member).order_by(Member.id)).all()
    assert [m.phone for m in members] == ["+8613800138000", "+8613800138001"]
    assert [m.address for m in members] == ["", "12"]
    assert session.scalar(select(Group.name)) == "1"


def test_phone_forms_normalise_to_e164(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        [
            ["一村", "一组", "甲", "138 0013 8000", "求助户", ""],
            ["一村", "一组", "乙", "+86-138-0013-8001", "求助户", ""],
            ["一村", "一组", "丙", "013800138002", "求助户", ""],
            ["一村", "一组", "丁", "0086 138 0013 8003", "求助户", ""],
        ],
    )
    import_file(session, path)
    assert sorted(session.scalars(select(Member.phone))) == [f"+861380013800{i}" for i in range(4)]


def test_scientific_notation_gets_a_hint(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["一村", "一组", "甲", "1.38001E+10", "求助户", ""]])
    plan = plan_file(session, path)
    assert "scientific notation" in str(plan.errors[0])


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_done_when_five_bad_rows_then_fixed_then_unchanged(session: Session, tmp_path: Path, suffix: str) -> None:
    rows = good_rows(1000)
    bad = [list(row) for row in rows]
    bad[14][3] = "12345"  # row 16: invalid number
    bad[101][4] = "村长"  # row 103: unknown role
    bad[25][0:2] = bad[10][0:2]  # row 27: an 11th member of group 2 (rows 12-21)
    bad[57][3] = phone(33)  # row 59: household already in another group (row 35)
    bad[75][3] = phone(72)  # row 77: the same number twice in group 8 (row 74)
    path = write(tmp_path / f"bad{suffix}", bad)

    plan = plan_file(session, path)
    assert plan.bad_rows == [16, 27, 59, 77, 103]
    messages = [str(error) for error in plan.errors]
    assert messages[0] == "row 16, 电话/phone: '12345' is not a valid phone number"
    assert messages[1].startswith("row 27, 小组/group: group 1村/2组 would have 11 active members")
    assert messages[2].startswith(f"row 59, 电话/phone: {e164(33)} is already a 求助户/household of 1村/4组 on row 35")
    assert messages[3] == f"row 77, 电话/phone: {e164(72)} is already in this group on row 74"
    assert messages[4].startswith("row 103, 角色/role: '村长' is not a role")
    with pytest.raises(ImportRefused):
        apply_plan(session, plan)
    session.rollback()
    assert member_count(session) == 0
    assert session.scalar(select(func.count()).select_from(Station)) == 0

    fixed = write(tmp_path / f"fixed{suffix}", rows)
    plan = import_file(session, fixed)
    assert (len(plan.creates), len(plan.updates), plan.unchanged) == (1000, 0, 0)
    assert member_count(session) == 1000
    assert session.scalar(select(func.count()).select_from(Village)) == 10
    assert session.scalar(select(func.count()).select_from(Group)) == 100

    again = import_file(session, fixed)
    assert (len(again.creates), len(again.updates), again.unchanged) == (0, 0, 1000)
    assert again.new_villages == [] and again.new_groups == [] and again.absent == []
    assert member_count(session) == 1000


def test_missing_name_and_other_cells(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        [
            ["一村", "一组", "", "13800138000", "求助户", ""],
            ["", "一组", "乙", "13800138001", "求助户", ""],
            ["一村", "", "丙", "13800138002", "", ""],
            ["一村", "一组", "丁", "", "求助户", ""],
        ],
    )
    plan = plan_file(session, path)
    # A blank village or group under a filled one continues it (row 3's village, row 4's group).
    assert [str(error) for error in plan.errors] == [
        "row 2, 姓名/name: name is missing",
        (
            "row 4, 角色/role: role is missing; "
            "use one of 求助户/household、联防组长/leader、警务助理/assistant、社区民警/officer"
        ),
        "row 5, 电话/phone: phone number is missing",
    ]


def test_landline_is_a_warning(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [["一村", "一组", "村委会", "010-6552 9988", "组长", ""]])
    plan = import_file(session, path)
    assert plan.ok
    assert [str(warning) for warning in plan.warnings] == [
        "row 2, 电话/phone: +861065529988 is a landline: it can be called but not texted"
    ]
    member = session.scalars(select(Member)).one()
    assert member.phone == "+861065529988" and member.sms_capable is False


def test_caller_number_held_by_another_station(session: Session, tmp_path: Path) -> None:
    import_file(session, write_csv(tmp_path / "a.csv", [["东村", "一组", "甲", phone(1), "求助户", ""]]), "东关派出所")
    path = write_csv(
        tmp_path / "b.csv",
        [
            ["西村", "一组", "甲", phone(1), "组长", ""],
            ["西村", "二组", "甲", phone(1), "警务助理", ""],
        ],
    )
    plan = plan_file(session, path, "西关派出所")
    assert [str(error) for error in plan.errors] == [
        f"row 2, 电话/phone: {e164(1)} is already a 求助户/household of 东村/一组 at station 东关派出所; "
        "remove it there first"
    ]


def test_caller_number_held_by_an_unlisted_group_of_the_station(session: Session, tmp_path: Path) -> None:
    import_file(session, write_csv(tmp_path / "a.csv", [["东村", "一组", "甲", phone(1), "求助户", ""]]))
    moved = write_csv(tmp_path / "b.csv", [["东村", "二组", "甲", phone(1), "求助户", ""]])
    plan = plan_file(session, moved)
    assert plan.bad_rows == [2]
    assert "东村/一组, which this file does not list" in str(plan.errors[0])
    # With --prune too: a deactivated member still holds its number.
    assert plan_file(session, moved, prune=True).bad_rows == [2]


def test_number_handed_from_one_group_to_another(session: Session, tmp_path: Path) -> None:
    import_file(
        session,
        write_csv(
            tmp_path / "a.csv",
            [["东村", "一组", "甲", phone(1), "求助户", ""], ["东村", "二组", "甲", phone(1), "警务助理", ""]],
        ),
    )
    swapped = write_csv(
        tmp_path / "b.csv",
        [["东村", "二组", "甲", phone(1), "求助户", ""], ["东村", "一组", "甲", phone(1), "警务助理", ""]],
    )
    plan = import_file(session, swapped)
    assert len(plan.updates) == 2
    roles = dict(session.execute(select(Group.name, Member.role).select_from(Member).join(Member.group)).all())
    assert roles == {"一组": "assistant", "二组": "household"}


def test_capacity_counts_station_limit_and_unlisted_members(session: Session, tmp_path: Path) -> None:
    import_file(
        session, write_csv(tmp_path / "a.csv", [["一村", "一组", f"户{i}", phone(i), "求助户", ""] for i in range(3)])
    )
    session.execute(Station.__table__.update().values(max_group_size=4))
    session.commit()
    more = write_csv(tmp_path / "b.csv", [["一村", "一组", f"户{i}", phone(i), "求助户", ""] for i in range(10, 13)])
    plan = plan_file(session, more)
    # Three unlisted members keep their places, so only the first new row fits.
    assert plan.bad_rows == [3, 4]
    assert "6 active members, counting 3 already in the directory but not in this file" in str(plan.errors[0])
    assert str(plan.errors[0]).endswith("; the limit is 4")
    assert plan_file(session, more, prune=True).ok
    # Inactive rows do not ring, so they do not count.
    inactive = write_csv(
        tmp_path / "c.csv",
        [["一村", "一组", f"户{i}", phone(i), "求助户", "", "停用"] for i in range(10, 13)],
        [*ZH_HEADER, "状态"],
    )
    assert plan_file(session, inactive).ok


def test_changed_file_updates_in_place_and_reports_absent(session: Session, tmp_path: Path) -> None:
    rows = good_rows(20)
    import_file(session, write_csv(tmp_path / "a.csv", rows))
    ids = dict(session.execute(select(Member.phone, Member.id)).all())
    changed = [list(row) for row in rows]
    changed[1][2] = "改名"
    changed[2][4] = "组长"
    changed[3][5] = "新地址"
    del changed[5]
    plan = import_file(session, write_csv(tmp_path / "b.csv", changed))
    assert (len(plan.creates), len(plan.updates), plan.unchanged) == (0, 3, 16)
    assert plan.actions[3] == Action.UPDATE and plan.actions[2] == Action.UNCHANGED
    assert [(m.name, m.phone) for m in plan.absent] == [("村民5", e164(5))]
    by_phone = {m.phone: m for m in session.scalars(select(Member))}
    assert by_phone[e164(1)].name == "改名" and by_phone[e164(1)].id == ids[e164(1)]
    assert by_phone[e164(2)].role == Role.LEADER
    assert by_phone[e164(3)].address == "新地址"
    assert by_phone[e164(5)].active is True  # left alone without --prune

    plan = import_file(session, write_csv(tmp_path / "b.csv", changed), prune=True)
    assert [m.phone for m in plan.deactivations] == [e164(5)]
    session.expire_all()
    assert session.get(Member, ids[e164(5)]).active is False
    again = import_file(session, write_csv(tmp_path / "b.csv", changed), prune=True)
    assert again.deactivations == [] and again.unchanged == 19


def test_file_without_address_column_leaves_addresses(session: Session, tmp_path: Path) -> None:
    rows = good_rows(5)
    import_file(session, write_csv(tmp_path / "a.csv", rows))
    plan = import_file(session, write_csv(tmp_path / "b.csv", [row[:5] for row in rows], ZH_HEADER[:5]))
    assert plan.unchanged == 5
    assert session.scalar(select(Member.address).where(Member.phone == e164(0))) == "1组1号"


def test_status_column(session: Session, tmp_path: Path) -> None:
    header = [*EN_HEADER, "Status"]
    rows = [["v", "g", "a", phone(1), "household", "", "inactive"], ["v", "g", "b", phone(2), "household", "", "maybe"]]
    plan = plan_file(session, write_csv(tmp_path / "a.csv", rows, header))
    assert [str(error) for error in plan.errors] == [
        "row 3, 状态/active: 'maybe' is not a status; use 在用/active or 停用/inactive"
    ]


def _needed(session: Session) -> dict[str, int]:
    return {
        f"{village}/{group}": needed
        for village, group, needed in session.execute(
            select(Village.name, Group.name, Group.min_acceptances).join(Village, Group.village_id == Village.id)
        )
    }


def test_responders_needed_column(session: Session, tmp_path: Path) -> None:
    header = [*ZH_HEADER, "需响应人数"]
    rows = [[*row, ""] for row in good_rows(30)]
    rows[0][6] = "2"  # 1村/1组 writes it once, on its first row; its other rows are blank
    rows[12][6] = "３人"  # 1村/2组: full-width, with 人
    rows[13][6] = "3"  # the same number again is fine
    plan = import_file(session, write_csv(tmp_path / "a.csv", rows, header))
    assert plan.needed == {("1村", "1组"): 2, ("1村", "2组"): 3}
    assert _needed(session) == {"1村/1组": 2, "1村/2组": 3, "1村/3组": 1}

    # A file without the column leaves every group's number alone.
    plan = import_file(session, write_csv(tmp_path / "b.csv", good_rows(30)))
    assert plan.needed == {} and _needed(session)["1村/1组"] == 2
    # With the column, a group whose rows are all blank needs 1 again.
    rows[0][6] = ""
    plan = import_file(session, write_csv(tmp_path / "c.csv", rows, header))
    assert plan.needed == {("1村", "1组"): 1} and plan.writes == 1
    assert _needed(session) == {"1村/1组": 1, "1村/2组": 3, "1村/3组": 1}


def test_responders_needed_errors(session: Session, tmp_path: Path) -> None:
    header = [*ZH_HEADER, "需响应人数"]
    rows = [[*row, ""] for row in good_rows(30)]
    rows[0][6] = "2"
    rows[5][6] = "3"  # 1村/1组 again, another number
    rows[10][6] = "11"  # 1村/2组 has ten members
    rows[20][6] = "0"
    rows[21][6] = "两个"
    plan = plan_file(session, write_csv(tmp_path / "a.csv", rows, header))
    errors = {error.row: error for error in plan.errors}
    assert sorted(errors) == [7, 12, 22, 23]
    assert all(error.column == Column.NEEDED for error in errors.values())
    assert errors[7].message == "group 1村/1组 needs 2 responders on row 2; write one number for a group"
    assert errors[7].describe("zh") == (
        "第 7 行需响应人数列：小组 1村/1组 在第 2 行已填需响应人数 2；同一小组只能填一个人数"
    )
    assert errors[12].describe("zh").endswith("小组 1村/2组 将只有 10 名在用成员，少于需响应的 11 人")
    assert errors[22].describe("zh").endswith("“0” 不是需响应人数；请填写1及以上的整数，留空即为1")
    assert "“两个” 不是需响应人数" in errors[23].describe("zh")
    with pytest.raises(ImportRefused):
        apply_plan(session, plan)


def test_a_new_group_is_created_needing_its_number(session: Session, tmp_path: Path) -> None:
    header = [*EN_HEADER, "responders needed"]
    rows = [[*row, "4" if index == 3 else ""] for index, row in enumerate(good_rows(10))]
    import_file(session, write_csv(tmp_path / "a.csv", rows, header))
    assert _needed(session) == {"1村/1组": 4}


# ---------------------------------------------------------------- export round trip


@pytest.mark.parametrize(("suffix", "english"), [(".csv", False), (".xlsx", False), (".csv", True), (".xlsx", True)])
def test_export_then_reimport_changes_nothing(session: Session, tmp_path: Path, suffix: str, english: bool) -> None:
    rows = good_rows(30)
    rows.append(["3村", "1组", "村委会", "0571-8888 0000", "组长", "=SUM(A1)"])
    import_file(session, write_csv(tmp_path / "a.csv", rows))
    out = tmp_path / f"out{suffix}"
    assert export_directory(session, "城关派出所", out, english_headers=english) == 31
    sheet = read_sheet(out)
    assert sheet.columns == frozenset(Column)
    first = sheet.rows[0].cells
    assert first[Column.PHONE] == "139 0000 0000"
    assert first[Column.ROLE] == ("leader" if english else "联防组长")
    assert any(row.cells[Column.ADDRESS] == "=SUM(A1)" for row in sheet.rows)
    assert {row.cells[Column.NEEDED] for row in sheet.rows} == {"1"}
    plan = import_file(session, out)
    assert (len(plan.creates), len(plan.updates), plan.unchanged, len(plan.absent)) == (0, 0, 31, 0)
    assert plan.needed == {}


def test_export_writes_each_groups_responders_needed(session: Session, tmp_path: Path) -> None:
    import_file(session, write_csv(tmp_path / "a.csv", good_rows(20)))
    session.execute(update(Group).where(Group.name == "2组").values(min_acceptances=2))
    session.commit()
    out = tmp_path / "out.csv"
    export_directory(session, "城关派出所", out)
    with out.open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0][-1] == "需响应人数"
    assert {(row[1], row[-1]) for row in table[1:]} == {("1组", "1"), ("2组", "2")}
    assert import_file(session, out).needed == {}


def test_export_unknown_station_or_extension(session: Session, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no station named"):
        export_directory(session, "nowhere", tmp_path / "x.csv")
    with pytest.raises(ExportError, match=r"\.csv or \.xlsx"):
        export_directory(session, "nowhere", tmp_path / "x.pdf")


# ---------------------------------------------------------------- size


def test_import_33000_rows(session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = good_rows(33_000)
    path = write_csv(tmp_path / "big.csv", rows)
    started = time.perf_counter()
    plan = import_file(session, path)
    first = time.perf_counter() - started
    assert len(plan.creates) == 33_000
    assert member_count(session) == 33_000

    rows[100][2] = "改名"
    write_csv(path, rows)
    started = time.perf_counter()
    plan = import_file(session, path)
    second = time.perf_counter() - started
    assert (len(plan.creates), len(plan.updates), plan.unchanged) == (0, 1, 32_999)
    with capsys.disabled():
        print(f"\n33,000 rows on {session.bind.dialect.name}: first import {first:.1f}s, re-import {second:.1f}s")
