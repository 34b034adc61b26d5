"""Alerts and what happened to them: incidents, notifications, responses, timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.directory import Group, Member, Station, User


class IncidentStatus(enum.StrEnum):
    OPEN = "open"  # alerted, nobody has accepted yet
    ACKNOWLEDGED = "acknowledged"  # somebody accepted a call or replied 1
    CLOSED = "closed"  # reviewed and closed by station staff


class Channel(enum.StrEnum):
    SMS = "sms"
    CALL = "call"


class Purpose(enum.StrEnum):
    """Why a notification was sent."""

    ALERT = "alert"  # the group's fan-out
    CONFIRMATION = "confirmation"  # to the caller: N members were alerted
    ACK_NOTICE = "ack_notice"  # to everyone else: X is on the way
    ESCALATION = "escalation"  # to officers/assistant, then the duty line
    HELP = "help"  # answer to a reply that was not understood
    RECEIPT = "receipt"  # answer to a reply that came too late to matter
    RECALL = "recall"  # a member who had not answered, called again
    CALLER_CHECK = "caller_check"  # a call back to a caller whose call dropped: still need help?
    TAKEN_NOTICE = "taken_notice"  # to the caller and group: station staff have taken charge
    CANCEL_NOTICE = "cancel_notice"  # to everyone alerted: a misdial, nobody need come
    ACCEPTED_DETAILS = "accepted_details"  # to a member who accepted: the caller's number and address
    BROADCAST = "broadcast"  # a bulletin or warning to a station's villagers, not about an incident


class Answer(enum.StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


class Incident(Base):
    """One call (or SMS) for help, from opening to closing."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="SET NULL"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"), index=True)
    caller_member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    caller_phone: Mapped[str] = mapped_column(String(32))
    caller_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    source: Mapped[str] = mapped_column(String(10))  # call | sms
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    message_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[IncidentStatus] = mapped_column(String(20), default=IncidentStatus.OPEN, index=True)
    unregistered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_drill: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first accepting response's time, kept by the database (a trigger on responses, migration 0009).
    first_accept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    # Members who accepted so far; the alert is covered once the group's minimum is reached.
    accepted_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A member of station staff who took the incident in hand from the console ("我来处理").
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Highest escalation level fired so far; the fence that lets each level fire once.
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The highest level this incident may escalate to; NULL: every level. A drill without the duty line stops at 1.
    escalation_cap: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(20))
    close_note: Mapped[str | None] = mapped_column(Text)

    station: Mapped[Station | None] = relationship()
    group: Mapped[Group | None] = relationship()
    caller: Mapped[Member | None] = relationship(foreign_keys=[caller_member_id])
    acknowledged_by: Mapped[Member | None] = relationship(foreign_keys=[acknowledged_by_id])
    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_id])
    notifications: Mapped[list[Notification]] = relationship(
        back_populates="incident", order_by="Notification.id"
    )
    responses: Mapped[list[Response]] = relationship(back_populates="incident", order_by="Response.id")
    events: Mapped[list[TimelineEvent]] = relationship(
        back_populates="incident", order_by="(TimelineEvent.at, TimelineEvent.id)"
    )

    @property
    def conference_name(self) -> str:
        return f"hotline-incident-{self.id}"


class Notification(Base):
    """One SMS or call to one number: the outbox row, then its delivery record.

    A notification belongs to whatever sends it: an incident's alert today,
    a broadcast or a drill tomorrow. ``sender`` names the kind and
    ``incident_id`` (or a later sender's own id) the row; nothing in the
    delivery path assumes an incident.

    ``status`` starts as ``pending`` (written, not yet handed to the carrier)
    and then follows :class:`hotline.carriers.base.DeliveryStatus`.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(20), default="incident", server_default="incident")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(32))
    recipient_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    channel: Mapped[Channel] = mapped_column(String(10))
    purpose: Mapped[Purpose] = mapped_column(String(20))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Calls placed by the <Dial> verb are not sent by a worker.
    via_dial: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The template and its values, for carriers that send only registered templates.
    template: Mapped[str] = mapped_column(String(60), default="", server_default="")
    template_params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The carrier's own code, for the record; ``failure_reason`` is what it means.
    error_code: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(30))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # One row per recipient and reason: a retried webhook cannot add a second.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident: Mapped[Incident | None] = relationship(back_populates="notifications")
    member: Mapped[Member | None] = relationship()


class Response(Base):
    """A member's answer: a call accepted with 1, or an SMS reply."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(32))
    responder_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    channel: Mapped[Channel] = mapped_column(String(10))
    answer: Mapped[Answer] = mapped_column(String(10))
    # MessageSid of the reply, or CallSid of the accepting leg: Twilio's retries add nothing.
    source_sid: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="responses")
    member: Mapped[Member | None] = relationship()


class TimelineEvent(Base):
    """One timestamped step in an incident's story."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    incident: Mapped[Incident] = relationship(back_populates="events")


class InboundMessage(Base):
    """Every SMS received, keyed by MessageSid so a retried webhook is handled once."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    handled_as: Mapped[str] = mapped_column(String(20))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
