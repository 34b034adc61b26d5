"""Extension instances and shared accessors, importable from every layer.

The instances are bound to an app in :func:`hotline.app.create_app`; nothing
here reads the environment or opens a connection when it is imported.
"""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from config.settings import Settings
from hotline.db import Database
from hotline.queues import Queues

SETTINGS_KEY = "hotline.settings"

db = Database()
queues = Queues()


def get_settings(app: Flask | None = None) -> Settings:
    """The validated settings ``app`` (by default the current app) was created with."""
    return cast(Settings, (app or current_app).extensions[SETTINGS_KEY])
