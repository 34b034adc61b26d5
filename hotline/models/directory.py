"""The directory: stations, villages, joint-defence groups, members and staff."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.settings import MAX_ESCALATION_DELAY
from hotline.models.base import Base, UTCDateTime, utcnow


class Role(enum.StrEnum):
    """What a member does in a group."""

    HOUSEHOLD = "household"  # 求助户
    LEADER = "leader"  # 联防组长
    ASSISTANT = "assistant"  # 警务助理
    OFFICER = "officer"  # 社区民警

    @property
    def may_call_for_help(self) -> bool:
        """Households and leaders raise alerts, so their number must find one group."""
        return self in (Role.HOUSEHOLD, Role.LEADER)


class RingMode(enum.StrEnum):
    """How a group's phones are rung when an alert opens."""

    SIMULTANEOUS = "simultaneous"  # one <Dial> with every member; first to accept is bridged
    CONFERENCE = "conference"  # every member called into one conference with the caller


class Station(Base):
    """A police station (派出所); it owns villages and reviews their alerts."""

    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    duty_phone: Mapped[str | None] = mapped_column(String(20))
    # The number villagers of this station dial, when it has one of its own; the called number
    # then tells which station a call (or an unregistered caller) belongs to.
    hotline_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    # Comma-separated seconds per escalation level; NULL means the global default.
    escalation_delays: Mapped[str | None] = mapped_column(String(100))
    max_group_size: Mapped[int | None] = mapped_column(Integer)
    # Seconds within which a drill's group must be covered; NULL means HOTLINE_DRILL_STANDARD_SECONDS.
    drill_standard_seconds: Mapped[int | None] = mapped_column(Integer)
    # Hours no spoken broadcast is placed, e.g. "21:00-08:00"; NULL means HOTLINE_QUIET_HOURS.
    quiet_hours: Mapped[str | None] = mapped_column(String(11))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    villages: Mapped[list[Village]] = relationship(back_populates="station", order_by="Village.name")

    def delays(self, default: tuple[int, ...]) -> tuple[int, ...]:
        """Seconds to wait before each escalation level fires."""
        if not self.escalation_delays:
            return default
        # A delay saved before delays had a bound is read as the longest allowed, so the next level has a date.
        return tuple(min(int(part), MAX_ESCALATION_DELAY) for part in self.escalation_delays.split(","))

    def group_capacity(self, default: int) -> int:
        """How many members one of this station's groups may hold."""
        return self.max_group_size or default


class Village(Base):
    """An administrative village (行政村), under one station."""

    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("station_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    station: Mapped[Station] = relationship(back_populates="villages")
    groups: Mapped[list[Group]] = relationship(back_populates="village", order_by="Group.name")


class Group(Base):
    """A joint-defence group (联防小组): the phones that ring together."""

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    ring_mode: Mapped[RingMode] = mapped_column(
        String(20), default=RingMode.SIMULTANEOUS, server_default=RingMode.SIMULTANEOUS.value
    )

    # How many members must accept before the alert counts as covered and escalation stops.
    min_acceptances: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    village: Mapped[Village] = relationship(back_populates="groups")
    members: Mapped[list[Member]] = relationship(back_populates="group", order_by="Member.id")

    @property
    def station(self) -> Station:
        return self.village.station


class Member(Base):
    """One phone number serving in one group, in one role."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("group_id", "phone"),
        # A caller's number must lead to exactly one group.
        Index(
            "uq_members_caller_phone",
            "phone",
            unique=True,
            sqlite_where=text("role IN ('household', 'leader')"),
            postgresql_where=text("role IN ('household', 'leader')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # A second number (often a son's or daughter's), rung and texted when the first cannot be reached.
    backup_phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[Role] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Landlines can be called but not texted.
    sms_capable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group: Mapped[Group] = relationship(back_populates="members")

    @property
    def reachable_by_sms(self) -> bool:
        return self.active and self.sms_capable and not self.opted_out


class User(Base):
    """A member of station staff, or a city-wide user when ``station_id`` is NULL."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    api_token_hash: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Raised to sign the user out everywhere (sign-out, a new password, disabling):
    # a session is honoured only while it carries the current value.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A disabled user cannot sign in, and their sessions and API token stop working.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    station: Mapped[Station | None] = relationship()

    @property
    def city_wide(self) -> bool:
        return self.station_id is None
