"""Read a station spreadsheet (CSV or Excel .xlsx) into rows of text cells.

Nothing here judges the contents; it only finds the heading row, maps the
headings to columns and numbers each row as the spreadsheet shows it.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from hotline.directory.columns import (
    REQUIRED_COLUMNS,
    Column,
    Header,
    HeaderError,
    clean_text,
    missing_columns_message,
    read_header,
)

# A title such as "XX村联防小组名单" often sits above the headings.
_HEADER_SEARCH_ROWS = 10
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls container


class ReadError(ValueError):
    """The file cannot be read as a directory sheet; the message says why."""


@dataclass(frozen=True)
class SheetRow:
    """One data row: its number as the spreadsheet shows it, and its cells."""

    number: int
    cells: dict[Column, str]

    def get(self, column: Column) -> str:
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Sheet:
    """The data rows under a recognised heading row."""

    header_row: int
    columns: frozenset[Column]
    rows: list[SheetRow]
    ignored_headings: tuple[str, ...] = ()


def read_sheet(path: str | Path) -> Sheet:
    """Read a .csv or .xlsx file.

    Raises:
        ReadError: The file is missing or unreadable, is not CSV or .xlsx, is
            empty, is in an encoding other than UTF-8 or GBK/GB18030, or has no
            heading row with the required columns.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReadError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return read_bytes(data, path.name)


def read_bytes(data: bytes, filename: str) -> Sheet:
    """Read an uploaded file's contents; ``filename`` decides the format.

    Raises:
        ReadError: As for :func:`read_sheet`.
    """
    suffix = Path(filename).suffix.lower()
    if not data:
        raise ReadError(f"{filename}: the file is empty")
    if data.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise ReadError(f"{filename}: old Excel .xls files are not supported; save it as .xlsx or CSV")
    # Content beats the name: a workbook saved as "名单.csv" is still a workbook.
    if data.startswith(_ZIP_MAGIC) and suffix in {".xlsx", ".xlsm", ".csv", ".txt"}:
        return _read_xlsx(data, filename)
    if suffix in {".xlsx", ".xlsm"}:
        raise ReadError(f"{filename}: not a valid Excel .xlsx workbook")
    if suffix in {".csv", ".txt"}:
        return _read_csv(data, filename)
    raise ReadError(f"{filename}: unsupported file type {suffix or '(no extension)'!r}; use .csv or .xlsx")


def _decode(data: bytes, filename: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ReadError(f"{filename}: the file claims UTF-16 but is not valid UTF-16") from None
    if b"\x00" in data:
        raise ReadError(f"{filename}: not a text file; give a CSV or .xlsx file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312, what Chinese Excel writes.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ReadError(
            f"{filename}: the text is neither UTF-8 nor GBK/GB18030; save it as 'CSV UTF-8' and try again"
        ) from None


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: first.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_csv(data: bytes, filename: str) -> Sheet:
    text = _decode(data, filename)
    if not text.strip():
        raise ReadError(f"{filename}: the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        rows = [(number, row) for number, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise ReadError(f"{filename}: not a readable CSV file ({exc})") from None
    return _build_sheet(rows, filename)


def _read_xlsx(data: bytes, filename: str) -> Sheet:
    # Imported here: openpyxl is slow to import and CSV users never need it.
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError(f"{filename}: not a valid Excel .xlsx workbook ({exc})") from None
    except Exception as exc:  # openpyxl raises assorted errors on damaged workbooks
        raise ReadError(f"{filename}: cannot read the workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = workbook.active or workbook.worksheets[0]
        # Some writers record a wrong sheet size; without this, columns get cut off.
        sheet.reset_dimensions()
        rows = [
            (number, [_cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    except ReadError:
        raise
    except Exception as exc:  # a damaged sheet part surfaces only while iterating
        raise ReadError(f"{filename}: cannot read the workbook ({type(exc).__name__}: {exc})") from None
    finally:
        workbook.close()
    return _build_sheet(rows, filename)


def _cell_text(value: object) -> str:
    """A cell as text; numbers stored as floats lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _is_blank(cells: Sequence[str]) -> bool:
    return not any(clean_text(cell) for cell in cells)


def _find_header(rows: Sequence[tuple[int, list[str]]], filename: str) -> tuple[int, Header]:
    best: tuple[int, Header] | None = None
    candidates = (item for item in rows if not _is_blank(item[1]))
    for number, cells in _first(candidates, _HEADER_SEARCH_ROWS):
        try:
            header = read_header(cells)
        except HeaderError as exc:
            raise ReadError(f"{filename}: row {number}: {exc}") from None
        if not header.missing():
            return number, header
        if best is None or header.matches() > best[1].matches():
            best = (number, header)
    if best is None:
        raise ReadError(f"{filename}: the file has no rows")
    number, header = best
    if header.matches() == 0:
        expected = ", ".join(column.label for column in REQUIRED_COLUMNS)
        raise ReadError(f"{filename}: no heading row found; expected columns {expected}")
    raise ReadError(f"{filename}: row {number}: {missing_columns_message(header.missing())}")


def _first(items: Iterable[tuple[int, list[str]]], count: int) -> Iterator[tuple[int, list[str]]]:
    for index, item in enumerate(items):
        if index >= count:
            return
        yield item


def _build_sheet(rows: Sequence[tuple[int, list[str]]], filename: str) -> Sheet:
    header_row, header = _find_header(rows, filename)
    positions = header.positions
    data_rows = []
    for number, cells in rows:
        if number <= header_row:
            continue
        values = {column: cells[index] if index < len(cells) else "" for column, index in positions.items()}
        if _is_blank(list(values.values())):
            continue
        data_rows.append(SheetRow(number=number, cells=values))
    return Sheet(
        header_row=header_row,
        columns=frozenset(positions),
        rows=data_rows,
        ignored_headings=header.ignored,
    )
