"""Write a station's directory in the format the import reads."""

from __future__ import annotations

import difflib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.csvsafe import write_rows
from hotline.directory.columns import Column, active_text, role_text
from hotline.directory.wording import Text, TextError, _l, quoted
from hotline.models import Group, Member, Role, Station, Village

EXPORT_COLUMNS: tuple[Column, ...] = tuple(Column)


class ExportError(TextError):
    """The export was not written; ``text`` says why and what to do."""


def directory_rows(
    session: Session, station_name: str, *, english_headers: bool = False, region: str = "CN"
) -> Iterator[list[str]]:
    """The heading row, then one row per member ordered by village, group and member.

    Each row ends with its group's responders needed (需响应人数), which the
    import reads back as the group's.

    Numbers of ``region`` are written as dialled at home (``138 0013 8000``),
    others in international form; spaced like this, Excel keeps them as text
    instead of turning them into ``1.38E+10``, and the import reads them back.

    Raises:
        ExportError: No station is named ``station_name``.
    """
    station_id = session.scalar(select(Station.id).where(Station.name == station_name.strip()))
    if station_id is None:
        raise ExportError(_unknown_station(session, station_name.strip()))
    query = (
        select(
            Village.name, Group.name, Member.name, Member.phone, Member.role, Member.address, Member.active,
            Member.backup_phone, Group.min_acceptances,
        )
        .join(Group, Member.group_id == Group.id)
        .join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station_id)
        .order_by(Village.name, Group.name, Member.id)
    )
    rows = session.execute(query).all()

    def generate() -> Iterator[list[str]]:
        yield [column.heading(english_headers) for column in EXPORT_COLUMNS]
        for village, group, name, phone, role, address, active, backup, needed in rows:
            yield [
                village,
                group,
                name,
                # A backup number follows the member's own, as the import reads it back.
                display_phone(phone, region) + (f" / {display_phone(backup, region)}" if backup else ""),
                role_text(Role(role), english_headers),
                address or "",
                active_text(bool(active), english_headers),
                # The group's, on each of its rows, as the import reads it back.
                str(needed or 1),
            ]

    return generate()


def display_phone(e164: str, region: str) -> str:
    """``+8613800138000`` as ``138 0013 8000`` at home, ``+44 20 7946 0958`` abroad."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164  # stored before numbers were validated; export it as it is
    home = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def export_directory(
    session: Session,
    station_name: str,
    path: str | Path,
    *,
    english_headers: bool = False,
    region: str = "CN",
) -> int:
    """Write the station's members to ``path`` (.csv or .xlsx); returns how many.

    CSV is written as UTF-8 with a byte-order mark, so Excel shows Chinese
    correctly. The file is replaced only once fully written.

    Raises:
        ExportError: The station is unknown, the extension is neither .csv nor
            .xlsx, or the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise ExportError(_l("%(file)s: give a file name ending in .csv or .xlsx, e.g. directory.xlsx", file=path.name))
    rows = list(directory_rows(session, station_name, english_headers=english_headers, region=region))
    if path.is_dir():
        raise ExportError(_cannot_write(path, errno.EISDIR, None))
    if path.exists() and not os.access(path, os.W_OK):
        raise ExportError(_cannot_write(path, errno.EACCES, None))
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(handle)
        try:
            if suffix == ".csv":
                _write_csv(Path(temporary), rows)
            else:
                _write_xlsx(Path(temporary), rows)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        raise ExportError(_cannot_write(path, exc.errno, exc.strerror or str(exc))) from None
    return len(rows) - 1


def _unknown_station(session: Session, name: str) -> Text:
    """No station is named ``name``: the known ones, nearest first (as ``hotline stations show`` says it)."""
    known = list(session.scalars(select(Station.name)))
    if not known:
        return _l("no station named %(name)s; there are no stations yet", name=quoted(name))
    nearest = sorted(known, key=lambda other: -difflib.SequenceMatcher(None, name, other).ratio())
    return _l(
        "no station named %(name)s; known stations, nearest first: %(known)s", name=quoted(name), known=nearest[:10]
    )


def _cannot_write(path: Path, code: int | None, strerror: str | None) -> Text:
    """Why ``path`` could not be written, and what to do, in the reader's words where the cause is a common one."""
    reasons = {
        errno.ENOENT: _l("the folder does not exist; create it or give another path"),
        errno.EACCES: _l("no permission to write there; choose a folder you may write to"),
        errno.EPERM: _l("no permission to write there; choose a folder you may write to"),
        errno.EISDIR: _l("it is a folder; give a file name ending in .csv or .xlsx"),
        errno.ENOTDIR: _l("part of the path is a file, not a folder; give another path"),
        errno.ENOSPC: _l("the disk is full; free some space or write elsewhere"),
        errno.EROFS: _l("the disk is read-only; write elsewhere"),
    }
    reason: Text | str = reasons.get(code or 0) or strerror or ""
    return _l("%(file)s: cannot write the file (%(reason)s)", file=str(path), reason=reason)


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    # A name or address starting with "=" must not run as a formula when a clerk opens the file.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        write_rows(handle, rows)


def _write_xlsx(path: Path, rows: list[list[str]]) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("directory")
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value)
            # openpyxl would store "=..." as a formula; a name or address is text.
            cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
