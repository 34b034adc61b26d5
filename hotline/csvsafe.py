"""One rule for every CSV cell hotline writes: text never runs as a formula.

Excel, WPS and LibreOffice run a cell starting with ``=``, ``+``, ``-`` or
``@`` (and, after a tab or carriage return, whatever follows) as a formula,
so a name like ``=HYPERLINK("http://…","点击")`` in a directory or a note
would become a live link or worse when the file is opened. Such a cell is
written with a leading apostrophe, which the spreadsheet shows as text.

A phone number in international form (``+8613800138000``,
``+44 20 7946 0958``) is left as it is: it holds only digits, spaces and
dashes after its plus, so it can call no function and refer to no cell, and
an apostrophe would only make it harder to read and to import again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
_PHONE = re.compile(r"\+\d[\d \-]{5,}")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet should read it; numbers and other non-text pass through."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _PHONE.fullmatch(value):
        return value
    return ESCAPE + value


def unescape_cell(value: str) -> str:
    """A cell as it was before :func:`safe_cell`: a file hotline exported reads back unchanged."""
    if value.startswith(ESCAPE) and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` passed through :func:`safe_cell`."""
    return [safe_cell(value) for value in row]


def write_rows(handle: Any, rows: Iterable[Iterable[Any]]) -> None:
    """Write ``rows`` to the text stream ``handle`` as CSV, every cell made safe."""
    csv.writer(handle).writerows(safe_row(row) for row in rows)


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """``rows`` as CSV in UTF-8 with a byte-order mark, so Excel shows Chinese correctly."""
    buffer = io.StringIO(newline="")
    write_rows(buffer, rows)
    return buffer.getvalue().encode("utf-8-sig")
