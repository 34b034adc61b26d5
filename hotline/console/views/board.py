"""The live board: the most urgent incidents not yet closed, refreshed every few seconds."""

from __future__ import annotations

from typing import Any

from flask import jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from hotline.console import queries
from hotline.console.access import protect
from hotline.console.i18n import localtime
from hotline.console.present import (
    ANSWER_LABELS,
    CHANNEL_LABELS,
    DUTY_LINE_LEVEL,
    INCIDENT_STATUS_LABELS,
    iso,
    label,
    level_label,
    phone_text,
)
from hotline.console.views import make_blueprint
from hotline.console.views.common import session, viewer
from hotline.models import IncidentStatus, utcnow

bp = protect(make_blueprint("board", __name__))
REFRESH_SECONDS = 5


def board_json(entries: list[queries.BoardEntry]) -> list[dict[str, Any]]:
    """The board's rows as JSON, with labels in the request's language."""
    rows = []
    for entry in entries:
        incident = entry.row.incident
        rows.append(
            {
                "id": incident.id,
                "url": url_for("incidents.detail", incident_id=incident.id),
                "opened_at": iso(incident.opened_at),
                "opened_local": localtime(incident.opened_at, "%m-%d %H:%M:%S"),
                "elapsed_seconds": round(entry.elapsed_seconds),
                "village": entry.row.village,
                "group": entry.row.group,
                "caller_name": incident.caller_name,
                "caller_phone": incident.caller_phone,
                "caller_phone_text": phone_text(incident.caller_phone),
                "is_drill": incident.is_drill,
                # Only city-wide users see these: no station's staff will take it until one is assigned.
                "needs_station": incident.station_id is None,
                "status": str(incident.status),
                "status_label": label(INCIDENT_STATUS_LABELS, str(incident.status)),
                "escalation_level": incident.escalation_level,
                "level_label": level_label(incident.escalation_level),
                # How far an unanswered alert has climbed: the board colours rows by it, and
                # sounds once when one reaches the duty line.
                "urgency": min(incident.escalation_level, 3) if incident.status == IncidentStatus.OPEN else 0,
                "alarm": incident.status == IncidentStatus.OPEN and incident.escalation_level >= DUTY_LINE_LEVEL,
                "accepted": incident.accepted_count,
                "needed": incident.group.min_acceptances if incident.group is not None else 1,
                "taken_by": incident.taken_by.username if incident.taken_by is not None else None,
                "responders": [
                    {
                        "name": response.responder_name or phone_text(response.phone),
                        "answer": str(response.answer),
                        "answer_label": label(ANSWER_LABELS, str(response.answer)),
                        "channel_label": label(CHANNEL_LABELS, str(response.channel)),
                        "seconds": round((response.received_at - incident.opened_at).total_seconds()),
                    }
                    for response in entry.responses
                ],
            }
        )
    return rows


@bp.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("board.index"))


@bp.get("/board")
def index() -> ResponseReturnValue:
    found = queries.board(session(), viewer(), utcnow())
    return render_template(
        "console/board.html", rows=board_json(found.entries), more=found.more, refresh_seconds=REFRESH_SECONDS
    )


@bp.get("/board.json")
def data() -> ResponseReturnValue:
    """The most urgent open incidents (at most ``queries.BOARD_LIMIT``) and how many more are open."""
    found = queries.board(session(), viewer(), utcnow())
    return jsonify(incidents=board_json(found.entries), more=found.more, refresh_seconds=REFRESH_SECONDS)
