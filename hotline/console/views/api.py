"""The JSON API under ``/api/``: the console's data, with the console's scoping.

Authenticate with the console's session cookie, or with
``Authorization: Bearer <token>`` (``hotline users token USERNAME``).
Times are UTC in ISO 8601; codes are untranslated (``status: "open"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException

from hotline.console import queries
from hotline.console.access import protect
from hotline.console.present import (
    event_json,
    group_json,
    incident_json,
    member_json,
    notification_json,
    response_json,
)
from hotline.console.scope import get_visible_or_404, visible_groups
from hotline.console.stats import Summary
from hotline.console.views import make_blueprint
from hotline.console.views.board import board_json
from hotline.console.views.common import incident_filter, number_argument, page_number, session, viewer, zone
from hotline.console.views.incidents import page_cursors
from hotline.console.views.stats import compute, stats_filter
from hotline.models import Group, Incident, Member, User, utcnow

bp = protect(make_blueprint("api", __name__, url_prefix="/api"))
MAX_PER_PAGE = 200


@bp.errorhandler(HTTPException)
def json_error(error: HTTPException) -> ResponseReturnValue:
    body: dict[str, Any] = {"error": error.name.lower(), "status": error.code}
    if error.code == 400 and error.description != BadRequest.description:
        # Says which argument was wrong and why (see views.common.refuse_argument).
        body["message"] = error.description
    response = jsonify(body)
    response.status_code = error.code or 500
    return response


def _row_json(row: queries.IncidentRow) -> dict[str, Any]:
    return incident_json(row.incident, village=row.village, group=row.group, first_accept=row.first_accept_at)


@bp.get("/incidents")
def incidents() -> ResponseReturnValue:
    flt = incident_filter()
    per_page = min(number_argument("per_page", queries.PER_PAGE), MAX_PER_PAGE)
    after, before = page_cursors()
    page = queries.incident_page(session(), viewer(), flt, zone(), page_number(), per_page, after=after, before=before)
    return jsonify(
        items=[_row_json(row) for row in page.rows],
        page=page.page,
        pages=page.pages,
        total=page.total,
        # False when more than COUNT_LIMIT match: total and pages are then the database's estimate.
        total_exact=page.exact,
        # Pass as ?after= (older) or ?before= (newer) for the neighbouring page, found as fast on any page.
        next=str(page.next) if page.next else None,
        previous=str(page.previous) if page.previous else None,
        filter=flt.to_args(),
    )


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> ResponseReturnValue:
    found = get_visible_or_404(session(), viewer(), Incident, incident_id)
    village, group = queries.incident_names(session(), found)
    body = incident_json(found, village=village, group=group, first_accept=queries.first_accept_at(session(), found.id))
    closed_by = session().get(User, found.closed_by_id) if found.closed_by_id else None
    body.update(
        close_note=found.close_note,
        closed_by=closed_by.username if closed_by else None,
        timeline=[event_json(event, found.opened_at) for event in found.events],
        notifications=[notification_json(notification) for notification in found.notifications],
        responses=[response_json(response, found.opened_at) for response in found.responses],
    )
    return jsonify(body)


@bp.get("/board")
def board() -> ResponseReturnValue:
    found = queries.board(session(), viewer(), utcnow())
    return jsonify(incidents=board_json(found.entries), more=found.more)


def _summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "incidents": summary.incidents,
        "acknowledged": summary.acknowledged,
        "ack_rate": summary.ack_rate,
        "escalated": summary.escalated,
        "escalation_rate": summary.escalation_rate,
        "median_seconds": summary.median_seconds,
        "p90_seconds": summary.p90_seconds,
    }


@bp.get("/stats")
def stats() -> ResponseReturnValue:
    flt = stats_filter()
    data = compute(flt)

    def rows(items: Iterable[Any]) -> list[dict[str, Any]]:
        return [
            {"id": row.key, "name": row.name, "unreachable": row.unreachable, **_summary_json(row.summary)}
            for row in items
        ]

    return jsonify(
        filter=flt.to_args(),
        total=_summary_json(data["total"]),
        villages=rows(data["villages"]),
        groups=rows(data["groups"]),
        response_histogram=[
            {"from_seconds": b.lower, "to_seconds": b.upper, "count": b.count, "unanswered": b.lower is None}
            for b in data["histogram"]
        ],
        weekly=[{"week": week.isoformat(), "incidents": count} for week, count in data["weeks"]],
    )


@bp.get("/groups")
def groups() -> ResponseReturnValue:
    return jsonify(groups=[group_json(group) for group in visible_groups(session(), viewer())])


@bp.get("/groups/<int:group_id>")
def group(group_id: int) -> ResponseReturnValue:
    return jsonify(group_json(get_visible_or_404(session(), viewer(), Group, group_id), members=True))


@bp.get("/members/<int:member_id>")
def member(member_id: int) -> ResponseReturnValue:
    return jsonify(member_json(get_visible_or_404(session(), viewer(), Member, member_id)))
