"""The table the benchmark prints: each figure beside its baseline and target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hotline.console.stats import percentile


@dataclass(frozen=True)
class Figure:
    """One line of the table.

    Attributes:
        name: What was measured.
        value: The measurement, in ``unit``.
        baseline_name: What it is compared with.
        baseline: The baseline's value, in ``unit`` (None: nothing to compare).
        target: The target in words, empty if none.
        met: Whether the target holds (None: no target).
    """

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> str:
        if self.baseline is None or not self.baseline:
            return ""
        return f"{self.value / self.baseline:.2f}×"


def p(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolated; NaN when there are none."""
    found = percentile(list(values), q)
    return float("nan") if found is None else found


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "%":
        return f"{value:.1f} %"
    if unit in ("ms", "s"):
        return f"{value:.0f} ms" if unit == "ms" else f"{value:.2f} s"
    return f"{value:.1f} {unit}".strip()


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (readable in a terminal, pasteable into the README)."""
    header = ["Figure", "Measured", "Baseline", "Baseline value", "Ratio", "Target", "Met"]
    rows = [
        [
            f.name,
            _number(f.value, f.unit),
            f.baseline_name,
            _number(f.baseline, f.unit),
            f.ratio,
            f.target,
            "" if f.met is None else ("yes" if f.met else "NO"),
        ]
        for f in figures
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)])
