"""Keeping the statistics rollups (:mod:`hotline.models.stats_rollups`) in step with the incidents.

The database keeps them: triggers on ``incidents`` take an incident's old
contribution away and add its new one in the same transaction as the change,
whoever makes it (a webhook's UPDATE, the trigger that records the first
acceptance, a group deleted under its incidents, a bulk load). The same SQL
expressions group incidents for :func:`rebuild` and for the statistics' exact
edges (:func:`keys`), so a trigger, a rebuild and a direct count cannot
disagree on which month, week or second an incident falls in.

A TRUNCATE of ``incidents`` fires no row trigger: rebuild afterwards
(``hotline stats rebuild``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, Integer, Table, func, inspect, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from hotline.models import Incident
from hotline.models.stats_rollups import ALL_TIME, ALL_TIME_COARSE, MONTHS, ROLLUPS, WEEKS, ZONE

# Columns whose change moves an incident in the rollups.
WATCHED = ("station_id", "group_id", "is_drill", "opened_at", "acknowledged_at", "first_accept_at", "escalation_level")

_COMMON = {
    "station_key": "COALESCE({r}.station_id, 0)",
    "group_key": "COALESCE({r}.group_id, 0)",
    "is_drill": "{r}.is_drill",
    "acknowledged": "CASE WHEN {r}.acknowledged_at IS NOT NULL OR {r}.first_accept_at IS NOT NULL THEN 1 ELSE 0 END",
    "escalated": "CASE WHEN {r}.escalation_level > 0 THEN 1 ELSE 0 END",
}
# Whole seconds to the first acceptance, rounded down (a time before the call counts as 0). SQLite's julianday
# is a float of days: rounded to the millisecond first, so 45.000 s does not become 44.99999 s.
_WHOLE_SECONDS = {
    "postgresql": "GREATEST(0, floor(extract(epoch FROM {r}.first_accept_at - {r}.opened_at)))::integer",
    "sqlite": "MAX(0, CAST(round((julianday({r}.first_accept_at) - julianday({r}.opened_at)) * 86400000) AS INTEGER)"
    " / 1000)",
}
# Response times are counted in buckets named by their first second: every second below 2 minutes, then
# 5 seconds to 10 minutes, 30 seconds to an hour, 5 minutes to a day, hours beyond. A group's distribution
# then takes at most a few hundred rows however its times spread, and the median and 90th percentile stay
# exact to the bucket (to the second where most answers fall). The histogram's edges (15 s … 5 min) are
# bucket edges too, so its counts are exact. RESPONSE_TIERS: (below this many seconds, buckets this wide).
RESPONSE_TIERS: tuple[tuple[int, int], ...] = ((120, 1), (600, 5), (3600, 30), (86400, 300))
BEYOND_TIERS = 3600


# The coarse buckets (``stats_all_time_coarse``): each tier's width a multiple of the fine one's and each edge
# a multiple of both, so a coarse bucket is whole fine buckets; the histogram's edges are coarse edges too.
COARSE_TIERS: tuple[tuple[int, int], ...] = ((120, 15), (600, 60), (3600, 300), (86400, 3600))
BEYOND_COARSE = 86400


def response_bucket(seconds: int) -> int:
    """The first second of the bucket a whole number of seconds to first response is counted in."""
    width = next((width for below, width in RESPONSE_TIERS if seconds < below), BEYOND_TIERS)
    return seconds - seconds % width


def coarse_bucket(seconds: int) -> int:
    """The first second of the coarse bucket a whole number of seconds (or a fine bucket) falls in."""
    width = next((width for below, width in COARSE_TIERS if seconds < below), BEYOND_COARSE)
    return seconds - seconds % width


def _bucketed(whole: str, tiers: tuple[tuple[int, int], ...] = RESPONSE_TIERS, beyond: int = BEYOND_TIERS) -> str:
    cases = " ".join(
        f"WHEN {whole} < {below} THEN " + (whole if width == 1 else f"{whole} - {whole} % {width}")
        for below, width in tiers
    )
    return f"CASE {cases} ELSE {whole} - {whole} % {beyond} END"


def coarse_sql(seconds: str) -> str:
    """SQL for the first second of the coarse bucket of ``seconds`` (SQL text: whole seconds or a fine
    bucket; -1, nobody accepted, stays -1)."""
    return f"CASE WHEN {seconds} < 0 THEN {seconds} ELSE {_bucketed(seconds, COARSE_TIERS, BEYOND_COARSE)} END"


# The bucket of the time to first acceptance; -1 for none.
_SECONDS = {
    dialect: "CASE WHEN {r}.first_accept_at IS NULL THEN -1 ELSE " + _bucketed(whole) + " END"
    for dialect, whole in _WHOLE_SECONDS.items()
}
_COARSE = {
    dialect: "CASE WHEN {r}.first_accept_at IS NULL THEN -1 ELSE "
    + _bucketed(whole, COARSE_TIERS, BEYOND_COARSE)
    + " END"
    for dialect, whole in _WHOLE_SECONDS.items()
}
# The local month's first day and the local week's Monday (PostgreSQL's weeks start on Monday).
_PERIODS = {
    "postgresql": {
        "month": "date_trunc('month', timezone({zone}, {r}.opened_at))::date",
        "week": "date_trunc('week', timezone({zone}, {r}.opened_at))::date",
    },
    "sqlite": {
        "month": "date({r}.opened_at, {zone}, 'start of month')",
        "week": "date({r}.opened_at, {zone}, 'weekday 0', '-6 days')",
    },
}
# Inside the triggers the zone is read from stats_zone (UTC should its row be missing: never fail a write).
_TRIGGER_ZONE = {
    "postgresql": "zone_name",
    "sqlite": "COALESCE((SELECT sqlite_offset FROM stats_zone WHERE id = 1), '+0 minutes')",
}


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sqlite_offset(zone: ZoneInfo) -> str:
    """SQLite's date modifier for ``zone``'s offset from UTC now, e.g. ``'+480 minutes'``."""
    offset = datetime.now(UTC).astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"{minutes:+d} minutes"


def fixed_offset(zone: ZoneInfo) -> bool:
    """Whether ``zone`` keeps one offset all year (SQLite's triggers can cut its days only then)."""
    year = datetime.now(UTC).year
    return len({datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 4, 7, 10)}) == 1


