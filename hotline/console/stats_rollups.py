"""The statistics read from the rollups (:mod:`hotline.models.stats_rollups`), scoped to the viewer.

With no dates, the all-time rollups alone answer: the counts, the histogram
and, per group, village and in total, the coarse bucket each percentile falls
in come from ``stats_all_time_coarse`` (a few dozen rows a group), and only the
fine buckets of ``stats_all_time`` inside those coarse ones are read (a group's
response times spread over hundreds of fine buckets in a real history, which
read whole took most of the page's time). With dates, the whole local
months inside the range come from ``stats_months`` and the weeks from
``stats_weeks``, and only the days at the range's ends that do not fill a
month (or a week) are counted from the incidents themselves, grouped by the
very expressions the triggers use. The counters then go through one statement
per level (groups, villages, the total) that adds them up and picks, from the
running count per bucket of response time, the buckets the median and the
90th percentile fall between, so what crosses to Python is one row per group
and village.

Times to first response are counted in buckets named by their first second
(every second below 2 minutes, 5 seconds to 10 minutes, wider beyond: see
:data:`hotline.services.stats_rollups.RESPONSE_TIERS`): the median and 90th
percentile are exact to the bucket, rounded down; the histogram (whose edges
are bucket edges) and every count are exactly as :mod:`hotline.console.stats`
defines them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Subquery,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    select,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import Session

from hotline.console.queries import IncidentFilter
from hotline.console.scope import Viewer, scoped
from hotline.console.stats import RESPONSE_BUCKETS, Bucket, Figures, Summary, weeks_of
from hotline.models import Group, Incident
from hotline.models.stats_rollups import ALL_TIME, ALL_TIME_COARSE, MONTHS, WEEKS
from hotline.services.stats_rollups import BEYOND_COARSE, COARSE_TIERS, Keys, fixed_offset, keys, rollup_zone

log = logging.getLogger(__name__)
# Memory for the statistics' sorts, for this transaction only.
STATS_WORK_MEM = "64MB"
# The median and the 90th percentile as whole fractions, so ranks are integer arithmetic in SQL.
_MEDIAN, _P90 = (1, 2), (9, 10)


def rollups_serve(session: Session, flt: IncidentFilter, zone: ZoneInfo) -> bool:
    """Whether the rollups can give ``flt``'s statistics in ``zone``.

    Not when filtering on status (the rollups do not count by status, which
    changes all the time; the statistics page does not offer it, only an
    address typed by hand does, and that is computed exactly however many
    incidents it covers); not when they are cut by another zone than the
    console's (``hotline stats rebuild`` cuts them again); not on SQLite for a
    zone that changes its offset during the year (SQLite's triggers shift UTC
    by one fixed offset).
    """
    if flt.status is not None:
        return False
    connection = session.connection()
    if connection.dialect.name not in ("postgresql", "sqlite"):
        return False
    if connection.dialect.name == "sqlite" and not fixed_offset(zone):
        return False
    cut_by = rollup_zone(connection)
    if cut_by != zone.key:
        log.warning(
            "statistics computed from every incident: the rollups are cut by %s, the console shows %s "
            "(run: hotline stats rebuild)",
            cut_by,
            zone.key,
        )
        return False
    return True


def _place(table: Table, viewer: Viewer, flt: IncidentFilter) -> list[ColumnElement[bool]]:
    """The rollup rows of what ``viewer`` may see and ``flt`` keeps (dates aside)."""
    # "= false", not "IS FALSE": only an operator lets PostgreSQL read the primary key's order (drill first);
    # both values for all, so that a group's buckets are still two ranges of that key, not the whole table.
    found: list[ColumnElement[bool]] = []
    if flt.drill == "real":
        found.append(table.c.is_drill == false())
    elif flt.drill == "drill":
        found.append(table.c.is_drill == true())
    else:
        found.append(table.c.is_drill.in_([False, True]))
    if viewer.station_id is not None:
        found.append(table.c.station_key == viewer.station_id)
    if flt.group_id is not None:
        found.append(table.c.group_key == flt.group_id)
    if flt.village_id is not None:
        found.append(table.c.group_key.in_(select(Group.id).where(Group.village_id == flt.village_id)))
    return found


def _raw_filter(flt: IncidentFilter, first: date | None, end: date | None) -> IncidentFilter:
    """``flt`` over the local days from ``first`` up to, not including, ``end`` (None: unbounded)."""
    return replace(flt, date_from=first, date_to=end - timedelta(days=1) if end else None)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# Local days from the first up to, not including, the second (None: unbounded).
Span = tuple[date | None, date | None]


def _spans(
    first: date | None, end: date | None, period_start: date | None, period_end: date | None
) -> tuple[Span, list[Span]] | None:
    """Whole periods ``[period_start, period_end)`` and the edges around them, or None when none fit."""
    if period_start is not None and period_end is not None and period_start >= period_end:
        return None
    edges: list[Span] = []
    if first is not None and period_start is not None and first < period_start:
        edges.append((first, period_start))
    if end is not None and period_end is not None and period_end < end:
        edges.append((period_end, end))
    return (period_start, period_end), edges


def figures_from_rollups(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> Figures:
    """The statistics for ``flt`` from the rollups (see the module's docstring); ``flt.status`` is ignored.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The rollups are missing (migration 0010 not applied).
    """
    dialect = session.connection().dialect.name
    incident_keys = keys(dialect, zone)
    first = flt.date_from
    end = flt.date_to + timedelta(days=1) if flt.date_to else None

    def raw(span: Span) -> IncidentFilter:
        return _raw_filter(flt, *span)

    if first is None and end is None:
        total, by_group, by_village, histogram = _all_time_summaries(session, viewer, flt)
        weeks = [_rollup_weeks(_place(WEEKS, viewer, flt))]
    else:
        month_spans = _spans(
            first,
            end,
            None if first is None else (first if first.day == 1 else _next_month(first)),
            None if end is None else _month_start(end),
        )
        week_spans = _spans(
            first,
            end,
            None if first is None else (first if first.weekday() == 0 else _monday(first) + timedelta(days=7)),
            None if end is None else _monday(end),
        )
        counters = _parts(
            (first, end),
            month_spans,
            MONTHS.c.month,
            _place(MONTHS, viewer, flt),
            _rollup_counters,
            lambda span: _raw_counters(viewer, raw(span), zone, incident_keys),
        )
        weeks = _parts(
            (first, end),
            week_spans,
            WEEKS.c.week,
            _place(WEEKS, viewer, flt),
            _rollup_weeks,
            lambda span: _raw_weeks(viewer, raw(span), zone, incident_keys),
        )
        total, by_group, by_village, histogram = _summaries(session, counters)
    per_week = union_all(*weeks).subquery("weeks")
    week_counts = {
        week: int(count)
        for week, count in session.execute(
            select(per_week.c.week, func.sum(per_week.c.incidents))
            .group_by(per_week.c.week)
            .having(func.sum(per_week.c.incidents) > 0)
        )
    }
    return Figures(
        total=total,
        by_group=by_group,
        by_village=by_village,
        histogram=histogram,
        weeks=weeks_of(week_counts, flt.date_from, flt.date_to),
    )


def _parts(
    whole: Span,
    spans: tuple[Span, list[Span]] | None,
    period: ColumnElement,
    place: list[ColumnElement[bool]],
    from_rollup: Callable[[list[ColumnElement[bool]]], Select],
    from_incidents: Callable[[Span], Select],
) -> list[Select]:
    """The rollup's rows for the whole periods of ``spans``, and the incidents of its edges (of all of
    ``whole`` when no period fits)."""
    if spans is None:
        return [from_incidents(whole)]
    (low, high), edges = spans
    if low is not None:
        place = [*place, period >= low]
    if high is not None:
        place = [*place, period < high]
    return [from_rollup(place), *(from_incidents(edge) for edge in edges)]


def _rollup_counters(conditions: list[ColumnElement[bool]], table: Table = MONTHS) -> Select:
    c = table.c
    return select(
        c.group_key.label("group_key"),
        c.seconds.label("seconds"),
        c.incidents.label("incidents"),
        c.acknowledged.label("acknowledged"),
        c.escalated.label("escalated"),
    ).where(*conditions)


def _raw_counters(viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo, k: Keys) -> Select:
    query = (
        select(
            k.group_key.label("group_key"),
            k.seconds.label("seconds"),
            func.count().label("incidents"),
            func.sum(k.acknowledged).label("acknowledged"),
            func.sum(k.escalated).label("escalated"),
        )
        .where(*flt.conditions(zone))
        .group_by(k.group_key, k.seconds)
    )
    return scoped(query, viewer, Incident)


def _rollup_weeks(conditions: list[ColumnElement[bool]]) -> Select:
    return select(WEEKS.c.week.label("week"), WEEKS.c.incidents.label("incidents")).where(*conditions)


def _raw_weeks(viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo, k: Keys) -> Select:
    query = select(k.week.label("week"), func.count().label("incidents")).where(*flt.conditions(zone)).group_by(k.week)
    return scoped(query, viewer, Incident)


Summaries = tuple[Summary, dict[int | None, Summary], dict[int | None, Summary], list[Bucket]]
# One level's (groups', villages' or the total's) rows: key, summary, the histogram's answered counts.
Ranked = list[tuple[int, Summary, list[int]]]


def _in_memory(session: Session) -> None:
    if session.connection().dialect.name == "postgresql":
        # Sort and add up in memory, not in temporary files; compiling to machine code (JIT) costs more than it saves.
        session.execute(text(f"SET LOCAL work_mem = '{STATS_WORK_MEM}'"))
        session.execute(text("SET LOCAL jit = off"))


def _levels(counted: Subquery) -> tuple[Select, Select, Select]:
    """``counted``'s rows (group_key, seconds, incidents, acknowledged, escalated) added up per bucket and
    group, village or all of them (key 0)."""
    c = counted.c
    village = func.coalesce(Group.village_id, 0)
    return (
        select(c.group_key.label("key"), c.seconds, *_added(c)).group_by(c.group_key, c.seconds),
        select(village.label("key"), c.seconds, *_added(c))
        .select_from(counted.outerjoin(Group, Group.id == c.group_key))
        .group_by(village, c.seconds),
        select(literal(0).label("key"), c.seconds, *_added(c)).group_by(c.seconds),
    )


# The fine rows (key, low, seconds, incidents) inside the coarse buckets asked for (key, low).
Reach = Callable[[Subquery], Select]


def _reaches(fine: Subquery) -> tuple[Reach, Reach, Reach]:
    """How a group's, a village's and the total's fine rows inside a coarse bucket are read from ``fine``
    (group_key, seconds, incidents): a village's through its groups, so that each is a range of the
    primary key, and apart from them the rows of no group (village 0; an incident whose group is deleted
    loses it, and the triggers move it to group 0)."""
    f = fine.c

    def inside(wanted: Subquery) -> ColumnElement[bool]:
        return and_(f.seconds >= wanted.c.low, f.seconds < _coarse_end(wanted.c.low))

    def rows(wanted: Subquery) -> Select:
        return select(wanted.c.key, wanted.c.low, f.seconds, f.incidents)

    def groups(wanted: Subquery) -> Select:
        return rows(wanted).select_from(wanted.join(fine, and_(f.group_key == wanted.c.key, inside(wanted))))

    def villages(wanted: Subquery) -> Select:
        return (
            union_all(
                rows(wanted).select_from(
                    wanted.join(Group, Group.village_id == wanted.c.key).join(
                        fine, and_(f.group_key == Group.id, inside(wanted))
                    )
                ),
                rows(wanted).select_from(wanted.join(fine, and_(wanted.c.key == 0, f.group_key == 0, inside(wanted)))),
            )
            .subquery("in_villages")
            .select()
        )

    def in_total(wanted: Subquery) -> Select:
        return rows(wanted).select_from(wanted.join(fine, inside(wanted)))

    return groups, villages, in_total


def _summaries(session: Session, counters: list[Select]) -> Summaries:
    """Per group, per village and in total: counts, median and 90th percentile; the histogram of the total.

    One statement per level, each reading the counters once: the groups' straight from them (in the
    rollup's own order where one table alone answers, so nothing is sorted), the villages' and the
    total's from them added up per village and per bucket.
    """
    _in_memory(session)
    counted = (counters[0] if len(counters) == 1 else union_all(*counters)).subquery("counted")
    c = counted.c
    by_group = select(c.group_key.label("key"), c.seconds, c.incidents, c.acknowledged, c.escalated)
    _, by_village, in_total = _levels(counted)
    return _assembled(
        _ranked(session, by_group), _ranked(session, by_village), _ranked(session, in_total, histogram=True)
    )


def _all_time_summaries(session: Session, viewer: Viewer, flt: IncidentFilter) -> Summaries:
    """:func:`_summaries` since the beginning, from the coarse buckets and the few fine ones the
    percentiles fall in (:func:`_ranked_in_two_steps`): a few dozen rows a group rather than hundreds."""
    _in_memory(session)
    if session.connection().dialect.name == "postgresql":
        # The rollups are read on every visit and stay in memory: reading a group's few fine buckets through
        # the primary key costs about what a sequential read of them would, which the default costs ignore.
        session.execute(text("SET LOCAL random_page_cost = 1.1"))
    coarse = ALL_TIME_COARSE.c
    coarse_rows = (
        select(
            coarse.group_key, coarse.coarse.label("seconds"), coarse.incidents, coarse.acknowledged, coarse.escalated
        )
        .where(*_place(ALL_TIME_COARSE, viewer, flt))
        .subquery("coarse_counted")
    )
    fine = ALL_TIME.c
    fine_rows = (
        select(fine.group_key, fine.seconds, fine.incidents).where(*_place(ALL_TIME, viewer, flt)).subquery("fine")
    )
    levels = zip(_levels(coarse_rows), _reaches(fine_rows), (False, False, True), strict=True)
    (groups, villages, in_total) = (
        _ranked_in_two_steps(session, coarse_level, reach, histogram=histogram)
        for coarse_level, reach, histogram in levels
    )
    return _assembled(groups, villages, in_total)


def _assembled(groups: Ranked, villages: Ranked, in_total: Ranked) -> Summaries:
    edges = [0, *RESPONSE_BUCKETS]
    histogram = [Bucket(low, high, 0) for low, high in zip(edges, [*RESPONSE_BUCKETS, None], strict=True)]
    histogram.append(Bucket(None, None, 0))
    total = Summary(0, 0, 0, None, None)
    for _, total, counts in in_total:
        histogram = [
            Bucket(low, high, count)
            for (low, high), count in zip(zip(edges, [*RESPONSE_BUCKETS, None], strict=True), counts, strict=True)
        ]
        answered = sum(counts)
        histogram.append(Bucket(None, None, total.incidents - answered))
    return (
        total,
        {key or None: summary for key, summary, _ in groups},
        {key or None: summary for key, summary, _ in villages},
        histogram,
    )


def _whole(column: ColumnElement) -> ColumnElement[int]:
    # PostgreSQL adds bigints up as numeric: back to whole numbers, so that ranks are integer arithmetic.
    return cast(func.sum(column), BigInteger)


def _added(c: Any) -> list[ColumnElement[int]]:
    return [
        _whole(c.incidents).label("incidents"),
        _whole(c.acknowledged).label("acknowledged"),
        _whole(c.escalated).label("escalated"),
    ]


def _running(source: Select) -> Subquery:
    """``source``'s rows (key, seconds, incidents, acknowledged, escalated) with, per key, how many answered
    incidents fell in each row's bucket (``n``) or a faster one (``upto``) and were answered at all.

    A key's rows may repeat a bucket (a month's rollup and the incidents at a range's end): the running
    count takes a bucket's rows together (the window's frame ends at the last row of equal seconds).
    """
    v = source.subquery("level")
    answered_n = case((v.c.seconds >= 0, v.c.incidents), else_=0)
    return select(
        v.c.key,
        v.c.seconds,
        v.c.incidents,
        v.c.acknowledged,
        v.c.escalated,
        answered_n.label("n"),
        cast(func.sum(answered_n).over(partition_by=v.c.key, order_by=v.c.seconds), BigInteger).label("upto"),
        cast(func.sum(answered_n).over(partition_by=v.c.key), BigInteger).label("answered"),
    ).subquery("ranked")


def _ranks(r: Any) -> list[ColumnElement[int]]:
    """The 0-based ranks whose values the median and the 90th percentile lie between."""
    found = []
    for fraction in (_MEDIAN, _P90):
        lower = (r.answered - 1) * fraction[0] // fraction[1]
        found += [lower, lower + 1]
    return found


def _histogram_counts(r: Any, histogram: bool) -> list[ColumnElement[int]]:
    edges = [0, *RESPONSE_BUCKETS]
    return (
        [
            func.sum(
                case((and_(r.seconds >= low, r.seconds < high) if high else r.seconds >= low, r.incidents), else_=0)
            )
            for low, high in zip(edges, [*RESPONSE_BUCKETS, None], strict=True)
        ]
        if histogram
        else []
    )


def _summary(row: Any, answered: Any, values: Any) -> Summary:
    answered = int(answered or 0)
    m_low, m_high, p_low, p_high = values
    return Summary(
        incidents=int(row[0]),
        acknowledged=int(row[1]),
        escalated=int(row[2]),
        median_seconds=_interpolated(answered, _MEDIAN, m_low, m_high),
        p90_seconds=_interpolated(answered, _P90, p_low, p_high),
    )


def _ranked(session: Session, source: Select, *, histogram: bool = False) -> Ranked:
    """Per ``key`` of ``source`` (key, seconds, incidents, acknowledged, escalated): its summary, and the
    histogram's answered counts when asked."""
    r = _running(source).c

    def at_rank(rank: ColumnElement[int]) -> ColumnElement[int]:
        # The value at a 0-based rank: the first bucket whose running count passes it.
        return func.min(case((and_(r.seconds >= 0, r.upto > rank), r.seconds)))

    rows = session.execute(
        select(
            r.key,
            func.sum(r.incidents),
            func.sum(r.acknowledged),
            func.sum(r.escalated),
            func.max(r.answered),
            *(at_rank(rank) for rank in _ranks(r)),
            *_histogram_counts(r, histogram),
        )
        .group_by(r.key)
        .having(func.sum(r.incidents) > 0)
    )
    return [
        (key, _summary((incidents, acknowledged, escalated), answered, values[:4]), [int(n) for n in values[4:]])
        for key, incidents, acknowledged, escalated, answered, *values in rows
    ]


