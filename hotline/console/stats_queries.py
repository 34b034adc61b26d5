"""Loading what the statistics and group health need, scoped to the viewer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, literal_column, or_, select, text, tuple_
from sqlalchemy.orm import Session, selectinload

from hotline.console.present import FAILED_DELIVERY
from hotline.console.queries import IncidentFilter
from hotline.console.scope import Viewer, scoped
from hotline.console.stats import (
    RESPONSE_BUCKETS,
    Fact,
    Figures,
    Summary,
    histogram_of,
    response_histogram,
    summarise,
    summarise_by,
    weekly_counts,
    weeks_of,
)
from hotline.console.stats_rollups import figures_from_rollups, rollups_serve
from hotline.models import Channel, Group, Incident, Member, Notification, Village

MIN_REACHABLE = 3  # a group with fewer reachable members cannot be relied on


def load_facts(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> list[Fact]:
    """One :class:`Fact` per filtered incident the viewer may see, oldest first."""
    query = (
        select(
            Incident.id,
            Incident.opened_at,
            Incident.acknowledged_at,
            Incident.escalation_level,
            Village.id,
            Village.name,
            Group.id,
            Group.name,
            Incident.first_accept_at,
        )
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .where(*flt.conditions(zone))
        .order_by(Incident.opened_at, Incident.id)
    )
    facts = []
    for row in session.execute(scoped(query, viewer, Incident)):
        incident_id, opened_at, acknowledged_at, level, village_id, village, group_id, group, first_accept = row
        facts.append(
            Fact(
                incident_id=incident_id,
                opened_at=opened_at,
                village_id=village_id,
                village=village,
                group_id=group_id,
                group=group,
                acknowledged=acknowledged_at is not None or first_accept is not None,
                first_response_seconds=(first_accept - opened_at).total_seconds() if first_accept else None,
                escalation_level=level or 0,
            )
        )
    return facts


# Up to this many filtered incidents the statistics are computed from the incidents themselves (exact to
# the microsecond, in tens of milliseconds); beyond, from the rollups (percentiles exact to the bucket: to the
# second below 2 minutes). Exactly, 20,000 incidents already take about 0.3 s at a million.
EXACT_UP_TO = 5_000


def figures(
    session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo, *, exact_up_to: int = EXACT_UP_TO
) -> Figures:
    """The statistics for ``flt``: from the rollups for many incidents, else from the incidents.

    The rollups (:mod:`hotline.console.stats_rollups`) answer in time that does
    not grow with years of history, with times to first response rounded down
    to their bucket (the whole second below 2 minutes). When they count no more than ``exact_up_to`` filtered
    incidents, or cannot serve the filter, the figures are computed exactly
    from the incidents (:func:`exact_figures`): a small station's numbers are
    then the same to the microsecond as before the rollups existed.
    """
    if rollups_serve(session, flt, zone):
        found = figures_from_rollups(session, viewer, flt, zone)
        if found.total.incidents > exact_up_to:
            return found
    return exact_figures(session, viewer, flt, zone)


def exact_figures(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> Figures:
    """The statistics for ``flt`` from every filtered incident: computed by PostgreSQL where it runs.

    On PostgreSQL one statement reads each filtered incident once and returns
    the counts, rates, medians and 90th percentiles per group, per village and
    in total, the histogram and the weekly counts, so the work does not grow
    with Python objects per incident. Other databases (SQLite, for small
    installations) compute the same figures in Python.
    """
    if session.get_bind().dialect.name == "postgresql":
        return _figures_in_postgresql(session, viewer, flt, zone)
    facts = load_facts(session, viewer, flt, zone)
    return Figures(
        total=summarise(facts),
        by_group=summarise_by(facts, lambda fact: fact.group_id),
        by_village=summarise_by(facts, lambda fact: fact.village_id),
        histogram=response_histogram(facts),
        weeks=weekly_counts(facts, zone, flt.date_from, flt.date_to),
    )


# GROUPING()'s bits: one for each column a row is not grouped by, the first column's the highest.
_BY_GROUP, _BY_VILLAGE = 0b00, 0b10  # over (group, village); the total is 0b11
_BY_BUCKET = 0b01  # over (bucket, week); a week's row is 0b10
# Memory for the statistics' sorts, for this transaction only.
STATS_WORK_MEM = "64MB"


def _figures_in_postgresql(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> Figures:
    seconds = cast(func.extract("epoch", Incident.first_accept_at - Incident.opened_at), Float)
    bucket = case(
        (Incident.first_accept_at.is_(None), -1),
        else_=sum((case((seconds >= edge, 1), else_=0) for edge in RESPONSE_BUCKETS), literal(0)),
    )
    base = scoped(
        select(
            Incident.group_id.label("group_id"),
            Group.village_id.label("village_id"),
            (Incident.acknowledged_at.is_not(None) | Incident.first_accept_at.is_not(None)).label("acknowledged"),
            (Incident.escalation_level > 0).label("escalated"),
            seconds.label("seconds"),
            bucket.label("bucket"),
            # The Monday of the local week (PostgreSQL's weeks start on Monday).
            func.date_trunc("week", func.timezone(zone.key, Incident.opened_at)).label("week"),
        )
        .outerjoin(Group, Incident.group_id == Group.id)
        .where(*flt.conditions(zone)),
        viewer,
        Incident,
    ).subquery("filtered")
    c = base.c
    # Two statements: the percentiles need sorted input per group and per village, while the histogram
    # and the weeks are plain counts a hash can do; in one statement every grouping would be sorted.
    summaries = select(
        func.grouping(c.group_id, c.village_id).label("grouped"),
        c.group_id,
        c.village_id,
        func.count().label("incidents"),
        func.count().filter(c.acknowledged).label("acknowledged"),
        func.count().filter(c.escalated).label("escalated"),
        func.percentile_cont(0.5).within_group(c.seconds).label("median"),
        func.percentile_cont(0.9).within_group(c.seconds).label("p90"),
    ).group_by(func.grouping_sets(tuple_(c.group_id, c.village_id), tuple_(c.village_id), literal_column("()")))
    counts = select(
        func.grouping(c.bucket, c.week).label("grouped"), c.bucket, c.week, func.count().label("incidents")
    ).group_by(func.grouping_sets(tuple_(c.bucket), tuple_(c.week)))
    # The percentiles sort every response time: in memory rather than in temporary files. Compiling the
    # statements to machine code (JIT) costs more than it saves on queries this simple.
    session.execute(text(f"SET LOCAL work_mem = '{STATS_WORK_MEM}'"))
    session.execute(text("SET LOCAL jit = off"))
    total = Summary(0, 0, 0, None, None)
    by_group: dict[int | None, Summary] = {}
    by_village: dict[int | None, Summary] = {}
    for row in session.execute(summaries):
        summary = Summary(
            incidents=row.incidents,
            acknowledged=row.acknowledged,
            escalated=row.escalated,
            median_seconds=float(row.median) if row.median is not None else None,
            p90_seconds=float(row.p90) if row.p90 is not None else None,
        )
        if row.grouped == _BY_GROUP:
            by_group[row.group_id] = summary
        elif row.grouped == _BY_VILLAGE:
            by_village[row.village_id] = summary
        else:
            total = summary
    buckets: dict[int, int] = {}
    weeks: dict[date, int] = {}
    for row in session.execute(counts):
        if row.grouped == _BY_BUCKET:
            buckets[row.bucket] = row.incidents
        else:
            weeks[row.week.date()] = row.incidents
    unanswered = buckets.pop(-1, 0)
    return Figures(
        total=total,
        by_group=by_group,
        by_village=by_village,
        histogram=histogram_of(buckets, unanswered),
        weeks=weeks_of(weeks, flt.date_from, flt.date_to),
    )


@dataclass(frozen=True)
class MemberHealth:
    """Whether a member's number can be relied on.

    Attributes:
        failed: ``(channel, status)`` for each channel whose most recent
            notification to this member failed or was undelivered.
    """

    member: Member
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def opted_out(self) -> bool:
        return self.member.opted_out

    @property
    def unreachable(self) -> bool:
        return self.member.opted_out or bool(self.failed)

    @property
    def reachable(self) -> bool:
        return self.member.active and not self.unreachable


@dataclass
class GroupHealth:
    group: Group
    members: list[MemberHealth] = field(default_factory=list)

    @property
    def active(self) -> list[MemberHealth]:
        return [health for health in self.members if health.member.active]

    @property
    def reachable(self) -> int:
        return sum(1 for health in self.members if health.reachable)

    @property
    def opted_out(self) -> list[MemberHealth]:
        return [health for health in self.active if health.opted_out]

    @property
    def failing(self) -> list[MemberHealth]:
        return [health for health in self.active if health.failed]

    @property
    def unreachable(self) -> list[MemberHealth]:
        return [health for health in self.active if health.unreachable]

    @property
    def weak(self) -> bool:
        return self.reachable < MIN_REACHABLE


def last_failures(session: Session, member_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """Member id → channels whose latest notification to that member's own number failed."""
    if not member_ids:
        return {}

    def latest(channel: Channel) -> Any:
        return _latest_to_member(Notification.id, channel)

    latest_ids = [
        notification_id
        for row in session.execute(
            select(latest(Channel.SMS), latest(Channel.CALL)).select_from(Member).where(Member.id.in_(member_ids))
        )
        for notification_id in row
        if notification_id is not None
    ]
    failures: dict[int, list[tuple[str, str]]] = defaultdict(list)
    # Chunked: SQLite allows few bound parameters per statement.
    for start in range(0, len(latest_ids), 900):
        rows = session.execute(
            select(Notification.member_id, Notification.channel, Notification.status).where(
                Notification.id.in_(latest_ids[start : start + 900]),
                Notification.status.in_(sorted(FAILED_DELIVERY)),
            )
        )
        for member_id, channel, status in rows:
            if member_id is not None:  # always so: the query asks for these members
                failures[member_id].append((str(channel), status))
    return failures


