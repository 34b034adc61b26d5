"""Old Excel .xls workbooks (what WPS and Excel before 2007 save), read with xlrd.

xlrd builds what it reads whole: the workbook's lists (texts, formats,
names) when it is opened, a sheet's cells, comments and hyperlinks when the
sheet is loaded. So the records it would read are first walked without
building anything, and a workbook or sheet past a limit is refused before
xlrd builds a thing of it: a 2 MB file with a cell in the 256th column of
each of its 65,536 rows would otherwise cost some 200 MB, and a 6 KB one with
a hyperlink over a whole sheet gigabytes. A sheet may hold something only
within :data:`~hotline.directory.limits.MAX_ROWS` rows and
:data:`~hotline.directory.limits.MAX_COLUMNS` columns; what xlrd loads of it
is then each row only as wide as its rightmost cell holding something
("ragged"), without the blank cells that only carry formatting
(``formatting_info`` off), and its merged ranges come from the walk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hotline.directory import limits
from hotline.directory.cells import Deadline, ReadError, WorkbookSheet, cell_text
from hotline.directory.merged import MergedRange, MergedRanges, fill_merged
from hotline.directory.wording import _l, quoted

# BIFF record types (the [MS-XLS] specification, and xlrd's biffh module).
_BOF = frozenset({0x0809, 0x0409, 0x0209, 0x0009})
_EOF = 0x000A
_SST = 0x00FC
_EXTERNSHEET = 0x0017
_MERGEDCELLS = 0x00E5
_WINDOW2 = 0x023E
_HLINK = 0x01B8
_LABELRANGES = 0x015F
_MULRK = 0x00BD  # numbers in consecutive cells: row, first column, ..., last column
# One cell holding something, its row and column in the record's first four bytes:
# NUMBER, RK, LABELSST, LABEL, RSTRING, BOOLERR and the three FORMULA codes.
_CELL = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x00D6, 0x0205, 0x0006, 0x0206, 0x0406})
# BIFF2 to 4 (version 45 or less) also has INTEGER, NUMBER, LABEL and BOOLERR records of its own.
_CELL_BIFF2 = _CELL | {0x0002, 0x0003, 0x0004, 0x0005}
# Records xlrd keeps an object for, with ``formatting_info`` off: FORMAT (two codes), XF (four),
# NAME, EXTERNNAME, SUPBOOK and BOUNDSHEET in the workbook; NOTE and TXO (comments) in a sheet.
_KEPT = frozenset({0x041E, 0x001E, 0x00E0, 0x0043, 0x0243, 0x0443, 0x0018, 0x0023, 0x01AE, 0x0085, 0x001C, 0x01B6})
# Records walked between two looks at the clock.
_CHECK_EVERY = 4096
_HEADER = struct.Struct("<HH")
_RANGE = struct.Struct("<HHHH")
_COUNT = struct.Struct("<H")


def read_xls(data: bytes, filename: str, deadline: Deadline) -> list[WorkbookSheet]:
    """The workbook's sheets, the active one first, each read lazily.

    Raises:
        ReadError: The file is not an .xls workbook or is damaged (or is
            encrypted, which xlrd cannot open), passes a limit, or the deadline passed.
    """
    import xlrd

    try:
        _check_workbook(data, deadline)
        # on_demand: no sheet is loaded before it is read, and each is let go after.
        book = xlrd.open_workbook(file_contents=data, on_demand=True, ragged_rows=True)
        names = book.sheet_names()
        shown = [_walk_sheet(book, index, deadline, None) for index in range(book.nsheets)]
    except ReadError:
        raise
    except Exception:  # xlrd raises assorted errors on damaged or encrypted files
        raise _damaged(filename) from None
    active = shown.index(True) if True in shown else 0
    order = [active, *(index for index in range(len(names)) if index != active)]
    return [
        WorkbookSheet(
            name=names[index],
            rows=lambda index=index: _rows(book, index, names[index], deadline),  # type: ignore[misc]
        )
        for index in order
    ]


def _records(mem: bytes, position: int, deadline: Deadline, *, charts: bool) -> Iterator[tuple[int, int, int]]:
    """The records of the substream whose BOF record is at ``position``, up to its EOF record.

    Each is given as (type, offset of its data, length). With ``charts``, a
    chart within the substream is left out (xlrd skips a sheet's charts, from
    their BOF to the next EOF); without, every record up to the first EOF is
    given (as xlrd reads the workbook's own records).

    Raises:
        ReadError: The deadline passed.
        ValueError: No BOF record at ``position``, or the records run past the end of the file.
    """
    end = len(mem)
    count = 0
    in_chart = False
    while True:
        if position + 4 > end:
            raise ValueError("the records run past the end of the file")
        code, length = _HEADER.unpack_from(mem, position)
        start = position + 4
        position = start + length
        if position > end:
            raise ValueError("the records run past the end of the file")
        if count == 0 and code not in _BOF:
            raise ValueError("no BOF record where the substream starts")
        count += 1
        if count % _CHECK_EVERY == 0:
            deadline.check()
        if count == 1:
            continue
        if code == _EOF:
            if not in_chart:
                return
            in_chart = False
        elif in_chart:
            continue
        elif charts and code in _BOF:
            in_chart = True
        else:
            yield code, start, length


def _check_workbook(data: bytes, deadline: Deadline) -> None:
    """Walk the workbook's own records (before the sheets) as xlrd would read them on opening.

    Raises:
        ReadError: The workbook has more texts or other objects than the limits, or the deadline passed.
        Exception: The file is damaged.
    """
    from xlrd import compdoc

    mem, base = data, 0
    if data.startswith(compdoc.SIGNATURE):
        document = compdoc.CompDoc(data, logfile=_Quiet())
        for name in ("Workbook", "Book"):
            mem, base, _size = document.locate_named_stream(name)
            if mem:
                break
        else:
            raise ValueError("no workbook in the file")
    strings = objects = 0
    for code, start, length in _records(mem, base, deadline, charts=False):
        if code == _SST and length >= 8:
            strings += max(struct.unpack_from("<i", mem, start + 4)[0], 0)
        elif code == _EXTERNSHEET and length >= 2:
            objects += _COUNT.unpack_from(mem, start)[0]
        elif code in _KEPT:
            objects += 1
    filename = deadline.filename
    if strings > limits.MAX_XLS_STRINGS:
        raise ReadError(
            _l(
                "%(file)s: the workbook holds more than %(limit)d different texts; "
                "split it by village and import each part",
                file=filename,
                limit=limits.MAX_XLS_STRINGS,
            )
        )
    if objects > limits.MAX_XLS_OBJECTS:
        raise ReadError(
            _l(
                "%(file)s: the workbook lists more than %(limit)d cell formats, names and links to other files, "
                "far more than a directory needs; copy only the members' rows into a new workbook and save that",
                file=filename,
                limit=limits.MAX_XLS_OBJECTS,
            )
        )


def _walk_sheet(book: Any, index: int, deadline: Deadline, checked: MergedRanges | None) -> bool:
    """Whether sheet ``index`` is the one on screen when the workbook is opened.

    With ``checked`` given, check the sheet against the limits and collect its merged ranges there.

    Raises:
        ReadError: Something in the sheet lies past the rows or columns a
            directory may use, its merged ranges or other objects pass their
            limits, or the deadline passed.
        ValueError: The sheet's records are damaged.
    """
    mem: bytes = book.mem
    # Where the sheet's BOF record is; xlrd keeps it from the workbook's list of sheets.
    position: int = book._sh_abs_posn[index]
    cell_codes = _CELL_BIFF2 if book.biff_version <= 45 else _CELL
    shown = False
    objects = 0
    for code, start, length in _records(mem, position, deadline, charts=True):
        if code == _WINDOW2 and length >= 2:
            # Bit 10 of its options: the sheet is on screen (what xlrd calls ``sheet_visible``).
            shown = bool(_COUNT.unpack_from(mem, start)[0] & 0x0400)
        elif checked is None or length < 4:
            continue
        elif code in cell_codes:
            row, column = _HEADER.unpack_from(mem, start)
            _check_cell(checked, row, column)
        elif code == _MULRK and length >= 6:
            row, _first = _HEADER.unpack_from(mem, start)
            _check_cell(checked, row, _COUNT.unpack_from(mem, start + length - 2)[0])
        elif code == _MERGEDCELLS:
            count = _COUNT.unpack_from(mem, start)[0]
            for offset in range(start + 2, min(start + 2 + 8 * count, start + length - 7), 8):
                first_row, last_row, first_column, last_column = _RANGE.unpack_from(mem, offset)
                checked.add(MergedRange.between(first_row + 1, first_column + 1, last_row + 1, last_column + 1))
        else:
            objects += _objects_kept(mem, code, start, length)
            if objects > limits.MAX_XLS_OBJECTS:
                raise ReadError(
                    _l(
                        "%(file)s: sheet %(sheet)s has more than %(limit)d comments, hyperlinks and label ranges "
                        "(counting each cell a hyperlink covers); remove them, or copy only the members' rows into "
                        "a new workbook and save that",
                        file=checked.filename,
                        sheet=quoted(checked.sheet),
                        limit=limits.MAX_XLS_OBJECTS,
                    )
                )
    return shown


def _objects_kept(mem: bytes, code: int, start: int, length: int) -> int:
    """How many objects xlrd keeps for a sheet's record."""
    if code == _HLINK and length >= 8:
        # The link, and an entry for each cell it covers.
        first_row, last_row, first_column, last_column = _RANGE.unpack_from(mem, start)
        return 1 + max(last_row - first_row + 1, 0) * max(last_column - first_column + 1, 0)
    if code == _LABELRANGES:
        return length // 8
    return 1 if code in _KEPT else 0


def _check_cell(checked: MergedRanges, row: int, column: int) -> None:
    """Refuse a cell holding something (``row`` and ``column`` 0-based) past the rows or columns a directory may use.

    Raises:
        ReadError: It lies there.
    """
    if row >= limits.MAX_ROWS:
        raise ReadError(
            _l(
                "%(file)s: sheet %(sheet)s has more than %(rows)d rows; split it by village and import each part",
                file=checked.filename,
                sheet=quoted(checked.sheet),
                rows=limits.MAX_ROWS,
            )
        )
    if column >= limits.MAX_COLUMNS:
        raise ReadError(
            _l(
                "%(file)s: sheet %(sheet)s has something in column %(column)d of row %(row)d, past the %(limit)d "
                "columns a directory may use; delete the columns to the right of the members' details and save again",
                file=checked.filename,
                sheet=quoted(checked.sheet),
                column=column + 1,
                row=row + 1,
                limit=limits.MAX_COLUMNS,
            )
        )


def _rows(book: Any, index: int, name: str, deadline: Deadline) -> Iterator[tuple[int, list[str]]]:
    import xlrd

    filename = deadline.filename
    try:
        merged = MergedRanges(filename, name)
        _walk_sheet(book, index, deadline, merged)
        sheet = book.sheet_by_index(index)
    except ReadError:
        raise
    except Exception:
        raise _damaged(filename) from None
    try:

        def values() -> Iterator[tuple[int, list[str]]]:
            for row in range(sheet.nrows):
                width = min(sheet.row_len(row), limits.MAX_COLUMNS)
                cells = []
                for ctype, value in zip(sheet.row_types(row, 0, width), sheet.row_values(row, 0, width), strict=True):
                    if ctype == xlrd.XL_CELL_DATE:
                        # A date as the sheet shows it: a wall-clock date, in no time zone.
                        moment = datetime(*xlrd.xldate_as_tuple(value, book.datemode))  # noqa: DTZ001
                        cells.append(cell_text(moment))
                    else:
                        cells.append(cell_text(value if ctype != xlrd.XL_CELL_EMPTY else None))
                yield row + 1, cells

        yield from fill_merged(values(), merged.ranges, limits.MAX_COLUMNS, deadline)
    except ReadError:
        raise
    except Exception:
        raise _damaged(filename) from None
    finally:
        book.unload_sheet(index)


class _Quiet:
    """Where xlrd's compound-document reader writes its warnings about odd files: nowhere."""

    def write(self, text: str) -> None:
        pass


def _damaged(filename: str) -> ReadError:
    return ReadError(
        _l(
            "%(file)s: not a readable old Excel .xls workbook (damaged, or protected by a password); "
            "open it in Excel or WPS and save it as .xlsx",
            file=filename,
        )
    )