def _coarse_end(low: ColumnElement[int]) -> ColumnElement[int]:
    """The first second after the coarse bucket that begins at ``low``."""
    return case(*((low < below, low + width) for below, width in COARSE_TIERS), else_=low + BEYOND_COARSE)


def _ranked_in_two_steps(session: Session, coarse: Select, reach: Reach, *, histogram: bool = False) -> Ranked:
    """:func:`_ranked` of the fine buckets, but reading them only where it matters.

    ``coarse`` (key, seconds, incidents, acknowledged, escalated; one row per key and coarse bucket) gives
    the counts, the histogram (its edges are coarse edges) and, for each rank a percentile needs, the
    coarse bucket it falls in and how many answers came before that bucket; then only the fine rows
    inside those buckets are read (``reach``), and the rank's value is the first fine bucket whose running count
    (from that bucket's start) passes what is left of the rank. One statement.
    """
    r = _running(coarse).c
    ranks = _ranks(r)
    reached = [and_(r.seconds >= 0, r.upto > rank) for rank in ranks]
    counted = (
        select(
            r.key,
            func.sum(r.incidents).label("incidents"),
            func.sum(r.acknowledged).label("acknowledged"),
            func.sum(r.escalated).label("escalated"),
            func.max(r.answered).label("answered"),
            # The coarse bucket a rank falls in, and what is left of the rank once its faster ones are counted.
            *(func.min(case((at, r.seconds))).label(f"low_{index}") for index, at in enumerate(reached)),
            *(
                (func.max(rank) - func.min(case((at, r.upto - r.n)))).label(f"left_{index}")
                for index, (rank, at) in enumerate(zip(ranks, reached, strict=True))
            ),
            *(count.label(f"bucket_{index}") for index, count in enumerate(_histogram_counts(r, histogram))),
        )
        .group_by(r.key)
        .having(func.sum(r.incidents) > 0)
        .cte("counted")
    )
    k = counted.c
    # Each coarse bucket a rank of a key falls in, once (the median's two ranks mostly share one).
    wanted = union(
        *(
            select(k.key, k[f"low_{index}"].label("low")).where(k[f"low_{index}"].is_not(None))
            for index in range(len(ranks))
        )
    ).subquery("wanted")
    reached_rows = reach(wanted).subquery("reached")
    f = reached_rows.c
    # The running count inside the coarse bucket; rows of equal seconds are one bucket (the frame takes them all).
    inside = select(
        f.key,
        f.low,
        f.seconds,
        func.sum(f.incidents).over(partition_by=(f.key, f.low), order_by=f.seconds).label("upto"),
    ).subquery("inside")
    i = inside.c
    values = (
        select(
            i.key,
            *(
                func.min(case((and_(i.low == k[f"low_{index}"], i.upto > k[f"left_{index}"]), i.seconds))).label(
                    f"value_{index}"
                )
                for index in range(len(ranks))
            ),
        )
        .select_from(inside.join(counted, k.key == i.key))
        .group_by(i.key)
        .subquery("found")
    )
    v = values.c
    rows = session.execute(
        select(
            k.key,
            k.incidents,
            k.acknowledged,
            k.escalated,
            k.answered,
            *(v[f"value_{index}"] for index in range(len(ranks))),
            *(k[f"bucket_{index}"] for index in range(len(_histogram_counts(r, histogram)))),
        ).select_from(counted.outerjoin(values, v.key == k.key))
    )
    return [
        (key, _summary((incidents, acknowledged, escalated), answered, found[:4]), [int(n) for n in found[4:]])
        for key, incidents, acknowledged, escalated, answered, *found in rows
    ]


def _interpolated(answered: int, fraction: tuple[int, int], low: int | None, high: int | None) -> float | None:
    """The percentile between the values at the two closest ranks, as :func:`~hotline.console.stats.percentile`."""
    if not answered or low is None:
        return None
    remainder = (answered - 1) * fraction[0] % fraction[1]
    if not remainder or high is None:
        return float(low)
    return low + (high - low) * remainder / fraction[1]
