"""The console's blueprints, one per area: auth, board, incidents, stats, directory, api."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")


def make_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> Blueprint:
    """A blueprint that finds its templates in ``hotline/console/templates``."""
    return Blueprint(name, import_name, url_prefix=url_prefix, template_folder=TEMPLATES)
