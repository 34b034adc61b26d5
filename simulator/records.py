"""Plain records the simulator's flows share: how TwiML and a Dial ended, SMS messages, conference rooms.

This module imports none of the simulator's other modules, so the runtime
(which holds messages and rooms) and every flow (which produce them) can all
depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Outcome(Enum):
    """How a leg's TwiML ended."""

    END = "end"  # ran off the end of the document
    HANGUP = "hangup"  # <Hangup/>
    REJECT = "reject"  # <Reject/> before the call was answered
    ERROR = "error"  # a document could not be fetched or parsed


@dataclass(frozen=True)
class DialResult:
    """How a ``<Dial>`` ended, as reported to its ``action`` URL.

    ``caller_gone`` holds the reason when the caller's leg ended during the
    Dial; the action is still posted but its TwiML is not run.
    """

    status: str
    dial_call_sid: str | None = None
    duration: int | None = None
    caller_gone: str | None = None

    def action_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"DialCallStatus": self.status}
        if self.dial_call_sid:
            params["DialCallSid"] = self.dial_call_sid
        if self.duration is not None:
            params["DialCallDuration"] = self.duration
        return params

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dial_call_sid": self.dial_call_sid,
            "duration": self.duration,
            "caller_gone": self.caller_gone,
        }


@dataclass(eq=False)
class Message:
    """One SMS. ``direction`` is outbound-api (hotline to phone) or inbound (phone to hotline)."""

    sid: str
    direction: str
    from_: str
    to: str
    body: str
    status: str
    created_at: float
    status_callback: str | None = None
    error_code: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "body": self.body,
            "status": self.status,
            "created_at": round(self.created_at, 3),
            "error_code": self.error_code,
            "history": [dict(h) for h in self.history],
        }


@dataclass(eq=False)
class Participant:
    """One call's stay in a conference room; ``left_at`` stays ``None`` while it is there."""

    call_sid: str
    phone: str
    joined_at: float
    start_conference_on_enter: bool
    end_conference_on_exit: bool
    left_at: float | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "phone": self.phone,
            "joined_at": round(self.joined_at, 3),
            "left_at": None if self.left_at is None else round(self.left_at, 3),
            "start_conference_on_enter": self.start_conference_on_enter,
            "end_conference_on_exit": self.end_conference_on_exit,
        }


@dataclass(eq=False)
class Room:
    """One conference. ``status`` is init (waiting to start), in-progress or completed."""

    name: str
    sid: str
    created_at: float
    status: str = "init"
    started_at: float | None = None
    ended_at: float | None = None
    participants: list[Participant] = field(default_factory=list)
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_events: frozenset[str] = frozenset()
    sequence: int = 0

    def present(self) -> list[Participant]:
        return [p for p in self.participants if p.left_at is None]

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sid": self.sid,
            "status": self.status,
            "created_at": round(self.created_at, 3),
            "started_at": None if self.started_at is None else round(self.started_at, 3),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
            "participants": [p.snapshot() for p in self.participants],
            "present": [p.phone for p in self.present()],
        }
