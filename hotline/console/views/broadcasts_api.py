"""The broadcasts' JSON API: ``POST /api/broadcasts``, ``GET /api/broadcasts``, ``GET /api/broadcasts/<id>``.

The routes belong to the API blueprint (:mod:`hotline.console.views.api`), so
they take the same session cookie or ``Authorization: Bearer <token>`` and
the same station scoping: station staff broadcast to their own station,
city-wide users to any. A POST signed in by cookie carries the console's CSRF
token (``X-CSRFToken``); one with a token has no cookie to forge.

``POST`` takes JSON: ``station`` (a name or id; a station user's own by
default), ``channel`` (``sms``, ``voice`` or ``both``), ``text`` or
``template`` with ``vars``, optionally ``villages``, ``groups`` (names as on
the command line), ``roles``, ``at`` (ISO 8601, local time unless it has an
offset), ``repeat`` (an RRULE) and ``confirm``. Without ``confirm: true``
nothing is written: the answer is the summary to confirm (200); with it,
the broadcast is saved and started or planned (201).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, jsonify, request
from flask import session as cookie_session
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from hotline.console import csrf
from hotline.console.arguments import MAX_ID
from hotline.console.scope import get_visible_or_404, visible_stations
from hotline.console.views.api import bp
from hotline.console.views.broadcasts import dispatch, progress_json, visible_broadcast
from hotline.console.views.common import id_argument, number_argument, session, settings, viewer, zone
from hotline.extensions import get_carrier
from hotline.models import Broadcast, Station
from hotline.services import broadcasts as service

MAX_LISTED = 200


def _refuse(message: str) -> BadRequest:
    return BadRequest(description=message)


def _station(body: dict[str, Any]) -> Station:
    wanted = body.get("station")
    stations = visible_stations(session(), viewer())
    if wanted is None:
        own = viewer().station_id
        if own is None:
            raise _refuse("station: a city-wide user names the station")
        return get_visible_or_404(session(), viewer(), Station, own)
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if not 1 <= wanted <= MAX_ID:
            abort(404)  # no station can have it
        return get_visible_or_404(session(), viewer(), Station, wanted)
    found = next((s for s in stations if s.name == str(wanted)), None)
    if found is None:
        abort(404)
    return found


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _refuse(f"{name}: a list of names")
    return value


def _summary_json(composed: service.Plan) -> dict[str, Any]:
    found = composed.recipients
    return {
        "station": composed.station.name, "channel": composed.channel, "template": composed.texts.template,
        "recipients": found.numbers, "sms": len(found.sms), "calls": len(found.calls),
        "matched": found.matched, "duplicates": found.duplicates, "opted_out": found.opted_out,
        "no_sms": found.no_sms, "segments_per_sms": composed.texts.segments,
        "segments_total": composed.segments_total, "seconds": composed.seconds,
        "calls_wait_until": composed.calls_wait_until.isoformat() if composed.calls_wait_until else None,
        "sms_text": composed.texts.sms, "voice_text": composed.texts.voice,
    }


@bp.post("/broadcasts")
def create_broadcast() -> ResponseReturnValue:
    if "_user_id" in cookie_session:
        csrf.protect()  # signed in by cookie: a page elsewhere must not post for the user
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _refuse("a JSON object is expected")
    station = _station(body)
    text, kind = body.get("text"), body.get("template")
    if bool(text) == bool(kind) or not isinstance(text or kind, str):
        raise _refuse("text or template: exactly one")
    values = body.get("vars") or {}
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise _refuse("vars: an object of strings")
    if text:
        kind, values = "free", {"text": text}
    at = None
    if body.get("at"):
        try:
            at = datetime.fromisoformat(str(body["at"]))
        except ValueError:
            raise _refuse("at: an ISO 8601 time") from None
        at = at if at.tzinfo else at.replace(tzinfo=zone())
    try:
        audience = service.find_audience(
            session(), station, villages=_strings(body, "villages"), groups=_strings(body, "groups"),
            roles=_strings(body, "roles"),
        )
        composed = service.plan(
            session(), settings(), station, audience=audience, channel=str(body.get("channel", "")),
            kind=str(kind), values={str(k): v for k, v in values.items()},
            carrier=get_carrier(), at=at,
        )
        if body.get("confirm") is not True:
            session().rollback()
            return jsonify(confirmed=False, summary=_summary_json(composed))
        broadcast, ids = service.create(
            session(), settings(), composed, at=at, rule=body.get("repeat") or None, created_by=viewer().username
        )
    except service.BroadcastError as exc:
        session().rollback()
        raise _refuse(str(exc)) from None
    session().commit()
    dispatch(ids)
    return jsonify(confirmed=True, summary=_summary_json(composed), **progress_json(broadcast)), 201


# Cookie-signed requests are checked inside the view; a token request has no cookie to forge.
csrf.exempt(create_broadcast)


@bp.get("/broadcasts")
def list_broadcasts() -> ResponseReturnValue:
    limit = min(number_argument("per_page", 50), MAX_LISTED)
    stations = [s.id for s in visible_stations(session(), viewer())]
    query = select(Broadcast).where(Broadcast.station_id.in_(stations)).order_by(Broadcast.id.desc()).limit(limit)
    wanted = id_argument("station")
    if wanted is not None:
        query = query.where(Broadcast.station_id == wanted)
    listed = list(session().scalars(query))
    counted = service.progress_of(session(), listed)
    return jsonify(items=[progress_json(b, counted=counted[b.id]) for b in listed])


@bp.get("/broadcasts/<int:broadcast_id>")
def get_broadcast(broadcast_id: int) -> ResponseReturnValue:
    return jsonify(progress_json(visible_broadcast(broadcast_id), with_sends=True))
