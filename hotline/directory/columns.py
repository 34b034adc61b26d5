"""The vocabulary of station spreadsheets: column headings, roles and statuses.

Stations head their columns in Chinese or English, with stray spaces
(including the full-width space U+3000), full-width letters or a trailing
``*`` marking required columns; :func:`normalise_label` folds all of those
away before a heading or a role is looked up.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hotline.models import Role


class Column(enum.Enum):
    """A column the directory import understands, in export order."""

    VILLAGE = "village"
    GROUP = "group"
    NAME = "name"
    PHONE = "phone"
    ROLE = "role"
    ADDRESS = "address"
    ACTIVE = "active"

    @property
    def chinese(self) -> str:
        return _CHINESE[self]

    @property
    def label(self) -> str:
        """The bilingual label used in reports, e.g. ``电话/phone``."""
        return f"{self.chinese}/{self.value}"

    def heading(self, english: bool) -> str:
        """The heading written by an export."""
        return self.value if english else self.chinese


_CHINESE = {
    Column.VILLAGE: "村",
    Column.GROUP: "小组",
    Column.NAME: "姓名",
    Column.PHONE: "电话",
    Column.ROLE: "角色",
    Column.ADDRESS: "地址",
    Column.ACTIVE: "状态",
}

REQUIRED_COLUMNS: tuple[Column, ...] = (Column.VILLAGE, Column.GROUP, Column.NAME, Column.PHONE, Column.ROLE)

_SPACES = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """Trim a cell and collapse runs of whitespace (full-width too) to one space."""
    return _SPACES.sub(" ", value.replace("\u3000", " ")).strip()


def normalise_label(value: str) -> str:
    """Fold a heading or a vocabulary word for lookup.

    NFKC turns full-width letters and spaces into ASCII; case, inner spaces,
    underscores and a trailing ``*`` or colon do not distinguish headings.
    """
    folded = unicodedata.normalize("NFKC", value).casefold()
    folded = re.sub(r"[\s_\-]+", "", folded)
    return folded.rstrip("*:")


_HEADINGS = {
    normalise_label(word): column
    for column, words in {
        Column.VILLAGE: ("村", "村名", "行政村", "village"),
        Column.GROUP: ("小组", "组", "组名", "联防小组", "group", "group name"),
        Column.NAME: ("姓名", "名字", "name"),
        Column.PHONE: ("电话", "手机", "电话号码", "手机号", "手机号码", "联系电话", "phone", "phone number", "mobile"),
        Column.ROLE: ("角色", "身份", "role"),
        Column.ADDRESS: ("地址", "备注", "地址备注", "住址", "address", "notes"),
        Column.ACTIVE: ("状态", "是否在用", "active", "status"),
    }.items()
    for word in words
}

_ROLES = {
    normalise_label(word): role
    for role, words in {
        Role.HOUSEHOLD: ("求助户", "household"),
        Role.LEADER: ("联防组长", "组长", "leader"),
        Role.ASSISTANT: ("警务助理", "assistant"),
        Role.OFFICER: ("社区民警", "民警", "officer"),
    }.items()
    for word in words
}

ROLE_CHINESE = {
    Role.HOUSEHOLD: "求助户",
    Role.LEADER: "联防组长",
    Role.ASSISTANT: "警务助理",
    Role.OFFICER: "社区民警",
}

ROLE_CHOICES = "、".join(f"{ROLE_CHINESE[role]}/{role.value}" for role in Role)

_ACTIVE = {
    normalise_label(word): flag
    for flag, words in {
        True: ("在用", "启用", "有效", "正常", "是", "active", "yes", "y", "true", "1"),
        False: ("停用", "无效", "否", "inactive", "no", "n", "false", "0"),
    }.items()
    for word in words
}


def column_for(heading: str) -> Column | None:
    """The column a heading names, or None when it is not one we know."""
    return _HEADINGS.get(normalise_label(heading))


def parse_role(value: str) -> Role | None:
    """The role a cell names (Chinese or English, any case), or None if unknown."""
    return _ROLES.get(normalise_label(value))


def parse_active(value: str) -> bool | None:
    """True/False for a status cell such as 在用/停用 or yes/no, None if unknown."""
    return _ACTIVE.get(normalise_label(value))


def role_text(role: Role, english: bool) -> str:
    """How an export writes a role."""
    return role.value if english else ROLE_CHINESE[role]


def active_text(active: bool, english: bool) -> str:
    """How an export writes a member's status."""
    if english:
        return "active" if active else "inactive"
    return "在用" if active else "停用"


class HeaderError(ValueError):
    """The heading row is missing required columns or names one column twice."""


@dataclass(frozen=True)
class Header:
    """Where each known column sits in a sheet, and which headings were ignored."""

    positions: dict[Column, int]
    ignored: tuple[str, ...]

    def matches(self) -> int:
        return len(self.positions)

    def missing(self) -> list[Column]:
        return [column for column in REQUIRED_COLUMNS if column not in self.positions]


def read_header(cells: Sequence[str]) -> Header:
    """Map a heading row to columns.

    Raises:
        HeaderError: Two headings name the same column (e.g. both 电话 and
            手机), so it is unclear which one to read.
    """
    positions: dict[Column, int] = {}
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        heading = clean_text(cell)
        if not heading:
            continue
        column = column_for(heading)
        if column is None:
            ignored.append(heading)
            continue
        if column in positions:
            first = clean_text(cells[positions[column]])
            raise HeaderError(f"columns {first!r} and {heading!r} both mean {column.label}; keep one of them")
        positions[column] = index
    return Header(positions=positions, ignored=tuple(ignored))


def missing_columns_message(missing: Sequence[Column]) -> str:
    """The error for a sheet that lacks required columns, naming each one."""
    names = ", ".join(column.label for column in missing)
    return f"missing required column(s): {names} (headings may be Chinese or English)"