@dataclass(frozen=True)
class GroupReach:
    """A group as the statistics list it.

    Attributes:
        unreachable: Its active members who opted out or whose latest text or
            call to their own number failed (:attr:`GroupHealth.unreachable`).
    """

    group_id: int
    name: str
    village_id: int
    village: str
    unreachable: int


def group_reach(
    session: Session, viewer: Viewer, *, group_id: int | None = None, village_id: int | None = None
) -> list[GroupReach]:
    """Every visible group (or the one, or a village's), by village and name, with its unreachable count.

    One statement, with no member loaded: :func:`group_health`'s answer
    counted by the database, for pages that show only the count.
    """

    def latest_failed(channel: Channel) -> ColumnElement[bool]:
        return _latest_to_member(Notification.status, channel).in_(sorted(FAILED_DELIVERY))

    unreachable = and_(
        Member.active.is_(True),
        or_(Member.opted_out.is_(True), latest_failed(Channel.SMS), latest_failed(Channel.CALL)),
    )
    query = (
        select(Group.id, Group.name, Village.id, Village.name, func.sum(case((unreachable, 1), else_=0)))
        .join(Village, Group.village_id == Village.id)
        .outerjoin(Member, Member.group_id == Group.id)
        .group_by(Group.id, Group.name, Village.id, Village.name)
        .order_by(Village.name, Group.name)
    )
    if group_id is not None:
        query = query.where(Group.id == group_id)
    if village_id is not None:
        query = query.where(Group.village_id == village_id)
    return [
        GroupReach(group_id=gid, name=name, village_id=vid, village=village, unreachable=int(count or 0))
        for gid, name, vid, village, count in session.execute(scoped(query, viewer, Group))
    ]


