"""Directory management in the console: groups, members, uploads with preview, health, audit."""

from __future__ import annotations

import html
import io

import openpyxl
import pytest
from sqlalchemy import func, select

from hotline.models import AuditLog, Group, Member, Role, Station, Village
from tests.support.console import (
    STATION_A,
    at,
    login,
    make_incident,
    member,
)


@pytest.fixture
def signed_in(console, world):
    login(console, "a_staff")
    return console


def member_count(session) -> int:
    return session.scalar(select(func.count(Member.id)))


def member_form(group_id: int, **fields) -> dict:
    data = {
        "group_id": group_id, "name": "新成员", "phone": "139 1234 5678", "role": "household", "address": "",
        "active": "y",
    }
    data.update(fields)
    return data


def test_add_a_member_normalises_the_number_and_audits(signed_in, session, world):
    response = signed_in.post(f"/directory/groups/{world.group_a2.id}/members/new", data=member_form(world.group_a2.id))
    assert response.status_code == 302
    added = session.scalar(select(Member).where(Member.name == "新成员"))
    assert added.phone == "+8613912345678" and added.role == Role.HOUSEHOLD and added.group_id == world.group_a2.id
    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "member", AuditLog.action == "create"))
    assert entry.actor == "a_staff" and entry.entity_id == added.id
    assert entry.before is None and entry.after["phone"] == "+8613912345678"
    assert entry.station_id == world.group_a2.village.station_id


def test_editing_a_member_number_with_errors_changes_nothing(signed_in, session, world):
    target = member(world.group_a, Role.HOUSEHOLD, 1)
    original = target.phone
    url = f"/directory/members/{target.id}/edit"
    invalid = signed_in.post(url, data=member_form(world.group_a.id, name=target.name, phone="12345"))
    assert invalid.status_code == 400
    assert "12345 不是有效的电话号码" in invalid.get_data(as_text=True)
    assert 'aria-invalid="true"' in invalid.get_data(as_text=True)

    # A household number already held by a household of another group (same station) is refused.
    taken = member(world.group_a2, Role.HOUSEHOLD, 0).phone
    clash = signed_in.post(url, data=member_form(world.group_a.id, name=target.name, phone=taken))
    assert clash.status_code == 400
    assert "西村/二组" in clash.get_data(as_text=True) and "只能属于一个小组" in clash.get_data(as_text=True)

    # Held by another station's household: refused without naming that station's group.
    elsewhere = member(world.group_b, Role.HOUSEHOLD, 0).phone
    other_station = signed_in.post(url, data=member_form(world.group_a.id, name=target.name, phone=elsewhere))
    assert other_station.status_code == 400
    text = other_station.get_data(as_text=True)
    assert "其他派出所" in text and "南村" not in text

    # The same number twice in one group.
    same_group = member(world.group_a, Role.HOUSEHOLD, 2).phone
    as_assistant = member_form(world.group_a.id, name=target.name, phone=same_group, role="assistant")
    twice = signed_in.post(url, data=as_assistant)
    assert twice.status_code == 400 and "已在本小组中" in twice.get_data(as_text=True)

    session.expire_all()
    assert session.get(Member, target.id).phone == original
    assert session.scalar(select(func.count(AuditLog.id))) == 0


def test_editing_a_member_number_succeeds_and_is_audited_with_before_and_after(signed_in, session, world):
    target = member(world.group_a, Role.HOUSEHOLD, 1)
    old = target.phone
    response = signed_in.post(
        f"/directory/members/{target.id}/edit",
        data=member_form(world.group_a.id, name=target.name, phone="+86 139-0000-1111", role="leader"),
    )
    assert response.status_code == 302
    session.expire_all()
    changed = session.get(Member, target.id)
    assert changed.phone == "+8613900001111" and changed.role == Role.LEADER
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "update"))
    assert entry.before["phone"] == old and entry.after["phone"] == "+8613900001111"
    assert entry.before["role"] == "household" and entry.after["role"] == "leader"
    log = signed_in.get("/directory/audit").get_data(as_text=True)
    assert "修改成员" in log and "a_staff" in log and "phone, role" in log


