"""``POST /api/alerts``: an alarm button, an operator's group-call platform or another system raises an alert.

Authenticated by a trigger source's bearer token (``hotline triggers add``).
The body is JSON: ``{"caller": "+86…", "idempotency_key": "…", "note": "…"}``.
The answer is 202 with the incident's id, the same for every request with
the same key; 401 without a valid token, 400 for a malformed body, 403 for a
caller in another station's group.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from hotline.extensions import db, get_carrier, get_settings, queues
from hotline.phones import PhoneError, parse_phone
from hotline.services.outbox import dispatch_from_request
from hotline.services.triggers import OtherStation, raise_alert, source_for_token

log = logging.getLogger(__name__)

bp = Blueprint("trigger_api", __name__, url_prefix="/api")

MAX_KEY = 200
MAX_NOTE = 500


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool) -> str | None:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        return None
    return value.strip()


@bp.post("/alerts")
def raise_from_trigger() -> tuple[Response, int]:
    """Open (or find again) the incident of one alert; 202 with its id."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    source = source_for_token(db.session, token.strip()) if scheme.lower() == "bearer" else None
    if source is None:
        return _error(401, "a trigger source's bearer token is required")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "expected a JSON object")
    settings = get_settings()
    raw_caller = _text(body, "caller", 40, required=True)
    key = _text(body, "idempotency_key", MAX_KEY, required=True)
    note = _text(body, "note", MAX_NOTE, required=False)
    if raw_caller is None or key is None or note is None:
        return _error(400, f"caller and idempotency_key (at most {MAX_KEY} characters) are required; note is text")
    try:
        caller = parse_phone(raw_caller, settings.default_region).e164
    except PhoneError as exc:
        return _error(400, f"caller: {exc}")
    try:
        raised = raise_alert(
            db.session, settings, source, caller_phone=caller, idempotency_key=key, note=note,
            capabilities=get_carrier().capabilities,
        )
        db.session.commit()
    except OtherStation as exc:
        db.session.rollback()
        return _error(403, str(exc))
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("database unavailable for an alert from trigger source %s", source.name)
        return _error(503, "database unavailable; send the same request again")
    dispatch_from_request(queues.queue, raised.work)
    return jsonify({"incident_id": raised.incident.id, "created": raised.created}), 202
