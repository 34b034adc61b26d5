"""Station statistics as pure functions over plain facts (no database, no Flask).

Definitions, as stations report them upward:

- acknowledgement rate: incidents that someone accepted / incidents;
- time to first response: the first accepting response minus ``opened_at``,
  over the incidents that have one;
- median and 90th percentile: linear interpolation between the closest
  ranks (what spreadsheets' PERCENTILE and numpy's default compute);
- escalation rate: incidents whose ``escalation_level`` is above 0 / incidents.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

K = TypeVar("K", bound=Hashable)

# Upper bounds (seconds) of the time-to-response buckets; the last is open-ended.
RESPONSE_BUCKETS: tuple[int, ...] = (15, 30, 60, 120, 300)


@dataclass(frozen=True)
class Fact:
    """What statistics need to know about one incident."""

    incident_id: int
    opened_at: datetime
    village_id: int | None
    village: str | None
    group_id: int | None
    group: str | None
    acknowledged: bool
    first_response_seconds: float | None
    escalation_level: int


@dataclass(frozen=True)
class Summary:
    incidents: int
    acknowledged: int
    escalated: int
    median_seconds: float | None
    p90_seconds: float | None

    @property
    def ack_rate(self) -> float | None:
        return self.acknowledged / self.incidents if self.incidents else None

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.incidents if self.incidents else None


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile (0..1) by linear interpolation; None for no values.

    Raises:
        ValueError: ``fraction`` is outside 0..1.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def response_times(facts: Iterable[Fact]) -> list[float]:
    """Seconds to first response of the incidents that had one."""
    return [fact.first_response_seconds for fact in facts if fact.first_response_seconds is not None]


def summarise(facts: Iterable[Fact]) -> Summary:
    facts = list(facts)
    times = response_times(facts)
    return Summary(
        incidents=len(facts),
        acknowledged=sum(1 for fact in facts if fact.acknowledged),
        escalated=sum(1 for fact in facts if fact.escalation_level > 0),
        median_seconds=percentile(times, 0.5),
        p90_seconds=percentile(times, 0.9),
    )


def summarise_by(facts: Iterable[Fact], key: Callable[[Fact], K]) -> dict[K, Summary]:
    """One summary per distinct ``key(fact)``."""
    grouped: dict[K, list[Fact]] = defaultdict(list)
    for fact in facts:
        grouped[key(fact)].append(fact)
    return {value: summarise(members) for value, members in grouped.items()}


@dataclass(frozen=True)
class Bucket:
    """Incidents whose first response took ``lower`` ≤ seconds < ``upper``.

    ``upper`` None is open-ended; ``lower`` None is the bucket of incidents
    nobody responded to.
    """

    lower: int | None
    upper: int | None
    count: int


def bucket_index(seconds: float, bounds: Sequence[int] = RESPONSE_BUCKETS) -> int:
    """Which bucket of :func:`response_histogram` a time to first response falls in (0 for the fastest)."""
    return sum(1 for edge in bounds if seconds >= edge)


def response_histogram(facts: Iterable[Fact], bounds: Sequence[int] = RESPONSE_BUCKETS) -> list[Bucket]:
    """The distribution of time to first response, then the unanswered count."""
    counts: dict[int, int] = defaultdict(int)
    unanswered = 0
    for fact in facts:
        seconds = fact.first_response_seconds
        if seconds is None:
            unanswered += 1
            continue
        counts[bucket_index(seconds, bounds)] += 1
    return histogram_of(counts, unanswered, bounds)


def histogram_of(counts: Mapping[int, int], unanswered: int, bounds: Sequence[int] = RESPONSE_BUCKETS) -> list[Bucket]:
    """The histogram's buckets from counts per :func:`bucket_index` (as a database counts them)."""
    edges = [0, *bounds]
    buckets = [
        Bucket(lower=edges[i], upper=edges[i + 1] if i + 1 < len(edges) else None, count=counts.get(i, 0))
        for i in range(len(edges))
    ]
    buckets.append(Bucket(lower=None, upper=None, count=unanswered))
    return buckets


def week_start(moment: datetime, zone: ZoneInfo) -> date:
    """The Monday of the local week ``moment`` falls in."""
    local = moment.astimezone(zone).date()
    return local - timedelta(days=local.weekday())


def weekly_counts(
    facts: Iterable[Fact],
    zone: ZoneInfo,
    first: date | None = None,
    last: date | None = None,
    max_weeks: int = 104,
) -> list[tuple[date, int]]:
    """Incidents per local week (Monday first), with empty weeks shown as 0.

    The range runs from the week of ``first`` (or of the earliest incident)
    to the week of ``last`` (or of the latest incident), keeping the latest
    ``max_weeks`` weeks so a chart stays readable.
    """
    counts: dict[date, int] = defaultdict(int)
    for fact in facts:
        counts[week_start(fact.opened_at, zone)] += 1
    return weeks_of(counts, first, last, max_weeks)


def weeks_of(
    counts: Mapping[date, int], first: date | None = None, last: date | None = None, max_weeks: int = 104
) -> list[tuple[date, int]]:
    """:func:`weekly_counts` from incidents per local week's Monday (as a database counts them)."""
    if not counts and (first is None or last is None):
        return []
    start = first - timedelta(days=first.weekday()) if first else min(counts)
    end = last - timedelta(days=last.weekday()) if last else max(counts)
    weeks = []
    current = start
    while current <= end:
        weeks.append((current, counts.get(current, 0)))
        current += timedelta(days=7)
    return weeks[-max_weeks:]


@dataclass(frozen=True)
class Figures:
    """The statistics of the filtered incidents, as this module defines them.

    Attributes:
        total: Every filtered incident.
        by_group: Per group id (None: callers in no group).
        by_village: Per village id (None: callers in no group).
        histogram: Time to first response, then the unanswered.
        weeks: Incidents per local week.
    """

    total: Summary
    by_group: dict[int | None, Summary]
    by_village: dict[int | None, Summary]
    histogram: list[Bucket]
    weeks: list[tuple[date, int]]