def test_a_landline_is_accepted_but_marked_not_textable(signed_in, session, world):
    signed_in.post(
        f"/directory/groups/{world.group_a2.id}/members/new",
        data=member_form(world.group_a2.id, phone="010-6552 9988", role="officer"),
    )
    added = session.scalar(select(Member).where(Member.phone == "+861065529988"))
    assert added is not None and added.sms_capable is False


def test_group_capacity_is_enforced(signed_in, session, world):
    station = session.get(Station, world.group_a.village.station_id)
    station.max_group_size = 9  # group a already has 9 active members
    session.commit()
    full = signed_in.post(f"/directory/groups/{world.group_a.id}/members/new", data=member_form(world.group_a.id))
    assert full.status_code == 400 and "已达上限" in full.get_data(as_text=True)
    # An inactive member does not take a place.
    inactive = member_form(world.group_a.id)
    del inactive["active"]
    assert signed_in.post(f"/directory/groups/{world.group_a.id}/members/new", data=inactive).status_code == 302


def test_member_form_shows_the_current_values(signed_in, world):
    target = member(world.group_a, Role.LEADER)
    page = signed_in.get(f"/directory/members/{target.id}/edit").get_data(as_text=True)
    assert 'value="138 0010 0000"' in page
    assert f'<option selected value="{world.group_a.id}">' in page or f'value="{world.group_a.id}" selected' in page
    assert 'selected value="leader"' in page or 'value="leader" selected' in page


def test_remove_a_member(signed_in, session, world):
    target = member(world.group_a, Role.HOUSEHOLD, 5)
    target_id, name = target.id, target.name
    assert signed_in.post(f"/directory/members/{target_id}/delete").status_code == 302
    session.expunge_all()
    assert session.get(Member, target_id) is None
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "delete"))
    assert entry.before["name"] == name and entry.after is None


def test_add_edit_and_remove_a_group(signed_in, session, world):
    created = signed_in.post(
        "/directory/groups/new",
        data={"village": " 北村 ", "name": "三组", "ring_mode": "conference", "station_id": 999},
    )
    assert created.status_code == 302
    group = session.scalar(select(Group).where(Group.name == "三组"))
    # Staff always write into their own station, whatever the form says.
    assert group.village.name == "北村" and group.village.station.name == STATION_A
    assert group.ring_mode == "conference"

    duplicate = signed_in.post(
        "/directory/groups/new", data={"village": "东村", "name": "一组", "ring_mode": "simultaneous"}
    )
    assert duplicate.status_code == 400 and "东村 已有名为 一组 的小组" in duplicate.get_data(as_text=True)

    renamed = signed_in.post(
        f"/directory/groups/{group.id}/edit",
        data={"village": "北村", "name": "三组（新）", "ring_mode": "simultaneous"},
    )
    assert renamed.status_code == 302
    session.expire_all()
    assert session.get(Group, group.id).name == "三组（新）"

    confirm = signed_in.get(f"/directory/groups/{world.group_a.id}/delete").get_data(as_text=True)
    assert "9 名成员将一并删除" in confirm
    make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"))
    group_a_id = world.group_a.id
    assert signed_in.post(f"/directory/groups/{group_a_id}/delete").status_code == 302
    session.expunge_all()
    assert session.get(Group, group_a_id) is None
    assert session.scalar(select(func.count(Member.id)).where(Member.group_id == group_a_id)) == 0
    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "group", AuditLog.action == "delete"))
    assert len(entry.before["members"]) == 9
    actions = session.scalars(select(AuditLog.action).where(AuditLog.entity == "group").order_by(AuditLog.id)).all()
    assert actions == ["create", "update", "delete"]


