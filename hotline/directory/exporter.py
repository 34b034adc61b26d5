"""Write a station's directory in the format the import reads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.csvsafe import write_rows
from hotline.directory.columns import Column, active_text, role_text
from hotline.models import Group, Member, Role, Station, Village

EXPORT_COLUMNS: tuple[Column, ...] = tuple(Column)


class ExportError(ValueError):
    """The export was not written; the message says why."""


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
        raise ExportError(f"no station named {station_name!r}")
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
        raise ExportError(f"{path.name}: give a file name ending in .csv or .xlsx")
    rows = list(directory_rows(session, station_name, english_headers=english_headers, region=region))
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
        raise ExportError(f"{path}: cannot write the file ({exc.strerror or exc})") from None
    return len(rows) - 1


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