def _latest_to_member(column: Any, channel: Channel) -> Any:
    """``column`` of the latest notification on ``channel`` to a member's own number, for a query on members.

    Read backwards through the (member_id, channel, phone, id) index: one short
    look per member, however many notifications years of alerts have left.
    """
    return (
        select(column)
        .where(
            Notification.member_id == Member.id,
            Notification.channel == channel.value,
            # A backup number's delivery (hotline/services/backup.py) says nothing of the member's own number.
            Notification.phone == Member.phone,
        )
        .order_by(Notification.id.desc())
        .limit(1)
        .correlate(Member)
        .scalar_subquery()
    )


def group_health(session: Session, viewer: Viewer, group_ids: list[int] | None = None) -> list[GroupHealth]:
    """Every visible group (or those in ``group_ids``) with each member's reachability."""
    query = (
        select(Group)
        .join(Village, Group.village_id == Village.id)
        .options(selectinload(Group.members), selectinload(Group.village))
        .order_by(Village.name, Group.name)
    )
    if group_ids is not None:
        query = query.where(Group.id.in_(group_ids))
    groups = list(session.scalars(scoped(query, viewer, Group)))
    member_ids = [member.id for group in groups for member in group.members]
    failures: dict[int, list[tuple[str, str]]] = {}
    # Chunked: SQLite allows few bound parameters per statement.
    for start in range(0, len(member_ids), 900):
        failures.update(last_failures(session, member_ids[start : start + 900]))
    return [
        GroupHealth(
            group=group,
            members=[MemberHealth(member, tuple(sorted(failures.get(member.id, [])))) for member in group.members],
        )
        for group in groups
    ]
