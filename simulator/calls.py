"""Call legs: their state, statuses and the snapshot tests and pages read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.phones import Script

FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
NOT_ANSWERED = frozenset({"queued", "initiated", "ringing"})

INBOUND = "inbound"
OUTBOUND_DIAL = "outbound-dial"
OUTBOUND_API = "outbound-api"


class CallGone(Exception):
    """The call must stop now: someone hung up, it was canceled, or the simulator is stopping.

    Raised out of waits so the code running a call unwinds to the place that
    finishes it; ``reason`` says who ended it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Call:
    """One call leg. Mutated only under the simulator's lock.

    Attributes:
        phone: The virtual phone on this leg: the caller for an inbound call,
            the callee for outbound legs. What it hears goes in ``transcript``.
        stop_reason: Set when the leg must end (``caller-hangup``, ``callee-hangup``,
            ``lost`` when another leg won the Dial, ``reset``...).
        stop_status: Final status to use if the leg is stopped before answering
            (``canceled``, ``no-answer``, ``busy``).
        keypad: Digits keyed and not yet taken by a ``<Gather>``.
        auto_press: Digits the phone keys by itself at each ``<Gather>``.
        hangup_deadline: ``time.monotonic()`` at which the phone hangs up by itself.
        done: True once the final status callback has been posted.
    """

    sid: str
    direction: str
    from_: str
    to: str
    phone: str
    script: Script
    parent_sid: str | None = None
    status: str = "queued"
    created_at: float = 0.0
    answered_at: float | None = None
    ended_at: float | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_events: frozenset[str] = frozenset({"completed"})
    sequence: int = 0
    transcript: list[dict[str, Any]] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    keypad: str = ""
    auto_press: str | None = None
    press_after: float = 1.0
    manual: bool = False
    legs: list[str] = field(default_factory=list)
    bridged_with: str | None = None
    bridged_at: float | None = None
    conference: str | None = None
    screening: bool = False
    stop_reason: str | None = None
    stop_status: str | None = None
    answer_requested: bool = False
    reject_requested: bool = False
    hangup_deadline: float | None = None
    dial_results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    ended_by: str | None = None
    done: bool = False

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    def duration(self) -> int:
        """Whole simulated seconds from answer to end (or to now-less: 0 while live)."""
        if self.answered_at is None or self.ended_at is None:
            return 0
        return round(self.ended_at - self.answered_at)

    def heard(self) -> list[str]:
        """The text of every ``<Say>`` this leg's phone heard, in order."""
        return [entry["text"] for entry in self.transcript if entry["kind"] == "say"]

    def summary(self) -> dict[str, Any]:
        """The few fields that describe a Dial leg inside its parent's snapshot."""
        return {
            "sid": self.sid,
            "to": self.to,
            "phone": self.phone,
            "status": self.status,
            "bridged": self.bridged_with is not None,
            "duration": self.duration(),
        }

    def snapshot(self, registry: Mapping[str, Call]) -> dict[str, Any]:
        """A JSON-ready copy of the call's state; ``registry`` resolves leg sids to legs."""
        return {
            "sid": self.sid,
            "direction": self.direction,
            "from": self.from_,
            "to": self.to,
            "phone": self.phone,
            "parent_sid": self.parent_sid,
            "status": self.status,
            "created_at": round(self.created_at, 3),
            "answered_at": None if self.answered_at is None else round(self.answered_at, 3),
            "ended_at": None if self.ended_at is None else round(self.ended_at, 3),
            "duration": self.duration(),
            "heard": self.heard(),
            "transcript": [dict(entry) for entry in self.transcript],
            "digits": list(self.digits),
            "legs": [registry[sid].summary() for sid in self.legs if sid in registry],
            "bridged": self.bridged_with is not None,
            "bridged_with": self.bridged_with,
            "conference": self.conference,
            "screening": self.screening,
            "manual": self.manual,
            "dial_results": [dict(result) for result in self.dial_results],
            "errors": [dict(error) for error in self.errors],
            "ended_by": self.ended_by,
            "done": self.done,
        }
