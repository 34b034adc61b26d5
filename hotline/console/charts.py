"""Bar charts as plain geometry, drawn as inline SVG by ``console/_charts.html``.

Server-side SVG needs no script, no CDN and no network, and prints well.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    show_label: bool


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_bottom: float
    bars: list[Bar]
    ticks: list[Tick]

    @property
    def empty(self) -> bool:
        return not any(bar.value for bar in self.bars)


def nice_top(maximum: int) -> int:
    """A round axis top at or above ``maximum`` (1, 2, 5 × 10ⁿ), at least 1."""
    if maximum <= 1:
        return 1
    power = 10 ** math.floor(math.log10(maximum))
    for step in (1, 2, 5, 10):
        if step * power >= maximum:
            return step * power
    return 10 * power


def bar_chart(
    items: Sequence[tuple[str, int]],
    *,
    width: int = 640,
    height: int = 220,
    max_labels: int = 14,
) -> BarChart:
    """Lay out one bar per ``(label, value)``.

    Args:
        max_labels: With more bars than this, only every n-th label is shown
            so the labels do not overlap.
    """
    left, right, top, bottom = 40, 8, 18, 40
    plot_width = width - left - right
    plot_height = height - top - bottom
    axis_top = nice_top(max((value for _, value in items), default=0))
    slot = plot_width / max(len(items), 1)
    every = max(1, math.ceil(len(items) / max_labels))
    bars = []
    for index, (text, value) in enumerate(items):
        bar_height = plot_height * value / axis_top
        bars.append(
            Bar(
                x=round(left + index * slot + slot * 0.1, 1),
                y=round(top + plot_height - bar_height, 1),
                width=round(slot * 0.8, 1),
                height=round(bar_height, 1),
                label=text,
                value=value,
                show_label=index % every == 0,
            )
        )
    ticks = [
        Tick(y=round(top + plot_height - plot_height * fraction, 1), value=round(axis_top * fraction))
        for fraction in (0, 0.5, 1)
        if axis_top * fraction == int(axis_top * fraction)
    ]
    return BarChart(width=width, height=height, plot_left=left, plot_bottom=top + plot_height, bars=bars, ticks=ticks)