def _expressions(dialect: str, row: str, zone: str) -> dict[str, str]:
    """Each key column's SQL for the incident row called ``row``, local periods in ``zone`` (SQL text)."""
    found = {name: template.format(r=row) for name, template in _COMMON.items()}
    found["seconds"] = _SECONDS[dialect].format(r=row)
    found["coarse"] = _COARSE[dialect].format(r=row)
    for name, template in _PERIODS[dialect].items():
        found[name] = template.format(r=row, zone=zone)
    return found


@dataclass(frozen=True)
class Keys:
    """Where incidents fall in the rollups, as columns of a query on ``incidents``."""

    station_key: ColumnElement[int]
    group_key: ColumnElement[int]
    is_drill: ColumnElement[bool]
    seconds: ColumnElement[int]
    acknowledged: ColumnElement[int]
    escalated: ColumnElement[int]
    month: ColumnElement
    week: ColumnElement


def keys(dialect: str, zone: ZoneInfo) -> Keys:
    """The rollups' keys for a query on ``incidents`` (what the triggers compute for one row).

    Raises:
        KeyError: ``dialect`` is neither PostgreSQL nor SQLite.
    """
    where = _quoted(zone.key) if dialect == "postgresql" else _quoted(sqlite_offset(zone))
    sql = _expressions(dialect, Incident.__tablename__, where)
    return Keys(
        station_key=literal_column(sql["station_key"], Integer),
        group_key=literal_column(sql["group_key"], Integer),
        is_drill=literal_column(sql["is_drill"]),
        seconds=literal_column(sql["seconds"], Integer),
        acknowledged=literal_column(sql["acknowledged"], Integer),
        escalated=literal_column(sql["escalated"], Integer),
        month=literal_column(sql["month"], Date),
        week=literal_column(sql["week"], Date),
    )


