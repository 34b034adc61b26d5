"""Drills: practice alerts that prove a group can be reached, started now or on a schedule."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.directory import Group, Member, Station, Village
from hotline.models.incidents import Incident


class DrillScope(enum.StrEnum):
    """Which of a station's groups one start of a drill covers."""

    GROUP = "group"
    VILLAGE = "village"
    ALL = "all"  # every group of the station


class DrillSchedule(Base):
    """A drill to start later: once at ``next_run_at``, or again and again by an RFC 5545 rule.

    ``next_run_at`` is the fence that starts each occurrence once: the job
    that moves it on (a conditional update from the value it read) is the one
    that starts the drill. It is NULL once nothing is left to run.
    """

    __tablename__ = "drill_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    scope: Mapped[DrillScope] = mapped_column(String(10))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"))
    # RRULE text, e.g. FREQ=MONTHLY;BYDAY=1MO; NULL for a drill that runs once.
    rule: Mapped[str | None] = mapped_column(String(200))
    # The first occurrence; a rule repeats its local time of day in HOTLINE_TIMEZONE.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duty_line: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    station: Mapped[Station] = relationship()
    group: Mapped[Group | None] = relationship()
    village: Mapped[Village | None] = relationship()


class Drill(Base):
    """One group's drill: the incident it opened on behalf of one of its households.

    A scheduled occurrence writes one row per group, unique on the schedule,
    the group and the occurrence, so a second worker cannot start it twice.
    """

    __tablename__ = "drills"
    __table_args__ = (UniqueConstraint("schedule_id", "group_id", "run_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("drill_schedules.id", ondelete="SET NULL"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    # The household (or leader) the drill's alert is raised for; it is not called or texted itself.
    household_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # Whether escalation may go on to the station's duty line (never otherwise).
    duty_line: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(80), default="", server_default="")

    station: Mapped[Station] = relationship()
    group: Mapped[Group] = relationship()
    household: Mapped[Member | None] = relationship()
    schedule: Mapped[DrillSchedule | None] = relationship()
    incident: Mapped[Incident | None] = relationship()
