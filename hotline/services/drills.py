"""Drills: the real alert path, raised on purpose for one of a group's households.

A drill opens an incident marked ``is_drill`` with :data:`DRILL_SOURCE`
through :func:`hotline.services.incidents.open_incident`, so the group's
phones ring and the texts go out exactly as in an emergency; every text and
prompt says first that it is a drill (:func:`hotline.services.messages.drill_prefix`),
and escalation stops at the officers unless the drill asked for the duty
line (:func:`hotline.services.escalation.max_level_for`).

A drill starts now, or later from a :class:`DrillSchedule`: once, or again
and again by an RFC 5545 rule (``FREQ=MONTHLY;BYDAY=1MO`` is the first
Monday of each month) read by ``python-dateutil``, in the station's local
time. :func:`start_due` runs what is due; a conditional update of the
schedule's ``next_run_at`` lets exactly one worker start each occurrence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.settings import Settings
from hotline.carriers.base import Capabilities
from hotline.db import rows_changed
from hotline.models import (
    Drill,
    DrillSchedule,
    DrillScope,
    Group,
    Incident,
    IncidentStatus,
    Member,
    Role,
    Station,
    Village,
    utcnow,
)
from hotline.services.escalation import OFFICERS
from hotline.services.incidents import DRILL_SOURCE, open_incident
from hotline.services.outbox import Work

log = logging.getLogger(__name__)

# An occurrence missed by more than this (every worker was down) is skipped, not started late:
# a drill that rings a village in the middle of the night helps nobody.
MISSED_AFTER = timedelta(hours=1)


class DrillError(ValueError):
    """A drill cannot be started or scheduled; the message says why, in Chinese."""


@dataclass
class Started:
    """The drills one start wrote, the groups it left out and why, and what to enqueue after commit.

    ``work`` holds one :class:`Work` per drill: each carries its own incident's escalation check.
    """

    drills: list[Drill] = field(default_factory=list)
    skipped: list[tuple[Group, str]] = field(default_factory=list)
    work: list[Work] = field(default_factory=list)


def find_station(session: Session, name: str) -> Station:
    """The station called ``name``.

    Raises:
        DrillError: No station has that name.
    """
    station = session.scalar(select(Station).where(Station.name == name))
    if station is None:
        raise DrillError(f"没有名为 {name!r} 的派出所")
    return station


def find_target(
    session: Session, station: Station, *, group: str | None = None, village: str | None = None
) -> tuple[DrillScope, Group | None, Village | None]:
    """The scope named by a group (``村/组`` or a name unique in the station), a village, or neither (all).

    Raises:
        DrillError: The group or village is not the station's, or a group name is ambiguous.
    """
    if group:
        village_name, _, group_name = group.rpartition("/")
        query = (
            select(Group).join(Village, Group.village_id == Village.id)
            .where(Village.station_id == station.id, Group.name == group_name.strip())
        )
        if village_name:
            query = query.where(Village.name == village_name.strip())
        found = list(session.scalars(query))
        if not found:
            raise DrillError(f"{station.name}没有名为 {group!r} 的小组")
        if len(found) > 1:
            raise DrillError(f"{station.name}有多个名为 {group!r} 的小组，请写成“村/组”")
        return DrillScope.GROUP, found[0], None
    if village:
        place = session.scalar(select(Village).where(Village.station_id == station.id, Village.name == village))
        if place is None:
            raise DrillError(f"{station.name}没有名为 {village!r} 的村")
        return DrillScope.VILLAGE, None, place
    return DrillScope.ALL, None, None


def groups_in_scope(
    session: Session, station: Station, scope: DrillScope, group: Group | None, village: Village | None
) -> list[Group]:
    """The groups a drill of ``scope`` covers, by village and name."""
    if scope == DrillScope.GROUP:
        return [group] if group is not None else []
    query = (
        select(Group).join(Village, Group.village_id == Village.id)
        .where(Village.station_id == station.id).order_by(Village.name, Group.name)
    )
    if scope == DrillScope.VILLAGE:
        query = query.where(Village.id == (village.id if village is not None else -1))
    return list(session.scalars(query))


def choose_household(session: Session, group: Group) -> Member | None:
    """The household (or, with none, the leader) a group's next drill is raised for.

    The group's households take turns, one drill after another, so a drill
    does not always alarm the same family.
    """
    for role in (Role.HOUSEHOLD, Role.LEADER):
        candidates = [m for m in group.members if m.active and m.role == role]
        if candidates:
            earlier = session.scalar(select(func.count(Drill.id)).where(Drill.group_id == group.id)) or 0
            return candidates[earlier % len(candidates)]
    return None


def _busy_with(session: Session, group: Group) -> Incident | None:
    """An open incident of the group: a drill never runs beside an emergency, or beside another drill."""
    return session.scalar(
        select(Incident).where(Incident.group_id == group.id, Incident.status == IncidentStatus.OPEN).limit(1)
    )


def start_drill(
    session: Session,
    settings: Settings,
    group: Group,
    *,
    duty_line: bool = False,
    created_by: str = "",
    schedule: DrillSchedule | None = None,
    run_at: datetime | None = None,
    now: datetime | None = None,
    capabilities: Capabilities | None = None,
) -> tuple[Drill | None, str, Work]:
    """Open one group's drill incident: the drill (or None and why not) and the work to enqueue after commit.

    A group with an open incident, or with no active household or leader,
    is left out. A scheduled occurrence already started (by another worker)
    is not started again. The work is what a new incident enqueues: its
    texts, calls, first escalation check and calling again.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    now = now or utcnow()
    busy = _busy_with(session, group)
    if busy is not None:
        return None, f"有未结束的{'演练' if busy.is_drill else '求助'}（#{busy.id}）", Work()
    household = choose_household(session, group)
    if household is None:
        return None, "没有可代为求助的求助户或组长", Work()
    drill = Drill(
        station_id=group.village.station_id, group_id=group.id, schedule_id=schedule.id if schedule else None,
        household_id=household.id, duty_line=duty_line, run_at=run_at or now, created_by=created_by,
    )
    try:
        with session.begin_nested():
            session.add(drill)
            session.flush()
    except IntegrityError:
        return None, "这次演练已经开始过", Work()
    opened = open_incident(
        session, settings, caller_phone=household.phone, source=DRILL_SOURCE, now=now, capabilities=capabilities,
        escalation_cap=None if duty_line else OFFICERS,
    )
    drill.incident_id = opened.incident.id
    drill.incident = opened.incident
    session.flush()
    return drill, "", opened.work(settings)


