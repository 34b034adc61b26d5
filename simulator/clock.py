"""Simulated time: every wait the simulator makes is scaled by ``time_scale``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime


class Clock:
    """Converts simulated seconds to real seconds and tells simulated time.

    Simulated durations (answer delays, Dial timeouts, CallDuration) are what a
    real phone network would show; real waits are those times multiplied by
    ``time_scale`` so tests can run ten or twenty times faster.
    """

    def __init__(self, time_scale: float) -> None:
        """Create a clock.

        Raises:
            ValueError: ``time_scale`` is not a positive number, which would make
                every wait zero or negative.
        """
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._origin = time.monotonic()

    def real(self, sim_seconds: float) -> float:
        """Real seconds to wait for ``sim_seconds`` of simulated time (never negative)."""
        return max(0.0, float(sim_seconds)) * self.time_scale

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        return (time.monotonic() - self._origin) / self.time_scale

    def deadline(self, sim_seconds: float) -> float:
        """The ``time.monotonic()`` value ``sim_seconds`` of simulated time from now."""
        return time.monotonic() + self.real(sim_seconds)


def rfc2822_now() -> str:
    """The current UTC time in the RFC 2822 form Twilio puts in ``Timestamp``."""
    return format_datetime(datetime.now(UTC))


def iso_now() -> str:
    """The current UTC wall-clock time, ISO 8601, for event logs."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