# Each rollup: its key columns (beyond the place) and the counters it adds up.
_LAYOUT = {
    ALL_TIME.name: ((), ("seconds",), ("incidents", "acknowledged", "escalated")),
    MONTHS.name: (("month",), ("seconds",), ("incidents", "acknowledged", "escalated")),
    WEEKS.name: (("week",), (), ("incidents",)),
    ALL_TIME_COARSE.name: ((), ("coarse",), ("incidents", "acknowledged", "escalated")),
}
_PLACE = ("is_drill", "station_key", "group_key")


def _key_columns(table: str) -> tuple[str, ...]:
    period, tail, _ = _LAYOUT[table]
    return (*period, *_PLACE, *tail)


def _merge(table: str) -> str:
    counters = _LAYOUT[table][2]
    updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in counters)
    return f"ON CONFLICT ({', '.join(_key_columns(table))}) DO UPDATE SET {updates}"


def _upsert(table: str, sql: dict[str, str], sign: str) -> str:
    """One incident's contribution (``sign`` 1 or -1) added to ``table``."""
    columns = _key_columns(table)
    counters = _LAYOUT[table][2]
    values = [sql[name] for name in columns] + [
        sign if name == "incidents" else f"{sign} * ({sql[name]})" for name in counters
    ]
    return f"INSERT INTO {table} ({', '.join((*columns, *counters))}) VALUES ({', '.join(values)}) {_merge(table)}"


def present_rollups(connection: Connection) -> tuple[Table, ...]:
    """The rollups the database holds (one migrated only up to 0010 has no ``stats_all_time_coarse``)."""
    names = set(inspect(connection).get_table_names())
    return tuple(table for table in ROLLUPS if table.name in names)


def _contribution(dialect: str, row: str, sign: str, tables: tuple[Table, ...]) -> str:
    sql = _expressions(dialect, row, _TRIGGER_ZONE[dialect])
    return "".join(f"    {_upsert(table.name, sql, sign)};\n" for table in tables)


def _trigger_ddl(dialect: str, tables: tuple[Table, ...]) -> list[str]:
    watched = ", ".join(WATCHED)
    if dialect == "postgresql":
        changed = " OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in WATCHED)
        return [
            "CREATE OR REPLACE FUNCTION hotline_stats_count(r incidents, sign integer) RETURNS void AS $$\n"
            "DECLARE zone_name text := COALESCE((SELECT zone FROM stats_zone WHERE id = 1), 'UTC');\n"
            "BEGIN\n" + _contribution(dialect, "r", "sign", tables) + "END\n$$ LANGUAGE plpgsql",
            "CREATE OR REPLACE FUNCTION hotline_stats_rollup() RETURNS trigger AS $$\n"
            "BEGIN\n"
            "    IF TG_OP <> 'INSERT' THEN PERFORM hotline_stats_count(OLD, -1); END IF;\n"
            "    IF TG_OP <> 'DELETE' THEN PERFORM hotline_stats_count(NEW, 1); END IF;\n"
            "    RETURN NULL;\n"
            "END\n$$ LANGUAGE plpgsql",
            # Counted as the transaction commits (deferred), so a rollup row is locked only for the commit:
            # counted at once, it stayed locked while the webhook went on, and calls from one group queued.
            "CREATE CONSTRAINT TRIGGER incidents_stats_rollup AFTER INSERT OR DELETE ON incidents "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hotline_stats_rollup()",
            f"CREATE CONSTRAINT TRIGGER incidents_stats_rollup_update AFTER UPDATE OF {watched} ON incidents "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION hotline_stats_rollup()",
        ]
    return [
        "CREATE TRIGGER incidents_stats_insert AFTER INSERT ON incidents\nBEGIN\n"
        + _contribution(dialect, "NEW", "1", tables)
        + "END",
        "CREATE TRIGGER incidents_stats_delete AFTER DELETE ON incidents\nBEGIN\n"
        + _contribution(dialect, "OLD", "-1", tables)
        + "END",
        f"CREATE TRIGGER incidents_stats_update AFTER UPDATE OF {watched} ON incidents\nBEGIN\n"
        + _contribution(dialect, "OLD", "-1", tables)
        + _contribution(dialect, "NEW", "1", tables)
        + "END",
    ]


