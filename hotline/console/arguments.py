"""Numbers read from what a browser sends: query arguments and ids.

``str.isdigit`` is true of ``"²"`` and ``"٣"``, which ``int`` then refuses
or reads as a number nobody typed, and a number past the database's integer
range makes the query itself fail; both once answered 500. Every number the
console and the API read from a request goes through :func:`whole_number`.
"""

from __future__ import annotations

# Ids are 32-bit integers on PostgreSQL: a larger number can name no row.
MAX_ID = 2**31 - 1


def whole_number(raw: str | None, *, maximum: int = MAX_ID) -> int | None:
    """``raw`` as a whole number from 1 to ``maximum``, written in ASCII digits; else None."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if 1 <= value <= maximum else None
