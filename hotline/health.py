"""``GET /healthz``: is the database reachable, is Redis reachable."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from hotline.extensions import db, queues

bp = Blueprint("health", __name__)


def _check_database() -> str | None:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not reachable"; the reason is reported
        db.session.rollback()
        return type(exc).__name__
    return None


def _check_redis() -> str | None:
    try:
        queues.connection.ping()
    except Exception as exc:  # any failure means "not reachable"; the reason is reported
        return type(exc).__name__
    return None


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when both the database and Redis answer, 503 otherwise."""
    problems = {"database": _check_database(), "redis": _check_redis()}
    body = {name: ("ok" if error is None else f"error: {error}") for name, error in problems.items()}
    healthy = all(error is None for error in problems.values())
    body["status"] = "ok" if healthy else "unavailable"
    return jsonify(body), 200 if healthy else 503
