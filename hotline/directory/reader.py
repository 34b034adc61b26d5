"""Read a station spreadsheet (CSV, Excel .xlsx or old Excel .xls) into rows of text cells.

Nothing here judges the contents; it only finds the sheet and its heading
row, maps the headings to columns and numbers each row as the spreadsheet
shows it. A cell merged over several rows or columns (a village name in
B4:B13) gives its value to every cell it covers.

The web process that reads an upload also answers the carrier's webhooks, so
reading is bounded (see :mod:`hotline.directory.limits`): a workbook is
checked before it is opened, then read one row at a time, at most
:data:`~hotline.directory.limits.MAX_COLUMNS` columns wide, within limits on
rows, cell length and time.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hotline.csvsafe import unescape_cell
from hotline.directory import limits
from hotline.directory.cells import Deadline, ReadError, Rows, WorkbookSheet
from hotline.directory.columns import (
    REQUIRED_COLUMNS,
    Column,
    Header,
    HeaderError,
    clean_text,
    missing_columns_message,
    read_header,
)
from hotline.directory.wording import Text, _l

# A title such as "XX村联防小组名单" often sits above the headings.
_HEADER_SEARCH_ROWS = 10
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls container
_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm", ".xls"}


class _NoHeading(ReadError):
    """This sheet has no heading row; another sheet of the workbook may."""

    def __init__(self, text: Text, matches: int) -> None:
        super().__init__(text)
        self.matches = matches


@dataclass(frozen=True)
class SheetRow:
    """One data row: its number as the spreadsheet shows it, and its cells."""

    number: int
    cells: dict[Column, str]

    def get(self, column: Column) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Sheet:
    """The data rows under a recognised heading row.

    ``sheet_name`` names the workbook sheet read (None for CSV);
    ``sheet_count`` is how many sheets the workbook has.
    """

    header_row: int
    columns: frozenset[Column]
    rows: list[SheetRow]
    ignored_headings: tuple[str, ...] = ()
    sheet_name: str | None = None
    sheet_count: int = 1
    other_sheets: tuple[str, ...] = field(default=())


def read_sheet(path: str | Path) -> Sheet:
    """Read a .csv, .xlsx or .xls file.

    Raises:
        ReadError: The file is missing or unreadable, is not CSV or Excel, is
            empty, is in an encoding other than UTF-8 or GBK/GB18030, passes a
            limit, or no sheet has a heading row with the required columns.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise IsADirectoryError
        if size > limits.MAX_FILE_BYTES:
            raise ReadError(
                _l(
                    "%(file)s: the file is larger than %(mb)d MB; split it by village and import each part",
                    file=path.name,
                    mb=limits.MAX_FILE_BYTES // (1024 * 1024),
                )
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReadError(_l("%(file)s: no such file", file=str(path))) from None
    except IsADirectoryError:
        raise ReadError(_l("%(file)s: is a directory, not a file", file=str(path))) from None
    except OSError as exc:
        raise ReadError(
            _l("%(file)s: cannot read the file (%(reason)s)", file=str(path), reason=exc.strerror or str(exc))
        ) from None
    return read_bytes(data, path.name)


def read_bytes(data: bytes, filename: str) -> Sheet:
    """Read an uploaded file's contents; the contents, then ``filename``, decide the format.

    Raises:
        ReadError: As for :func:`read_sheet`.
    """
    suffix = Path(filename).suffix.lower()
    if not data:
        raise ReadError(_l("%(file)s: the file is empty", file=filename))
    deadline = Deadline(filename, limits.MAX_SECONDS)
    # Content beats the name: a workbook saved as "名单.csv" is still a workbook.
    if data.startswith(_OLE_MAGIC) or (suffix == ".xls" and not data.startswith(_ZIP_MAGIC)):
        from hotline.directory.xls import read_xls

        return _first_sheet_with_headings(read_xls(data, filename, deadline), deadline)
    if data.startswith(_ZIP_MAGIC) and suffix in _SUFFIXES:
        from hotline.directory.xlsx import read_xlsx

        return _first_sheet_with_headings(read_xlsx(data, filename, deadline), deadline)
    if suffix in {".xlsx", ".xlsm"}:
        raise ReadError(
            _l("%(file)s: not a valid Excel .xlsx workbook; open it in Excel or WPS and save it again", file=filename)
        )
    if suffix in {".csv", ".txt"}:
        return _read_csv(data, filename, deadline)
    raise ReadError(
        _l(
            "%(file)s: unsupported file type %(suffix)s; use .csv or .xlsx (or .xls)",
            file=filename,
            suffix=f"'{suffix}'" if suffix else _l("(no extension)"),
        )
    )


def _first_sheet_with_headings(sheets: Iterator[WorkbookSheet] | list[WorkbookSheet], deadline: Deadline) -> Sheet:
    """The first sheet (the active one first) with a full heading row.

    Raises:
        ReadError: No sheet has one (the error of the sheet that came
            closest), or a limit was passed.
    """
    filename = deadline.filename
    listed = list(sheets)
    best: _NoHeading | None = None
    for index, sheet in enumerate(listed):
        try:
            found = _build_sheet(_bounded(sheet.rows(), deadline), filename)
        except _NoHeading as missing:
            # Without its traceback the error no longer holds the sheet's rows, which are let go now.
            missing.__traceback__ = None
            if best is None or missing.matches > best.matches:
                best = missing
            continue
        others = tuple(other.name for position, other in enumerate(listed) if position != index)
        return Sheet(
            header_row=found.header_row,
            columns=found.columns,
            rows=found.rows,
            ignored_headings=found.ignored_headings,
            sheet_name=sheet.name,
            sheet_count=len(listed),
            other_sheets=others,
        )
    if best is None:
        raise ReadError(_l("%(file)s: the workbook has no sheets", file=filename))
    if len(listed) > 1:
        raise ReadError(
            _l(
                "%(error)s (looked at every sheet: %(sheets)s)",
                error=best.text,
                sheets=[sheet.name for sheet in listed],
            )
        )
    raise ReadError(best.text)


def _bounded(rows: Rows, deadline: Deadline) -> Iterator[tuple[int, list[str]]]:
    """Rows cut to :data:`limits.MAX_COLUMNS` cells, checked against the row, cell and time limits."""
    filename = deadline.filename
    for count, (number, cells) in enumerate(rows):
        if count % 256 == 0:
            deadline.check()
        cells = cells[: limits.MAX_COLUMNS]
        if number > limits.MAX_ROWS and any(clean_text(cell) for cell in cells):
            raise ReadError(
                _l(
                    "%(file)s: the sheet has more than %(rows)d rows; split it by village and import each part",
                    file=filename,
                    rows=limits.MAX_ROWS,
                )
            )
        for position, cell in enumerate(cells):
            if len(cell) > limits.MAX_CELL_CHARS:
                raise ReadError(
                    _l(
                        "%(file)s: row %(row)d, column %(column)d holds %(length)d characters, more than the "
                        "%(limit)d a cell may hold; shorten it",
                        file=filename,
                        row=number,
                        column=position + 1,
                        length=len(cell),
                        limit=limits.MAX_CELL_CHARS,
                    )
                )
        yield number, cells


def _decode(data: bytes, filename: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ReadError(_l("%(file)s: the file claims UTF-16 but is not valid UTF-16", file=filename)) from None
    if b"\x00" in data:
        raise ReadError(_l("%(file)s: not a text file; give a CSV or Excel file", file=filename))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312, what Chinese Excel writes.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ReadError(
            _l(
                "%(file)s: the text is neither UTF-8 nor GBK/GB18030; save it as 'CSV UTF-8' and try again",
                file=filename,
            )
        ) from None


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: first.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_csv(data: bytes, filename: str, deadline: Deadline) -> Sheet:
    text = _decode(data, filename)
    del data
    if not text.strip():
        raise ReadError(_l("%(file)s: the file is empty", file=filename))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            # A cell hotline's own export escaped (a name starting with "=") reads back as it was.
            for number, row in enumerate(reader, start=1):
                yield number, [unescape_cell(cell) for cell in row]
        except csv.Error as exc:
            text = _l("%(file)s: not a readable CSV file (%(reason)s)", file=filename, reason=str(exc))
            raise ReadError(text) from None

    try:
        return _build_sheet(_bounded(rows(), deadline), filename)
    except _NoHeading as missing:
        raise ReadError(missing.text) from None


def _is_blank(cells: Iterable[str]) -> bool:
    return not any(clean_text(cell) for cell in cells)


def _find_header(rows: Iterator[tuple[int, list[str]]], filename: str) -> tuple[int, Header]:
    """Consume ``rows`` up to and including the heading row.

    Raises:
        _NoHeading: None of the first non-blank rows has every required column.
        ReadError: The heading row names one column twice.
    """
    best: tuple[int, Header] | None = None
    looked = 0
    for number, cells in rows:
        if _is_blank(cells):
            continue
        looked += 1
        try:
            header = read_header(cells)
        except HeaderError as exc:
            raise ReadError(_l("%(file)s: row %(row)d: %(error)s", file=filename, row=number, error=exc.text)) from None
        if not header.missing():
            return number, header
        if best is None or header.matches() > best[1].matches():
            best = (number, header)
        if looked >= _HEADER_SEARCH_ROWS:
            break
    if best is None:
        raise _NoHeading(_l("%(file)s: the file has no rows", file=filename), -1)
    number, header = best
    if header.matches() == 0:
        expected = [column.localised for column in REQUIRED_COLUMNS]
        raise _NoHeading(
            _l("%(file)s: no heading row found; expected columns %(expected)s", file=filename, expected=expected), 0
        )
    message = missing_columns_message(header.missing(), header.ignored)
    raise _NoHeading(_l("%(file)s: row %(row)d: %(error)s", file=filename, row=number, error=message), header.matches())


def _build_sheet(rows: Iterable[tuple[int, list[str]]], filename: str) -> Sheet:
    remaining = iter(rows)
    header_row, header = _find_header(remaining, filename)
    positions = header.positions
    data_rows = []
    for number, cells in remaining:
        values = {column: cells[index] if index < len(cells) else "" for column, index in positions.items()}
        if _is_blank(values.values()):
            continue
        data_rows.append(SheetRow(number=number, cells=values))
    return Sheet(
        header_row=header_row,
        columns=frozenset(positions),
        rows=data_rows,
        ignored_headings=header.ignored,
    )
