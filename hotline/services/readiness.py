"""Readiness: what a drill showed about its group, and a station's groups ranked by it.

Only drills are read here (a drill's own incident, found through the
``drills`` table), so a real alert never counts in a readiness report; and
the statistics read only real incidents, so a drill never counts there.

Per drill: seconds to the first acceptance and to the group's required
number of them (``Group.min_acceptances``), the members reached by call (a
call answered) and by text (an SMS delivered), the numbers that failed and
why (the carrier's ``failure_reason``, else the call's end: busy, no
answer), and the change since the group's drill before. A station's groups
never drilled are listed too: they have not shown the standard, so they miss it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config.settings import Settings
from hotline.models import Answer, Channel, Drill, Group, Notification, Purpose, Station, Village

# What counts as reaching a member: a call someone picked up, an SMS the handset received.
CALL_REACHED = frozenset({"answered", "in-progress", "completed"})
SMS_REACHED = frozenset({"delivered", "read"})
# Ends that say a number was not reached, when the carrier gave no reason of its own.
NOT_REACHED = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})
# The deliveries of the group's alert to its members (their own and backup numbers, first ring and again).
MEMBER_PURPOSES = (Purpose.ALERT, Purpose.RECALL)

REASON_WORDS = {
    "zh": {
        "invalid_number": "号码无效", "opted_out": "已退订", "not_textable": "不能收短信", "unreachable": "无法接通",
        "blocked": "被拦截", "throttled": "发送受限", "carrier_error": "运营商故障", "rejected": "被拒绝",
        "unknown": "原因不明", "busy": "占线", "no-answer": "无人接听", "failed": "失败", "undelivered": "未送达",
        "canceled": "已取消", "sms": "短信", "call": "电话",
    },
    "en": {"no-answer": "no answer", "sms": "SMS", "call": "call"},
}


def reason_text(language: str, code: str) -> str:
    """A failure reason or channel as the station reads it (codes without a word stay as they are)."""
    return REASON_WORDS.get(language, {}).get(code, code.replace("_", " "))


@dataclass(frozen=True)
class Failure:
    """One number of the group the drill did not reach on one channel, and why."""

    name: str
    phone: str
    channel: str
    reason: str


@dataclass
class Readiness:
    """What one drill showed about its group."""

    drill: Drill
    village: str
    group: str
    run_at: datetime
    needed: int
    accepted: int
    alerted: int
    first_seconds: float | None
    covered_seconds: float | None
    reached_by_call: int
    reached_by_sms: int
    failures: list[Failure] = field(default_factory=list)
    previous: Readiness | None = None

    @property
    def change_seconds(self) -> float | None:
        """Seconds to cover the group, this drill minus the one before (negative: faster); None if either never was."""
        if self.previous is None or self.covered_seconds is None or self.previous.covered_seconds is None:
            return None
        return self.covered_seconds - self.previous.covered_seconds


def measure(drill: Drill) -> Readiness:
    """Readiness of one drill, from its incident's deliveries and answers (pure over loaded rows)."""
    incident = drill.incident
    group = drill.group
    needed = max(1, group.min_acceptances)
    blank = Readiness(
        drill=drill, village=group.village.name, group=group.name, run_at=drill.run_at, needed=needed, accepted=0,
        alerted=0, first_seconds=None, covered_seconds=None, reached_by_call=0, reached_by_sms=0,
    )
    if incident is None:
        return blank
    accepts: list[datetime] = []
    seen: set[str] = set()
    for response in sorted(incident.responses, key=lambda r: (r.received_at, r.id)):
        who = str(response.member_id or response.phone)
        if response.answer == Answer.ACCEPT and who not in seen:
            seen.add(who)
            accepts.append(response.received_at)
    deliveries = [n for n in incident.notifications if n.purpose in MEMBER_PURPOSES]
    blank.accepted = len(accepts)
    blank.alerted = len({n.member_id or n.phone for n in deliveries if n.purpose == Purpose.ALERT})
    blank.first_seconds = (accepts[0] - incident.opened_at).total_seconds() if accepts else None
    if len(accepts) >= needed:
        blank.covered_seconds = (accepts[needed - 1] - incident.opened_at).total_seconds()
    blank.reached_by_call = _reached(deliveries, Channel.CALL, CALL_REACHED)
    blank.reached_by_sms = _reached(deliveries, Channel.SMS, SMS_REACHED)
    blank.failures = _failures(deliveries, drill)
    return blank


def _reached(deliveries: Iterable[Notification], channel: Channel, statuses: frozenset[str]) -> int:
    return len({n.member_id or n.phone for n in deliveries if n.channel == channel and n.status in statuses})


def _failures(deliveries: list[Notification], drill: Drill) -> list[Failure]:
    """Numbers never reached on a channel, with the last reason; members opted out of SMS are listed too."""
    reached = {
        (n.phone, str(n.channel)) for n in deliveries
        if n.status in (CALL_REACHED if n.channel == Channel.CALL else SMS_REACHED)
    }
    last: dict[tuple[str, str], Notification] = {}
    for notification in sorted(deliveries, key=lambda n: n.id):
        key = (notification.phone, str(notification.channel))
        if key not in reached and notification.status in NOT_REACHED:
            last[key] = notification
    failures = [
        Failure(n.recipient_name, n.phone, str(n.channel), n.failure_reason or n.status) for n in last.values()
    ]
    for member in drill.group.members:
        if member.active and member.opted_out and member.id != drill.household_id:
            failures.append(Failure(member.name, member.phone, str(Channel.SMS), "opted_out"))
    return failures


