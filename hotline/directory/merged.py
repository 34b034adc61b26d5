"""Merged cells: each cell a merged range covers shows the range's value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MergedRange:
    """Rows and columns (1-based, inclusive) of one merged range, e.g. B4:B13."""

    first_row: int
    first_column: int
    last_row: int
    last_column: int


def fill_merged(
    rows: Iterable[tuple[int, list[str]]], ranges: Sequence[MergedRange], max_columns: int
) -> Iterator[tuple[int, list[str]]]:
    """``rows`` with every cell of a merged range holding the range's top-left value.

    Rows must come in ascending order, as a sheet gives them; columns past
    ``max_columns`` are not filled.
    """
    starting: dict[int, list[MergedRange]] = {}
    for merged in ranges:
        if merged.first_column <= max_columns:
            starting.setdefault(merged.first_row, []).append(merged)
    if not starting:
        yield from rows
        return
    open_ranges: list[tuple[MergedRange, str]] = []
    for number, cells in rows:
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
        yield number, cells
