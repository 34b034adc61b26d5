"""The simulator's chronological event log, read by tests and the browser phone."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from simulator.clock import Clock, iso_now


class EventLog:
    """An append-only list of events, each a dict with ``seq``, ``at``, ``time`` and ``kind``.

    ``seq`` starts at 1 and only grows (also across :meth:`clear`), so a live page
    can poll ``since=<last seq>`` and never see an event twice. ``at`` is simulated
    seconds since the simulator started; ``time`` is the UTC wall clock. Only
    the newest ``max_events`` are kept.
    """

    def __init__(
        self, clock: Clock, on_append: Callable[[], None] | None = None, *, max_events: int = 50_000
    ) -> None:
        self._clock = clock
        self._on_append = on_append
        self._max_events = max_events
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._seq = 0

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one event and return a copy of it."""
        with self._lock:
            self._seq += 1
            event = {"seq": self._seq, "at": round(self._clock.now(), 3), "time": iso_now(), "kind": kind}
            event.update(fields)
            self._events.append(event)
            if len(self._events) > self._max_events:
                # A server left running for days keeps only the recent past.
                del self._events[: len(self._events) - self._max_events]
            snapshot = copy.deepcopy(event)
        if self._on_append is not None:
            self._on_append()
        return snapshot

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        """Copies of the events whose ``seq`` is greater than ``seq``, oldest first."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._events if e["seq"] > seq]

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the newest event ever logged (0 if none)."""
        with self._lock:
            return self._seq

    def clear(self) -> None:
        """Forget all events; numbering carries on so pollers are not confused."""
        with self._lock:
            self._events.clear()
