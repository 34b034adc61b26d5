"""Trigger sources: alarm buttons, operators' group-call platforms and other systems that raise alerts over HTTP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.directory import Station


class TriggerSource(Base):
    """One system allowed to raise alerts for one station, with its own bearer token (only the hash is kept)."""

    __tablename__ = "trigger_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    station: Mapped[Station] = relationship()


class TriggerAlert(Base):
    """One alert a source raised, once per idempotency key: the key's second request finds the first incident."""

    __tablename__ = "trigger_alerts"
    __table_args__ = (UniqueConstraint("source_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("trigger_sources.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    caller_phone: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
