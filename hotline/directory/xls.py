"""Old Excel .xls workbooks (what WPS and Excel before 2007 save), read with xlrd.

An .xls file is at most 65,536 rows by 256 columns and is not compressed, so
what it holds is bounded by its size; rows are still read one at a time and
at most :data:`~hotline.directory.limits.MAX_COLUMNS` wide.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hotline.directory import limits
from hotline.directory.cells import ReadError, WorkbookSheet, cell_text
from hotline.directory.merged import MergedRange, fill_merged
from hotline.directory.wording import _l


def read_xls(data: bytes, filename: str, deadline: float) -> list[WorkbookSheet]:
    """The workbook's sheets, the active one first, each read lazily.

    Raises:
        ReadError: The file is not an .xls workbook or is damaged (or is
            encrypted, which xlrd cannot open).
    """
    import xlrd

    try:
        # formatting_info is what makes xlrd report merged cells.
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
        names = book.sheet_names()
        active = next((index for index in range(book.nsheets) if book.sheet_by_index(index).sheet_visible), 0)
        order = [active, *(index for index in range(len(names)) if index != active)]
    except Exception:  # xlrd raises assorted errors on damaged or encrypted files
        raise _damaged(filename) from None
    return [
        WorkbookSheet(name=names[index], rows=lambda index=index: _rows(book, index, filename))  # type: ignore[misc]
        for index in order
    ]


def _rows(book: Any, index: int, filename: str) -> Iterator[tuple[int, list[str]]]:
    import xlrd

    try:
        sheet = book.sheet_by_index(index)
        width = min(sheet.ncols, limits.MAX_COLUMNS)
        ranges = [
            MergedRange(first_row + 1, first_column + 1, last_row, last_column)
            for first_row, last_row, first_column, last_column in sheet.merged_cells
        ]

        def values() -> Iterator[tuple[int, list[str]]]:
            for row in range(sheet.nrows):
                cells = []
                for column in range(width):
                    cell = sheet.cell(row, column)
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        # A date as the sheet shows it: a wall-clock date, in no time zone.
                        moment = datetime(*xlrd.xldate_as_tuple(cell.value, book.datemode))  # noqa: DTZ001
                        cells.append(cell_text(moment))
                    else:
                        cells.append(cell_text(cell.value if cell.ctype != xlrd.XL_CELL_EMPTY else None))
                yield row + 1, cells

        yield from fill_merged(values(), ranges, limits.MAX_COLUMNS)
    except ReadError:
        raise
    except Exception:
        raise _damaged(filename) from None


def _damaged(filename: str) -> ReadError:
    return ReadError(_l(
        "%(file)s: not a readable old Excel .xls workbook (damaged, or protected by a password); "
        "open it in Excel or WPS and save it as .xlsx",
        file=filename,
    ))
