"""Statistics rollups: incidents counted by place, drill and time to first response.

The database keeps these tables itself (triggers on ``incidents``, see
:mod:`hotline.services.stats_rollups` and migration 0010), so the console's
statistics over years of history read a few hundred thousand counters rather
than every incident.

Every table counts incidents per key; ``station_key`` and ``group_key`` are
the incident's station and group ids, 0 for none (a primary key cannot hold
NULL); ``seconds`` is the first second of the bucket the time from the call
to the first accepting response falls in (every second below 2 minutes, then
wider: :data:`hotline.services.stats_rollups.RESPONSE_TIERS`), -1 when nobody
accepted. ``acknowledged`` and ``escalated`` count, of those incidents, the
ones someone acknowledged and the ones that escalated.

- ``stats_all_time``: since the beginning (the statistics with no dates).
- ``stats_all_time_coarse``: the same counts in coarse buckets of response time
  (``coarse``: 15 s below 2 minutes, then 1 minute, 5 minutes, an hour, a day;
  :data:`hotline.services.stats_rollups.COARSE_TIERS`), each a whole number of
  the fine buckets: the median and 90th percentile find their coarse bucket in
  a few dozen rows a group and read only the fine buckets inside it (migration 0011).
- ``stats_months``: per local calendar month (``month`` is its first day).
- ``stats_weeks``: incidents per local week (``week`` is its Monday), for the weekly chart.
- ``stats_zone``: the zone whose local months and weeks the tables are cut by.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table

from hotline.models.base import NAMING_CONVENTION, Base


def _counters() -> list[Column[int]]:
    return [
        Column("incidents", Integer, nullable=False),
        Column("acknowledged", Integer, nullable=False),
        Column("escalated", Integer, nullable=False),
    ]


def _key(name: str) -> Column[int]:
    return Column(name, Integer, primary_key=True, autoincrement=False)


def _place() -> list[Column]:
    return [Column("is_drill", Boolean, primary_key=True), _key("station_key"), _key("group_key")]


def _by_group() -> list[Column]:
    # In this order (the primary key's): a group's buckets are read in order, its running count needs no sort.
    return [Column("is_drill", Boolean, primary_key=True), _key("group_key"), _key("seconds"), _key("station_key")]


# In the shared metadata so that whatever empties every table (tests) empties these with the incidents.
ALL_TIME = Table(
    "stats_all_time",
    Base.metadata,
    *_by_group(),
    *_counters(),
)

# The coarse buckets' key in the same order as the fine ones'.
ALL_TIME_COARSE = Table(
    "stats_all_time_coarse",
    Base.metadata,
    Column("is_drill", Boolean, primary_key=True),
    _key("group_key"),
    _key("coarse"),
    _key("station_key"),
    *_counters(),
)

MONTHS = Table(
    "stats_months",
    Base.metadata,
    Column("month", Date, primary_key=True),  # first: a date range reads consecutive months
    *_by_group(),
    *_counters(),
)

WEEKS = Table(
    "stats_weeks",
    Base.metadata,
    Column("week", Date, primary_key=True),
    *_place(),
    Column("incidents", Integer, nullable=False),
)

# Not in the shared metadata: emptying every table must not leave the triggers without their zone.
zone_metadata = MetaData(naming_convention=NAMING_CONVENTION)

ZONE = Table(
    "stats_zone",
    zone_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("zone", String(64), nullable=False),
    # SQLite knows no zones: its triggers shift UTC by this date modifier (e.g. '+480 minutes').
    Column("sqlite_offset", String(32), nullable=False),
)

ROLLUPS = (ALL_TIME, MONTHS, WEEKS, ALL_TIME_COARSE)
