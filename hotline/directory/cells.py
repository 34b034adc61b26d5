"""What every sheet reader shares: its error, its deadline, how it hands over a workbook's sheets, cells as text."""

from __future__ import annotations

import time as clocks
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from hotline.directory.wording import TextError, _l

Rows = Iterable[tuple[int, list[str]]]


class ReadError(TextError):
    """The file cannot be read as a directory sheet; ``text`` says why and what to do."""


@dataclass(frozen=True)
class Deadline:
    """When reading ``filename`` is abandoned: ``seconds`` after it began, by ``clock`` (a test may give its own).

    Every loop that does work per row, per cell or per merged range checks it.
    """

    filename: str
    seconds: float
    clock: Callable[[], float] = field(default=clocks.monotonic)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", self.clock() + self.seconds)

    def check(self) -> None:
        """Go on reading, or stop.

        Raises:
            ReadError: The deadline has passed.
        """
        if self.clock() > self.at:
            raise ReadError(
                _l(
                    "%(file)s: reading the file took longer than %(seconds)d seconds; "
                    "save it again as a plain .xlsx or CSV file with only the members' rows",
                    file=self.filename,
                    seconds=self.seconds,
                )
            )


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