def _drills(session: Session, station: Station, since: datetime | None = None) -> list[Drill]:
    query = (
        select(Drill)
        .where(Drill.station_id == station.id, Drill.incident_id.is_not(None))
        .options(selectinload(Drill.incident), selectinload(Drill.group))
        .order_by(Drill.run_at, Drill.id)
    )
    if since is not None:
        query = query.where(Drill.run_at >= since)
    return list(session.scalars(query))


def group_history(session: Session, station: Station) -> dict[int, list[Readiness]]:
    """Every drill of the station's groups, oldest first per group, each linked to the one before."""
    history: dict[int, list[Readiness]] = {}
    for drill in _drills(session, station):
        measured = measure(drill)
        earlier = history.setdefault(drill.group_id, [])
        measured.previous = earlier[-1] if earlier else None
        earlier.append(measured)
    return history


def standard_seconds(settings: Settings, station: Station) -> int:
    """Seconds within which a drill's group must be covered: the station's own, else the setting."""
    return station.drill_standard_seconds or settings.drill_standard_seconds


@dataclass(frozen=True)
class Ranked:
    """One group in a station's report: its latest drill, its place, and whether it meets the standard."""

    rank: int
    readiness: Readiness
    misses_standard: bool


@dataclass(frozen=True)
class Undrilled:
    """A group of the station that has had no drill yet: it misses the standard until one covers it in time."""

    group_id: int
    village: str
    group: str


@dataclass(frozen=True)
class StationReport:
    station: Station
    standard: int
    rows: list[Ranked]
    never_drilled: list[Undrilled] = field(default_factory=list)

    @property
    def missing(self) -> list[Ranked]:
        """The drilled groups whose latest drill missed the standard."""
        return [row for row in self.rows if row.misses_standard]

    @property
    def missing_count(self) -> int:
        """Groups that miss the standard: those whose latest drill missed it, and those never drilled."""
        return len(self.missing) + len(self.never_drilled)

    @property
    def group_count(self) -> int:
        return len(self.rows) + len(self.never_drilled)


def _order(readiness: Readiness) -> tuple[float, float, str, str]:
    never = float("inf")
    covered = readiness.covered_seconds if readiness.covered_seconds is not None else never
    first = readiness.first_seconds if readiness.first_seconds is not None else never
    return covered, first, readiness.village, readiness.group


def station_report(session: Session, settings: Settings, station: Station) -> StationReport:
    """The station's groups by their latest drill, fastest covered first; groups never covered last.

    A group misses the standard when its latest drill was not covered within
    :func:`standard_seconds` (or not at all). Groups never drilled come
    apart (``never_drilled``, by village and group) and miss it too.
    """
    standard = standard_seconds(settings, station)
    history = group_history(session, station)
    latest = [drills[-1] for drills in history.values() if drills]
    rows = [
        Ranked(
            rank=index,
            readiness=readiness,
            misses_standard=readiness.covered_seconds is None or readiness.covered_seconds > standard,
        )
        for index, readiness in enumerate(sorted(latest, key=_order), start=1)
    ]
    never = [
        Undrilled(group_id, village, group)
        for group_id, village, group in session.execute(
            select(Group.id, Village.name, Group.name)
            .join(Village, Group.village_id == Village.id)
            .where(Village.station_id == station.id)
            .order_by(Village.name, Group.name, Group.id)
        )
        if not history.get(group_id)
    ]
    return StationReport(station=station, standard=standard, rows=rows, never_drilled=never)


HEADINGS = {
    "zh": [
        "排名", "村", "小组", "演练时间", "首个响应（秒）", "达到所需人数（秒）", "所需人数", "响应人数", "通知人数",
        "电话接通", "短信送达", "未达到的号码", "较上次（秒）", "是否达标",
    ],
    "en": [
        "Rank", "Village", "Group", "Drill time", "First response (s)", "Covered (s)", "Needed", "Accepted",
        "Alerted", "Reached by call", "Reached by SMS", "Numbers not reached", "Change since last (s)",
        "Meets standard",
    ],
}


def _seconds(value: float | None) -> int | str:
    return round(value) if value is not None else ""


NOT_DRILLED = {"zh": "未演练", "en": "not drilled yet"}


def report_table(report: StationReport, language: str, zone: ZoneInfo) -> list[list[object]]:
    """The report as rows for CSV or Excel, headings first; times in ``zone``; groups never drilled last."""
    words = "zh" if language == "zh" else "en"
    yes, no = ("是", "否") if words == "zh" else ("yes", "no")
    separator = "；" if words == "zh" else "; "
    table: list[list[object]] = [list(HEADINGS[words])]
    for row in report.rows:
        ready = row.readiness
        failures = separator.join(
            f"{failure.name} {failure.phone} {reason_text(words, failure.channel)}:{reason_text(words, failure.reason)}"
            for failure in ready.failures
        )
        table.append([
            row.rank, ready.village, ready.group, ready.run_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            _seconds(ready.first_seconds), _seconds(ready.covered_seconds), ready.needed, ready.accepted,
            ready.alerted, ready.reached_by_call, ready.reached_by_sms, failures, _seconds(ready.change_seconds),
            no if row.misses_standard else yes,
        ])
    for group in report.never_drilled:
        table.append(["", group.village, group.group, NOT_DRILLED[words], *[""] * 9, no])
    return table
