"""Extension instances and shared accessors, importable from every layer.

The instances are bound to an app in :func:`hotline.app.create_app`; nothing
here reads the environment or opens a connection when it is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from flask import Flask, current_app

from config.settings import Settings
from hotline.carriers import Carrier, build_carrier
from hotline.db import Database
from hotline.queues import Queues

SETTINGS_KEY = "hotline.settings"
CARRIER_KEY = "hotline.carrier"
CLOCK_KEY = "hotline.clock"

Clock = Callable[[], datetime]

db = Database()
queues = Queues()


def get_settings(app: Flask | None = None) -> Settings:
    """The validated settings ``app`` (by default the current app) was created with."""
    return cast(Settings, (app or current_app).extensions[SETTINGS_KEY])


def get_carrier(app: Flask | None = None) -> Carrier:
    """The carrier ``app`` sends through: the one set with :func:`use_carrier`, or
    the one its settings select, built on first use."""
    app = app or current_app
    carrier = app.extensions.get(CARRIER_KEY)
    if carrier is None:
        carrier = app.extensions[CARRIER_KEY] = build_carrier(get_settings(app))
    return cast(Carrier, carrier)


def use_carrier(app: Flask, carrier: Carrier) -> None:
    """Make ``app`` send through ``carrier`` (a test's fake, or a carrier built elsewhere)."""
    app.extensions[CARRIER_KEY] = carrier


def _system_clock() -> datetime:
    return datetime.now(UTC)


def get_clock(app: Flask | None = None) -> Clock:
    """What ``app`` (by default the current app) reads as now, in UTC: the console's sessions time their idling by it.

    The clock set with :func:`use_clock`, or the system's.
    """
    return cast(Clock, (app or current_app).extensions.get(CLOCK_KEY, _system_clock))


def use_clock(app: Flask, clock: Clock) -> None:
    """Make ``app`` read the time from ``clock`` (a test's clock moved by hand), which returns an aware datetime."""
    app.extensions[CLOCK_KEY] = clock
