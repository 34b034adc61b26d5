"""Merged cells: each cell a merged range covers shows the range's value.

A sheet may list any number of merged ranges, overlapping or not, and filling
them costs a step per cell covered; so a sheet's ranges are collected within
:data:`~hotline.directory.limits.MAX_MERGED_RANGES` and
:data:`~hotline.directory.limits.MAX_MERGED_CELLS`, and filling them watches
the reading's deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from hotline.directory import limits
from hotline.directory.cells import Deadline, ReadError
from hotline.directory.wording import _l, quoted

# Cells filled between two looks at the clock.
_CHECK_EVERY = 16_384


@dataclass(frozen=True, slots=True)
class MergedRange:
    """Rows and columns (1-based, inclusive) of one merged range, e.g. B4:B13."""

    first_row: int
    first_column: int
    last_row: int
    last_column: int

    @classmethod
    def between(cls, row: int, column: int, other_row: int, other_column: int) -> MergedRange:
        """The range with these two corners, given in either order (``B13:B4`` is ``B4:B13``)."""
        return cls(min(row, other_row), min(column, other_column), max(row, other_row), max(column, other_column))

    def cells_read(self) -> int:
        """How many of the range's cells lie within the rows and columns a sheet is read to."""
        rows = min(self.last_row, limits.MAX_ROWS) - self.first_row + 1
        columns = min(self.last_column, limits.MAX_COLUMNS) - self.first_column + 1
        return max(rows, 0) * max(columns, 0)


class MergedRanges:
    """A sheet's merged ranges, collected as a reader finds them, within the limits."""

    def __init__(self, filename: str, sheet: str) -> None:
        self.filename = filename
        self.sheet = sheet
        self.ranges: list[MergedRange] = []
        self.cells = 0

    def add(self, merged: MergedRange) -> None:
        """Take one more range.

        Raises:
            ReadError: The sheet has more ranges than the limit, or they cover more cells.
        """
        self.ranges.append(merged)
        self.cells += merged.cells_read()
        if len(self.ranges) > limits.MAX_MERGED_RANGES:
            raise ReadError(
                _l(
                    "%(file)s: sheet %(sheet)s has more than %(limit)d merged ranges; "
                    "unmerge them and fill in the values",
                    file=self.filename,
                    sheet=quoted(self.sheet),
                    limit=limits.MAX_MERGED_RANGES,
                )
            )
        if self.cells > limits.MAX_MERGED_CELLS:
            raise ReadError(
                _l(
                    "%(file)s: the merged ranges of sheet %(sheet)s cover more than %(limit)d cells together, "
                    "so some are merged over others; unmerge them and fill in the values",
                    file=self.filename,
                    sheet=quoted(self.sheet),
                    limit=limits.MAX_MERGED_CELLS,
                )
            )


def fill_merged(
    rows: Iterable[tuple[int, list[str]]], ranges: Sequence[MergedRange], max_columns: int, deadline: Deadline
) -> Iterator[tuple[int, list[str]]]:
    """``rows`` with every cell of a merged range holding the range's top-left value.

    Rows must come in ascending order, as a sheet gives them; columns past
    ``max_columns`` are not filled.

    Raises:
        ReadError: ``deadline`` passed while filling.
    """
    starting: dict[int, list[MergedRange]] = {}
    for merged in ranges:
        if merged.first_column <= max_columns and merged.first_row <= merged.last_row:
            starting.setdefault(merged.first_row, []).append(merged)
    if not starting:
        yield from rows
        return
    open_ranges: list[tuple[MergedRange, str]] = []
    work = 0
    for number, cells in rows:
        work += len(open_ranges)
        open_ranges = [(merged, value) for merged, value in open_ranges if merged.last_row >= number]
        for merged in starting.pop(number, ()):
            index = merged.first_column - 1
            open_ranges.append((merged, cells[index] if index < len(cells) else ""))
        if open_ranges:
            cells = list(cells)
            for merged, value in open_ranges:
                last = min(merged.last_column, max_columns)
                if len(cells) < last:
                    cells.extend([""] * (last - len(cells)))
                for index in range(merged.first_column - 1, last):
                    if not cells[index]:
                        cells[index] = value
                work += max(last - merged.first_column, 0) + 2
                if work >= _CHECK_EVERY:
                    deadline.check()
                    work = 0
        yield number, cells
