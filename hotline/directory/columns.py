"""The vocabulary of station spreadsheets: column headings, roles and statuses.

Stations head their columns in Chinese or English, with stray spaces
(including the full-width space U+3000), full-width letters or a trailing
``*`` marking required columns; :func:`normalise_label` folds all of those
away before a heading or a role is looked up.
"""

from __future__ import annotations

import difflib
import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hotline.directory.wording import Localised, Text, TextError, _l, quoted
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
    # A group's, written on each of its rows: how many members must accept before its alert is covered.
    NEEDED = "responders_needed"

    @property
    def chinese(self) -> str:
        return _CHINESE[self]

    @property
    def localised(self) -> Localised:
        """How a message names the column: 电话 in Chinese, 电话/phone in English."""
        return Localised({"zh": self.chinese, "en": self.label})

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
    Column.NEEDED: "需响应人数",
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


_HEADING_WORDS_BY_COLUMN: dict[Column, tuple[str, ...]] = {
    Column.VILLAGE: ("村", "村名", "行政村", "所属村", "村庄", "村（社区）", "village"),
    Column.GROUP: ("小组", "组", "组名", "组别", "所属组", "所属小组", "联防小组", "group", "group name"),
    Column.NAME: ("姓名", "名字", "name"),
    Column.PHONE: (
        "电话", "手机", "电话号码", "手机号", "手机号码", "联系电话", "联系方式", "phone", "phone number", "mobile",
    ),
    Column.ROLE: ("角色", "身份", "职务", "role"),
    Column.ADDRESS: ("地址", "备注", "地址备注", "住址", "address", "notes"),
    Column.ACTIVE: ("状态", "是否在用", "active", "status"),
    Column.NEEDED: (
        "需响应人数", "需要响应人数", "响应人数", "最少响应人数", "responders needed", "min acceptances", "needed",
    ),
}
_HEADING_WORDS = tuple(word for words in _HEADING_WORDS_BY_COLUMN.values() for word in words)
_HEADINGS = {
    normalise_label(word): column for column, words in _HEADING_WORDS_BY_COLUMN.items() for word in words
}

_ROLES = {
    normalise_label(word): role
    for role, words in {
        # A household is whoever calls for help: stations write 户主 or 村民 as often as 求助户.
        Role.HOUSEHOLD: ("求助户", "户主", "村民", "农户", "household"),
        # The village's 治保主任 (security director) leads its joint-defence group.
        Role.LEADER: ("联防组长", "组长", "联防队长", "治保主任", "leader"),
        # An auxiliary officer (辅警) assists the community officer, as a 警务助理 does.
        Role.ASSISTANT: ("警务助理", "辅警", "assistant"),
        Role.OFFICER: ("社区民警", "民警", "片警", "officer"),
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


def nearest_heading(heading: str) -> str | None:
    """The known heading most like ``heading`` (e.g. 电化 → 电话), or None when none is close."""
    folded = normalise_label(heading)
    # A longer heading that merely starts with a known word (身份证号, 身份) is another column.
    known = {
        normalise_label(word): word
        for word in _HEADING_WORDS
        if not (folded.startswith(normalise_label(word)) and len(folded) > len(normalise_label(word)) + 1)
    }
    close = difflib.get_close_matches(folded, list(known), n=1, cutoff=0.5)
    return known[close[0]] if close else None


def column_for(heading: str) -> Column | None:
    """The column a heading names, or None when it is not one we know."""
    return _HEADINGS.get(normalise_label(heading))


def parse_role(value: str) -> Role | None:
    """The role a cell names (Chinese or English, any case), or None if unknown."""
    return _ROLES.get(normalise_label(value))


def parse_active(value: str) -> bool | None:
    """True/False for a status cell such as 在用/停用 or yes/no, None if unknown."""
    return _ACTIVE.get(normalise_label(value))


def parse_needed(value: str) -> int | None:
    """The number of responders a cell asks for (``2``, ``２``, ``2人``).

    None when it is not a whole number of at least 1.
    """
    folded = unicodedata.normalize("NFKC", value).strip().removesuffix("人").strip()
    if not folded.isdecimal() or not folded.isascii():
        return None
    number = int(folded)
    return number if number >= 1 else None


def role_text(role: Role, english: bool) -> str:
    """How an export writes a role."""
    return role.value if english else ROLE_CHINESE[role]


def active_text(active: bool, english: bool) -> str:
    """How an export writes a member's status."""
    if english:
        return "active" if active else "inactive"
    return "在用" if active else "停用"


class HeaderError(TextError):
    """The heading row names one column twice; ``text`` says which."""


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
            raise HeaderError(_l(
                "columns %(first)s and %(second)s both mean %(column)s; keep one of them",
                first=quoted(first), second=quoted(heading), column=column.localised,
            ))
        positions[column] = index
    return Header(positions=positions, ignored=tuple(ignored))


def missing_columns_message(missing: Sequence[Column], unknown: Sequence[str] = ()) -> Text:
    """The error for a sheet that lacks required columns, naming each one.

    Headings that were not understood are listed with the nearest known one,
    which is often the missing column misspelt.
    """
    names = [column.localised for column in missing]
    message = _l("missing required column(s): %(names)s (headings may be Chinese or English)", names=names)
    guesses = unknown_headings(unknown)
    if not guesses:
        return message
    return _l("%(message)s; %(unknown)s", message=message, unknown=guesses)


def heading_suggestions(headings: Sequence[str]) -> Text | None:
    """For headings that look like a known one misspelt, the known one; None when none do."""
    guesses = []
    for heading in headings:
        nearest = nearest_heading(heading)
        if nearest is not None:
            guesses.append(_l("%(nearest)s for %(heading)s", nearest=quoted(nearest), heading=quoted(heading)))
    return _l("did you mean %(guesses)s?", guesses=guesses) if guesses else None


def unknown_headings(headings: Sequence[str]) -> Text | None:
    """Headings not understood, each with the known heading nearest to it, if any."""
    if not headings:
        return None
    described = []
    for heading in headings:
        nearest = nearest_heading(heading)
        if nearest is None:
            described.append(quoted(heading))
        else:
            described.append(_l("%(heading)s (did you mean %(nearest)s?)", heading=quoted(heading),
                                nearest=quoted(nearest)))
    return _l("heading(s) not recognised: %(headings)s", headings=described)
