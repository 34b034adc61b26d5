"""What every sheet reader shares: its error, how it hands over a workbook's sheets, cells as text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from hotline.directory.wording import Text

Rows = Iterable[tuple[int, list[str]]]


class ReadError(ValueError):
    """The file cannot be read as a directory sheet; ``text`` says why and what to do.

    ``str()`` gives the English text; :meth:`render` the reader's language.
    """

    def __init__(self, text: Text) -> None:
        super().__init__(str(text))
        self.text = text

    def render(self, language: str) -> str:
        return self.text.render(language)


@dataclass
class WorkbookSheet:
    """One sheet of a workbook, as the workbook readers hand it over."""

    name: str
    rows: Callable[[], Rows]


def cell_text(value: object) -> str:
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
