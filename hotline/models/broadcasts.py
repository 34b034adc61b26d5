"""Broadcasts: bulletins and warnings sent to a station's villagers, and the numbers that opted out of them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.directory import Station


class BroadcastStatus(enum.StrEnum):
    """Where a broadcast stands."""

    SCHEDULED = "scheduled"  # waits for ``next_run_at`` (a repeating one stays so, starting one send each time)
    SENDING = "sending"  # its rows are written and going out
    PAUSED = "paused"  # its unsent rows are held until it is resumed
    DONE = "done"  # every row has gone out (or failed), or a schedule has no more times
    CANCELED = "canceled"  # stopped: its unsent rows will never go


class BroadcastChannel(enum.StrEnum):
    SMS = "sms"
    VOICE = "voice"  # a call that speaks the text; nothing to press
    BOTH = "both"


class Broadcast(Base):
    """One broadcast: what it says, to whom, on which channels, and when.

    A broadcast sent now, or once at a time, writes its outbox rows itself.
    A repeating one (``rule``, an RFC 5545 RRULE read in the station's local
    time) writes none: each time it falls due it starts a copy of itself
    (``parent_id``) that does. ``next_run_at`` is the fence that starts each
    time once: the job that moves it on is the one that starts the send.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True)
    template: Mapped[str] = mapped_column(String(60))
    # The template's values as given (the station's name and the date are filled in when it is written).
    params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The SMS as sent, ending with how to unsubscribe; and the words a call speaks.
    sms_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    voice_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    channel: Mapped[BroadcastChannel] = mapped_column(String(10))
    # The audience: every member of the station, narrowed by villages, groups and roles when given.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[BroadcastStatus] = mapped_column(String(20), index=True)
    rule: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Calls written during the station's quiet hours are held until then (the morning).
    calls_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    station: Mapped[Station] = relationship()
    parent: Mapped[Broadcast | None] = relationship(remote_side=[id])


class BroadcastOptOut(Base):
    """A number that texted TD, 退订 or STOP: it gets no more broadcasts, but every emergency alert still.

    START or 订阅 removes the row.
    """

    __tablename__ = "broadcast_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    # What the number sent ("TD", "退订"), or who recorded it otherwise.
    keyword: Mapped[str] = mapped_column(String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
