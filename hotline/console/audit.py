"""Writing and reading the audit log of directory, user and station setting changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.console.scope import Viewer, scoped
from hotline.models import AuditLog, Group, Member, Station, User

CLI_ACTOR = "cli"


def member_snapshot(member: Member) -> dict[str, Any]:
    """A member as the audit log keeps it (JSON-safe)."""
    return {
        "id": member.id,
        "group_id": member.group_id,
        "group": f"{member.group.village.name}/{member.group.name}" if member.group else None,
        "name": member.name,
        "phone": member.phone,
        "role": str(member.role),
        "address": member.address,
        "active": bool(member.active),
        "opted_out": bool(member.opted_out),
        "sms_capable": bool(member.sms_capable),
    }


def group_snapshot(group: Group, *, with_members: bool = False) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "id": group.id,
        "village": group.village.name,
        "name": group.name,
        "ring_mode": str(group.ring_mode),
        "min_acceptances": group.min_acceptances,
    }
    if with_members:
        snapshot["members"] = [member_snapshot(member) for member in group.members]
    return snapshot


def user_snapshot(user: User) -> dict[str, Any]:
    """A user without any secret: hashes never go into the log."""
    return {
        "id": user.id,
        "username": user.username,
        "station_id": user.station_id,
        "has_api_token": user.api_token_hash is not None,
    }


def record_audit(
    session: Session,
    *,
    actor_id: int | None,
    actor: str,
    station_id: int | None,
    entity: str,
    entity_id: int | None,
    action: str,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one audit entry, in the same transaction as the change it describes.

    Args:
        actor_id: The user who made the change; None from the command line.
        actor: Their username at the time (``"cli"`` from the command line).
        station_id: The station whose directory or staff changed; its staff
            can read the entry.
    """
    entry = AuditLog(
        user_id=actor_id,
        actor=actor,
        station_id=station_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        summary=summary,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


# A station setting the console and the command line change, by the audit action that records it.
STATION_SETTINGS = {"quiet_hours": "quiet_hours", "drill_standard": "drill_standard_seconds"}


def record_station_setting(
    session: Session,
    *,
    actor_id: int | None,
    actor: str,
    station: Station,
    action: str,
    before: str | int | None,
    after: str | int | None,
) -> AuditLog | None:
    """Log a change of one of :data:`STATION_SETTINGS` (None: the service default); nothing when it did not change."""
    if before == after:
        return None
    field = STATION_SETTINGS[action]
    return record_audit(
        session,
        actor_id=actor_id,
        actor=actor,
        station_id=station.id,
        entity="station",
        entity_id=station.id,
        action=action,
        summary=station.name,
        before={field: before},
        after={field: after},
    )


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Keys whose values differ between two snapshots, for a short listing."""
    before, after = before or {}, after or {}
    return sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key) and key != "members")


def audit_page(session: Session, viewer: Viewer, page: int = 1, per_page: int = 50) -> tuple[list[AuditLog], int]:
    """Newest entries first, and the number of pages."""
    total = session.scalar(scoped(select(func.count(AuditLog.id)), viewer, AuditLog)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    query = scoped(select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()), viewer, AuditLog)
    return list(session.scalars(query.limit(per_page).offset((page - 1) * per_page))), pages
