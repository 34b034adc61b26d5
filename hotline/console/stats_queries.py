"""Loading what the statistics and group health need, scoped to the viewer."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hotline.console.present import FAILED_DELIVERY
from hotline.console.queries import IncidentFilter, first_accepts
from hotline.console.scope import Viewer, scoped
from hotline.console.stats import Fact
from hotline.models import Group, Incident, Member, Notification, Village

MIN_REACHABLE = 3  # a group with fewer reachable members cannot be relied on


def load_facts(session: Session, viewer: Viewer, flt: IncidentFilter, zone: ZoneInfo) -> list[Fact]:
    """One :class:`Fact` per filtered incident the viewer may see, oldest first."""
    first = first_accepts()
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
            first.c.first_accept_at,
        )
        .outerjoin(Group, Incident.group_id == Group.id)
        .outerjoin(Village, Group.village_id == Village.id)
        .outerjoin(first, first.c.incident_id == Incident.id)
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
    latest = (
        select(func.max(Notification.id).label("id"))
        .join(Member, Member.id == Notification.member_id)
        # A backup number's delivery (hotline/services/backup.py) says nothing of the member's own number.
        .where(Notification.member_id.in_(member_ids), Notification.phone == Member.phone)
        .group_by(Notification.member_id, Notification.channel)
        .subquery("latest")
    )
    rows = session.execute(
        select(Notification.member_id, Notification.channel, Notification.status)
        .join(latest, Notification.id == latest.c.id)
        .where(Notification.status.in_(sorted(FAILED_DELIVERY)))
    )
    failures: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for member_id, channel, status in rows:
        if member_id is not None:  # always so: the query asks for these members
            failures[member_id].append((str(channel), status))
    return failures


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