def start_now(
    session: Session,
    settings: Settings,
    groups: list[Group],
    *,
    duty_line: bool = False,
    created_by: str = "",
    schedule: DrillSchedule | None = None,
    run_at: datetime | None = None,
    now: datetime | None = None,
    capabilities: Capabilities | None = None,
) -> Started:
    """Start a drill in each of ``groups``; what was started, what was left out, and the work to enqueue.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    started = Started()
    for group in groups:
        drill, why, work = start_drill(
            session, settings, group, duty_line=duty_line, created_by=created_by, schedule=schedule,
            run_at=run_at, now=now, capabilities=capabilities,
        )
        if drill is None:
            started.skipped.append((group, why))
            continue
        started.drills.append(drill)
        started.work.append(work)
    return started


# --- schedules --------------------------------------------------------------


def _local_naive(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def next_occurrence(rule: str | None, starts_at: datetime, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The rule's first occurrence strictly after ``after`` (UTC), in the zone's wall-clock time; None if none.

    Raises:
        DrillError: The rule is not a valid RRULE.
    """
    if not rule:
        return None
    try:
        recurrence = rrulestr(rule, dtstart=_local_naive(starts_at, zone))
    except (ValueError, TypeError) as exc:
        raise DrillError(f"重复规则 {rule!r} 无效（例：FREQ=MONTHLY;BYDAY=1MO 为每月第一个星期一）：{exc}") from None
    found = recurrence.after(_local_naive(after, zone))
    return found.replace(tzinfo=zone).astimezone(starts_at.tzinfo) if found is not None else None


# A repeated drill or broadcast comes round at most once a day: villagers' phones are not rung or
# texted every hour, and a rule such as FREQ=SECONDLY would flood the carrier.
MIN_REPEAT_GAP = timedelta(days=1)
# Occurrences looked at for two that come too close (a rule's pattern shows in its first periods).
_GAPS_CHECKED = 100