# The triggers by name, for disabling and dropping them.
PG_TRIGGERS = ("incidents_stats_rollup", "incidents_stats_rollup_update")
SQLITE_TRIGGERS = ("incidents_stats_insert", "incidents_stats_delete", "incidents_stats_update")


def install_triggers(connection: Connection) -> None:
    """Create the triggers that keep the rollups the database holds (and PostgreSQL's functions they call).

    Raises:
        KeyError: The database is neither PostgreSQL nor SQLite.
    """
    for statement in _trigger_ddl(connection.dialect.name, present_rollups(connection)):
        connection.execute(text(statement))


def drop_triggers(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        for name in PG_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON incidents"))
        connection.execute(text("DROP FUNCTION IF EXISTS hotline_stats_rollup()"))
        connection.execute(text("DROP FUNCTION IF EXISTS hotline_stats_count(incidents, integer)"))
    else:
        for name in SQLITE_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


@contextmanager
def triggers_paused(connection: Connection) -> Iterator[None]:
    """PostgreSQL: the triggers stopped for the statements inside (a bulk load, to be followed by :func:`rebuild`).

    They are started again before the transaction commits; should the load
    fail, its rollback undoes the pause too (ALTER TABLE is transactional).

    Raises:
        NotImplementedError: Not PostgreSQL (SQLite has no way to pause a trigger).
    """
    if connection.dialect.name != "postgresql":
        raise NotImplementedError("pausing the statistics triggers is for PostgreSQL bulk loads")
    for name in PG_TRIGGERS:
        connection.execute(text(f"ALTER TABLE incidents DISABLE TRIGGER {name}"))
    yield
    for name in PG_TRIGGERS:
        connection.execute(text(f"ALTER TABLE incidents ENABLE TRIGGER {name}"))


def rollup_zone(connection: Connection) -> str | None:
    """The zone the rollups are cut by (None before migration 0010 filled them)."""
    return connection.scalar(select(ZONE.c.zone).where(ZONE.c.id == 1))


def rebuild(
    connection: Connection,
    zone: ZoneInfo,
    *,
    chunk: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Count every incident again into empty rollups cut by ``zone``; returns how many incidents.

    ``progress(done, total)`` is told after each ``chunk`` of incident ids (of the span of ids there are).

    Runs in the caller's transaction. On PostgreSQL it first locks ``incidents``
    against writers (readers go on) until that transaction ends, so an incident
    changing meanwhile is neither lost nor counted twice.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database refused a statement (e.g. migration 0010 is missing).
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("LOCK TABLE incidents IN SHARE MODE"))
    connection.execute(ZONE.delete())
    connection.execute(ZONE.insert().values(id=1, zone=zone.key, sqlite_offset=sqlite_offset(zone)))
    tables = present_rollups(connection)
    for table in tables:
        connection.execute(table.delete())
    low, high = connection.execute(select(func.min(Incident.id), func.max(Incident.id))).one()
    if low is None:
        return 0
    where = _quoted(zone.key) if dialect == "postgresql" else _quoted(sqlite_offset(zone))
    sql = _expressions(dialect, "incidents", where)
    for first in range(low, high + 1, chunk):
        last = min(high, first + chunk - 1)
        for table in tables:
            connection.execute(text(_grouped_insert(table.name, sql)), {"first": first, "last": last})
        if progress:
            progress(last - low + 1, high - low + 1)
    return connection.scalar(select(func.count()).select_from(Incident)) or 0


def _grouped_insert(table: str, sql: dict[str, str]) -> str:
    columns = _key_columns(table)
    counters = _LAYOUT[table][2]
    chosen = [sql[name] for name in columns] + [
        "count(*)" if name == "incidents" else f"sum({sql[name]})" for name in counters
    ]
    # SQLite needs the WHERE for INSERT ... SELECT ... ON CONFLICT to parse (it is there anyway).
    return (
        f"INSERT INTO {table} ({', '.join((*columns, *counters))}) "
        f"SELECT {', '.join(chosen)} FROM incidents WHERE incidents.id BETWEEN :first AND :last "
        f"GROUP BY {', '.join(str(position) for position in range(1, len(columns) + 1))} {_merge(table)}"
    )
