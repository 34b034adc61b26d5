"""Excel .xlsx workbooks, read one row at a time after their zip is checked.

openpyxl's read-only mode streams a sheet's rows, but it loads the shared
strings (every distinct text of the workbook) whole before the first row, and
builds each row as wide as its rightmost cell unless told a width. So the zip
directory is judged first (sizes and compression ratios, which a zip records
before any byte is inflated), and rows are read at most
:data:`~hotline.directory.limits.MAX_COLUMNS` wide.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator

from hotline.directory import limits
from hotline.directory.cells import Deadline, ReadError, Rows, WorkbookSheet, cell_text
from hotline.directory.merged import MergedRange, MergedRanges, fill_merged
from hotline.directory.wording import _l

_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})\"")
_CHUNK = 1024 * 1024


def read_xlsx(data: bytes, filename: str, deadline: Deadline) -> list[WorkbookSheet]:
    """The workbook's sheets, the active one first, each read lazily.

    Raises:
        ReadError: The file is not a workbook, is damaged, or its contents
            would pass a limit once decompressed.
    """
    # Imported here: openpyxl is slow to import and CSV users never need it.
    import openpyxl

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _damaged(filename) from None
    check_archive(archive, filename)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise _damaged(filename) from None
    except Exception:  # openpyxl raises assorted errors on damaged workbooks
        raise _damaged(filename) from None
    try:
        sheets = list(workbook.worksheets)
        active = workbook.active
    except Exception:
        workbook.close()
        raise _damaged(filename) from None
    if active in sheets:
        sheets.remove(active)
        sheets.insert(0, active)
    return [
        WorkbookSheet(
            name=sheet.title,
            rows=lambda sheet=sheet: _rows(archive, sheet, deadline),  # type: ignore[misc]
        )
        for sheet in sheets
        if hasattr(sheet, "reset_dimensions")  # a chart sheet has no cells
    ]


def check_archive(archive: zipfile.ZipFile, filename: str) -> None:
    """Refuse a zip whose entries would decompress to more than the limits allow.

    Raises:
        ReadError: Too many entries, too large in all, shared strings too
            large, or an entry compressed past any spreadsheet's ratio.
    """
    entries = archive.infolist()
    if len(entries) > limits.MAX_ZIP_ENTRIES:
        raise _too_large(filename)
    total = 0
    for entry in entries:
        total += entry.file_size
        # Only worksheets are streamed; every other part (shared strings, styles) is loaded whole.
        streamed = entry.filename.lower().startswith("xl/worksheets/")
        if not streamed and entry.file_size > limits.MAX_SHARED_STRINGS_BYTES:
            raise ReadError(
                _l(
                    "%(file)s: the workbook's text would take %(mb)d MB once unpacked, more than a directory needs; "
                    "copy only the members' rows into a new workbook and save that",
                    file=filename,
                    mb=entry.file_size // (1024 * 1024),
                )
            )
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size >= limits.RATIO_CHECKED_FROM_BYTES and ratio > limits.MAX_COMPRESSION_RATIO:
            raise _too_large(filename)
    if total > limits.MAX_UNCOMPRESSED_BYTES:
        raise _too_large(filename)


def _rows(archive: zipfile.ZipFile, sheet: object, deadline: Deadline) -> Iterator[tuple[int, list[str]]]:
    filename = deadline.filename
    try:
        sheet.reset_dimensions()  # type: ignore[attr-defined]  # writers record wrong sizes; read what is there
        ranges = _merged_ranges(archive, sheet, deadline)
        values: Rows = (
            (number, [cell_text(value) for value in row])
            for number, row in enumerate(
                sheet.iter_rows(values_only=True, max_col=limits.MAX_COLUMNS),  # type: ignore[attr-defined]
                start=1,
            )
        )
        yield from fill_merged(values, ranges, limits.MAX_COLUMNS, deadline)
    except ReadError:
        raise
    except Exception:  # a damaged sheet part surfaces only while iterating
        raise _damaged(filename) from None


def _merged_ranges(archive: zipfile.ZipFile, sheet: object, deadline: Deadline) -> list[MergedRange]:
    """The sheet's merged ranges, found by scanning its XML in chunks.

    Read-only openpyxl does not report them; they sit at the end of the
    sheet, so a scan costs one pass of decompression and no parsing.

    Raises:
        ReadError: The ranges pass a limit (see :class:`MergedRanges`), or the deadline passed.
    """
    path: str = sheet._worksheet_path  # type: ignore[attr-defined]
    found = MergedRanges(deadline.filename, sheet.title)  # type: ignore[attr-defined]
    tail = b""
    with archive.open(path.lstrip("/")) as handle:
        while chunk := handle.read(_CHUNK):
            deadline.check()
            text = tail + chunk
            end = 0
            for match in _MERGE_REF.finditer(text):
                first_column, first_row, last_column, last_row = match.groups()
                found.add(
                    MergedRange.between(
                        int(first_row), _column_number(first_column), int(last_row), _column_number(last_column)
                    )
                )
                end = match.end()
            # A tag cut by the chunk boundary is found with the next chunk.
            tail = text[max(end, len(text) - 200) :]
    return found.ranges


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - ord("A") + 1)
    return number


def _damaged(filename: str) -> ReadError:
    return ReadError(
        _l("%(file)s: not a valid Excel .xlsx workbook; open it in Excel or WPS and save it again", file=filename)
    )


def _too_large(filename: str) -> ReadError:
    return ReadError(
        _l(
            "%(file)s: the workbook unpacks to far more data than a directory holds; "
            "copy only the members' rows into a new workbook and save that",
            file=filename,
        )
    )