def test_a_station_sets_how_many_responders_a_group_needs(signed_in, session, world):
    group = world.group_a
    active = session.scalar(select(func.count(Member.id)).where(Member.group_id == group.id, Member.active.is_(True)))
    form = signed_in.get(f"/directory/groups/{group.id}/edit").get_data(as_text=True)
    assert "需要响应人数" in form and 'name="min_acceptances"' in form and 'value="1"' in form
    fields = {"village": group.village.name, "name": group.name, "ring_mode": "simultaneous"}

    saved = signed_in.post(f"/directory/groups/{group.id}/edit", data={**fields, "min_acceptances": "2"})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(Group, group.id).min_acceptances == 2
    assert "需要响应人数" in signed_in.get(f"/directory/groups/{group.id}").get_data(as_text=True)
    entry = session.scalar(select(AuditLog).where(AuditLog.entity == "group", AuditLog.action == "update"))
    assert (entry.before["min_acceptances"], entry.after["min_acceptances"]) == (1, 2)

    # From 1 to the group's active members, whole numbers only; refused with a Chinese message, nothing changed.
    for bad in ("0", str(active + 1), "两", "1.5", ""):
        refused = signed_in.post(f"/directory/groups/{group.id}/edit", data={**fields, "min_acceptances": bad})
        page = html.unescape(refused.get_data(as_text=True))
        assert refused.status_code == 400, bad
        assert f"请填写1至{active}之间的整数" in page, bad
    session.expire_all()
    assert session.get(Group, group.id).min_acceptances == 2
    assert signed_in.post(
        f"/directory/groups/{group.id}/edit", data={**fields, "min_acceptances": str(active)}
    ).status_code == 302

    # A new group has no members yet: it needs 1.
    too_many = signed_in.post("/directory/groups/new", data={"village": "北村", "name": "五组",
                                                             "ring_mode": "simultaneous", "min_acceptances": "2"})
    assert too_many.status_code == 400 and "请填写1至1之间的整数" in html.unescape(too_many.get_data(as_text=True))
    assert signed_in.post("/directory/groups/new", data={"village": "北村", "name": "五组",
                                                         "ring_mode": "simultaneous", "min_acceptances": "1"}
                          ).status_code == 302


def test_city_wide_user_chooses_the_station_of_a_new_group(console, session, world):
    login(console, "city")
    station_b = world.group_b.village.station_id
    no_station = {"village": "新村", "name": "一组", "ring_mode": "simultaneous"}
    missing = console.post("/directory/groups/new", data=no_station)
    assert missing.status_code == 400
    ok = console.post(
        "/directory/groups/new",
        data={"village": "新村", "name": "一组", "ring_mode": "simultaneous", "station_id": station_b},
    )
    assert ok.status_code == 302
    village = session.scalar(select(Village).where(Village.name == "新村"))
    assert village.station_id == station_b


CSV_WITH_ERRORS = (
    "村,小组,姓名,电话,角色\n"
    "西村,二组,新户一,139 0000 0001,求助户\n"
    "西村,二组,新户二,12345,求助户\n"
    "北村,新组,新户三,139 0000 0003,村长\n"
)