def check_rule(rule: str, starts_at: datetime, zone: ZoneInfo) -> None:
    """Refuse a rule that is not a valid RRULE or repeats more often than :data:`MIN_REPEAT_GAP`.

    ``FREQ=HOURLY`` and ``FREQ=DAILY;BYHOUR=8,20`` are both refused: what
    counts is the time between two occurrences, in the station's wall-clock time.

    Raises:
        DrillError: Saying why and what to write instead, in Chinese.
    """
    next_occurrence(rule, starts_at, starts_at, zone)  # not a valid rule: its own message
    occurrences = list(islice(rrulestr(rule, dtstart=_local_naive(starts_at, zone)), _GAPS_CHECKED))
    for earlier, later in pairwise(occurrences):
        if later - earlier < MIN_REPEAT_GAP:
            raise DrillError(
                f"重复规则 {rule!r} 太频繁：{earlier:%m-%d %H:%M:%S} 和 {later:%m-%d %H:%M:%S} 只隔"
                f"{_gap_words(later - earlier)}；两次之间至少要隔一天，不能这样频繁打扰村民。"
                "例：FREQ=DAILY 为每天一次，FREQ=WEEKLY 为每周一次"
            )


def _gap_words(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    if seconds < 60:
        return f" {seconds} 秒"
    if seconds < 3600:
        return f" {seconds // 60} 分钟"
    return f" {seconds // 3600} 小时" + (f" {seconds % 3600 // 60} 分钟" if seconds % 3600 >= 60 else "")


def schedule_drill(
    session: Session,
    settings: Settings,
    station: Station,
    *,
    at: datetime,
    rule: str | None = None,
    group: Group | None = None,
    village: Village | None = None,
    duty_line: bool = False,
    created_by: str = "",
    now: datetime | None = None,
) -> DrillSchedule:
    """Plan a drill at ``at`` (aware), repeated by ``rule`` when given.

    Raises:
        DrillError: ``at`` is past for a drill that runs once, or ``rule`` is not valid or repeats more
            often than once a day.
    """
    now = now or utcnow()
    zone = ZoneInfo(settings.timezone)
    if rule:
        check_rule(rule, at, zone)  # a bad rule fails now, not at the worker
    if at <= now:
        if not rule:
            raise DrillError("计划时间已过")
        following = next_occurrence(rule, at, now, zone)
        if following is None:
            raise DrillError("重复规则此后不再有演练时间")
        at = following
    scope = DrillScope.GROUP if group else DrillScope.VILLAGE if village else DrillScope.ALL
    schedule = DrillSchedule(
        station_id=station.id, scope=scope, group_id=group.id if group else None,
        village_id=village.id if village else None, rule=rule or None, starts_at=at, next_run_at=at,
        duty_line=duty_line, created_by=created_by,
    )
    session.add(schedule)
    session.flush()
    return schedule


def cancel_schedule(session: Session, schedule: DrillSchedule, now: datetime | None = None) -> None:
    """Stop a schedule: nothing more of it starts."""
    schedule.cancelled_at = now or utcnow()
    schedule.next_run_at = None
    session.flush()


def start_due(
    session: Session, settings: Settings, *, now: datetime | None = None, capabilities: Capabilities | None = None,
) -> Started:
    """Start every scheduled drill that is due, each occurrence once however many workers run this.

    The schedule's ``next_run_at`` moves on to the next occurrence by a
    conditional update from the value read; only the session that moved it
    starts the drill. Commit, then enqueue the returned work.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: The database failed; nothing is kept.
    """
    now = now or utcnow()
    zone = ZoneInfo(settings.timezone)
    started = Started()
    due = session.scalars(
        select(DrillSchedule)
        .where(DrillSchedule.next_run_at <= now, DrillSchedule.cancelled_at.is_(None))
        .order_by(DrillSchedule.next_run_at, DrillSchedule.id)
    ).all()
    for schedule in due:
        occurrence = schedule.next_run_at
        assert occurrence is not None  # the query asks for it
        try:
            following = next_occurrence(schedule.rule, schedule.starts_at, now, zone)
        except DrillError as exc:
            log.error("drill schedule %s stopped: %s", schedule.id, exc)
            following = None
        won = rows_changed(
            session,
            update(DrillSchedule)
            .where(DrillSchedule.id == schedule.id, DrillSchedule.next_run_at == occurrence)
            .values(next_run_at=following, last_run_at=occurrence)
            .execution_options(synchronize_session=False),
        )
        if not won:
            continue  # another worker has it
        session.refresh(schedule)
        if now - occurrence > MISSED_AFTER:
            log.warning("drill schedule %s: the drill due at %s was missed and is skipped", schedule.id, occurrence)
            continue
        groups = groups_in_scope(session, schedule.station, schedule.scope, schedule.group, schedule.village)
        one = start_now(
            session, settings, groups, duty_line=schedule.duty_line, created_by=schedule.created_by,
            schedule=schedule, run_at=occurrence, now=now, capabilities=capabilities,
        )
        started.drills += one.drills
        started.skipped += one.skipped
        started.work += one.work
    return started
