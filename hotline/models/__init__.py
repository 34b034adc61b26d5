"""Database models. Import from here: ``from hotline.models import Member``."""

from hotline.models.audit import AuditLog
from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.broadcasts import Broadcast, BroadcastChannel, BroadcastOptOut, BroadcastStatus
from hotline.models.directory import Group, Member, RingMode, Role, Station, User, Village
from hotline.models.drills import Drill, DrillSchedule, DrillScope
from hotline.models.events import EventKind
from hotline.models.incidents import (
    Answer,
    Channel,
    InboundMessage,
    Incident,
    IncidentStatus,
    Notification,
    Purpose,
    Response,
    TimelineEvent,
)
from hotline.models.triggers import TriggerAlert, TriggerSource

__all__ = [
    "Answer",
    "AuditLog",
    "Base",
    "Broadcast",
    "BroadcastChannel",
    "BroadcastOptOut",
    "BroadcastStatus",
    "Channel",
    "Drill",
    "DrillSchedule",
    "DrillScope",
    "EventKind",
    "Group",
    "InboundMessage",
    "Incident",
    "IncidentStatus",
    "Member",
    "Notification",
    "Purpose",
    "Response",
    "RingMode",
    "Role",
    "Station",
    "TimelineEvent",
    "TriggerAlert",
    "TriggerSource",
    "UTCDateTime",
    "User",
    "Village",
    "utcnow",
]