def test_upload_preview_with_errors_writes_nothing(signed_in, session, world, redis_conn):
    before = member_count(session)
    response = signed_in.post(
        "/directory/import",
        data={"file": (io.BytesIO(CSV_WITH_ERRORS.encode("utf-8")), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert 'id="import-errors"' in page
    # The Chinese console speaks Chinese, saying how to fix each cell.
    assert "“12345” 不是有效的电话号码：手机号应为 11 位数字" in page
    assert "“村长” 不是可用的角色" in page
    assert "发现 2 个问题" in page and "有错误的行" in page
    assert "确认导入" not in page  # no way to apply a file with errors
    assert member_count(session) == before
    assert session.scalar(select(Village).where(Village.name == "北村")) is None
    assert not redis_conn.keys("hotline:console:upload:*")


def test_upload_preview_then_apply(signed_in, session, world, redis_conn):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["village", "group", "name", "phone", "role", "address"])
    sheet.append(["东村", "一组", "王组长", "138 0010 0000", "leader", "东村1号"])
    sheet.append(["北村", "新组", "新户", "139 0000 0003", "household", "北村1号"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    before = member_count(session)

    preview = signed_in.post(
        "/directory/import",
        data={"file": (io.BytesIO(buffer.getvalue()), "groups.xlsx")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "文件无误" in page and "将新增" in page
    assert member_count(session) == before  # previewing wrote nothing
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]

    # Someone else's token is not usable.
    other = signed_in.application.test_client()
    login(other, "b_staff")
    assert other.post("/directory/import/apply", data={"token": token}, follow_redirects=True).status_code == 200
    assert member_count(session) == before

    applied = signed_in.post("/directory/import/apply", data={"token": token})
    assert applied.status_code == 302
    assert member_count(session) == before + 1
    new = session.scalar(select(Member).where(Member.phone == "+8613900000003"))
    assert new.group.village.name == "北村" and new.group.village.station.name == STATION_A
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "import"))
    assert entry.after["created"] == 1 and entry.after["file"] == "groups.xlsx"
    assert entry.after["created_rows"][0]["phone"] == "+8613900000003"
    # The upload is used once.
    again = signed_in.post("/directory/import/apply", data={"token": token}, follow_redirects=True)
    assert "上传已过期" in again.get_data(as_text=True)
    assert member_count(session) == before + 1


def test_an_upload_sets_a_groups_responders_needed(signed_in, session, world, redis_conn):
    upload = (
        "村,小组,姓名,电话,角色,需响应人数\n"
        "北村,新组,新户一,139 0000 0001,求助户,\n"
        "北村,新组,新户二,139 0000 0002,求助户,2\n"
        "北村,新组,新户三,139 0000 0003,求助户,\n"
    ).encode()
    preview = signed_in.post(
        "/directory/import", data={"file": (io.BytesIO(upload), "groups.csv")}, content_type="multipart/form-data"
    )
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "设定需响应人数的小组" in page
    token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    assert signed_in.post("/directory/import/apply", data={"token": token}).status_code == 302
    assert session.scalar(select(Group.min_acceptances).where(Group.name == "新组")) == 2
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "import"))
    assert entry.after["responders_needed"] == {"北村/新组": 2}

    too_many = upload.replace(b",2\n", b",4\n")
    refused = signed_in.post(
        "/directory/import", data={"file": (io.BytesIO(too_many), "more.csv")}, content_type="multipart/form-data"
    )
    assert "少于需响应的 4 人" in html.unescape(refused.get_data(as_text=True))


def test_upload_of_an_unreadable_file_is_reported(signed_in):
    response = signed_in.post(
        "/directory/import",
        data={"file": (io.BytesIO(b"\xd0\xcf\x11\xe0old excel"), "old.xls")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    # .xls files are read now; a damaged one gets a clear answer.
    assert "无法读取的旧版 Excel .xls 工作簿" in response.get_data(as_text=True)


def test_group_health_lists_opted_out_failed_and_weak_groups(signed_in, session, world):
    failing = member(world.group_a, Role.HOUSEHOLD, 2)
    make_incident(session, world.group_a, opened_at=at("2026-03-02 01:00:00"), failed_phones=(failing.phone,))
    opted = member(world.group_a, Role.ASSISTANT)
    opted.opted_out = True
    for index in range(3):
        world.group_a2.members[index].opted_out = True
    session.commit()
    page = signed_in.get("/directory/health").get_data(as_text=True)
    weak_row = page.split("西村/二组")[1].split("</tr>")[0]
    assert "可联系成员少于 3 人" in weak_row and "2 / 5" in weak_row
    east = page.split("东村/一组")[1].split("</tr>")[0]
    assert opted.name in east and failing.name in east and "短信: 失败" in east
    assert "7 / 9" in east
    index = signed_in.get("/directory/").get_data(as_text=True)
    assert 'class="weak"' in index


def test_opt_out_follows_the_number(signed_in, session, world):
    opted = member(world.group_a, Role.OFFICER)
    opted.opted_out = True
    session.commit()
    # Changing an opted-out member to a fresh number clears the opt-out ...
    target = member(world.group_a, Role.HOUSEHOLD, 3)
    target.opted_out = True
    session.commit()
    signed_in.post(
        f"/directory/members/{target.id}/edit",
        data=member_form(world.group_a.id, name=target.name, phone="139 5555 0000"),
    )
    # ... and adding a number that opted out elsewhere keeps it opted out.
    signed_in.post(
        f"/directory/groups/{world.group_a2.id}/members/new",
        data=member_form(world.group_a2.id, phone=opted.phone, role="officer"),
    )
    session.expire_all()
    assert session.get(Member, target.id).opted_out is False
    added = session.scalar(select(Member).where(Member.group_id == world.group_a2.id, Member.phone == opted.phone))
    assert added.opted_out is True
