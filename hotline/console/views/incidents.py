"""The incident list with filters and exports, and one incident's page."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from hotline.console import queries
from hotline.console.access import protect
from hotline.console.closing import CloseError, close_incident
from hotline.console.export import export_rows, to_csv, to_xlsx
from hotline.console.forms import CloseIncidentForm
from hotline.console.i18n import select_locale
from hotline.console.report import report_pdf
from hotline.console.scope import get_visible_or_404
from hotline.console.views import make_blueprint
from hotline.console.views.common import (
    filter_choices,
    incident_filter,
    page_number,
    refuse_argument,
    session,
    settings,
    viewer,
    zone,
)
from hotline.extensions import queues
from hotline.models import Channel, Incident, IncidentStatus, User, utcnow
from hotline.presenters.timeline import key_steps, timeline_rows
from hotline.services.outbox import dispatch_from_request
from hotline.services.segments import count_segments
from hotline.services.taking import AlreadySettled, take_incident

bp = protect(make_blueprint("incidents", __name__))

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def page_cursors() -> tuple[queries.Cursor | None, queries.Cursor | None]:
    """The ``after`` and ``before`` arguments: where a Next or Previous link continues the list.

    Raises:
        werkzeug.exceptions.BadRequest: One is given but is not a cursor the list wrote; the answer names it.
    """
    try:
        return (
            queries.Cursor.parse("after", request.args.get("after")),
            queries.Cursor.parse("before", request.args.get("before")),
        )
    except queries.FilterError as error:
        refuse_argument(_("The filter “%(name)s” is not valid; correct or remove it.", name=error.name))
        raise  # unreachable: refuse_argument always raises


@bp.get("/incidents")
def index() -> str:
    flt = incident_filter()
    after, before = page_cursors()
    page = queries.incident_page(session(), viewer(), flt, zone(), page_number(), after=after, before=before)
    return render_template(
        "console/incidents.html", page=page, flt=flt, args=flt.to_args(), **filter_choices()
    )


def _export_table() -> list[list[str | int | float]]:
    flt = incident_filter()
    rows = queries.all_incidents(session(), viewer(), flt, zone())
    return export_rows(rows, zone(), settings().default_region)


def _filename(suffix: str) -> str:
    return f"incidents-{utcnow().astimezone(zone()).strftime('%Y%m%d-%H%M')}.{suffix}"


@bp.get("/incidents.csv")
def export_csv() -> Response:
    return Response(
        to_csv(_export_table()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={_filename('csv')}"},
    )


@bp.get("/incidents.xlsx")
def export_xlsx() -> Response:
    return Response(
        to_xlsx(_export_table()),
        mimetype=XLSX_TYPE,
        headers={"Content-Disposition": f"attachment; filename={_filename('xlsx')}"},
    )


def _render_detail(incident: Incident, form: CloseIncidentForm, status: int = 200) -> tuple[str, int]:
    village, group = queries.incident_names(session(), incident)
    first_accept = queries.first_accept_at(session(), incident.id)
    rows = timeline_rows(incident.events, incident.opened_at, language=select_locale())
    # The key steps tell the story; ?log=all adds every SMS and call status change.
    full_log = request.args.get("log") == "all"
    timeline = rows if full_log else key_steps(rows)
    closed_by = session().get(User, incident.closed_by_id) if incident.closed_by_id else None
    escalations = [n for n in incident.notifications if n.escalation_level > 0]
    alerts = [n for n in incident.notifications if n.escalation_level == 0]
    # The parts each SMS went out as: a long text costs more and may arrive in pieces.
    segments = {n.id: count_segments(n.body) for n in incident.notifications if n.channel == Channel.SMS and n.body}
    return (
        render_template(
            "console/incident.html",
            incident=incident,
            village=village,
            group=group,
            first_accept=first_accept,
            timeline=timeline,
            full_log=full_log,
            hidden_count=len(rows) - len(timeline),
            alerts=alerts,
            escalations=escalations,
            segments=segments,
            closed_by=closed_by,
            form=form,
            needed=incident.group.min_acceptances if incident.group is not None else 1,
            now=utcnow(),
        ),
        status,
    )


@bp.get("/incidents/<int:incident_id>")
def detail(incident_id: int) -> tuple[str, int]:
    incident = get_visible_or_404(session(), viewer(), Incident, incident_id)
    return _render_detail(incident, CloseIncidentForm())


@bp.get("/incidents/<int:incident_id>/report.pdf")
def report(incident_id: int) -> Response:
    """The incident as a PDF report for the case file, in Chinese; another station's incident is a 404."""
    incident = get_visible_or_404(session(), viewer(), Incident, incident_id)
    return Response(
        report_pdf(session(), incident),
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=incident-{incident.id}.pdf"},
    )


@bp.post("/incidents/<int:incident_id>/take")
def take(incident_id: int) -> ResponseReturnValue:
    """"我来处理": a member of staff takes the incident in hand; escalation stops, caller and group are told."""
    # The console's CSRF protection has checked the form's token before this runs.
    incident = get_visible_or_404(session(), viewer(), Incident, incident_id)
    try:
        work = take_incident(session(), settings(), incident, viewer())
    except AlreadySettled:
        session().rollback()
        flash(_("Someone has already responded to this incident."), "error")
        return redirect(url_for("incidents.detail", incident_id=incident_id))
    session().commit()
    dispatch_from_request(queues.queue, work)
    flash(_("You have taken charge of this incident; the caller and the group are being told."), "ok")
    return redirect(url_for("incidents.detail", incident_id=incident.id))


@bp.post("/incidents/<int:incident_id>/close")
def close(incident_id: int) -> ResponseReturnValue:
    incident = get_visible_or_404(session(), viewer(), Incident, incident_id)
    form = CloseIncidentForm()
    if incident.status == IncidentStatus.CLOSED:
        flash(_("This incident is already closed."), "error")
        return redirect(url_for("incidents.detail", incident_id=incident.id))
    if not form.validate_on_submit():
        return _render_detail(incident, form, 400)
    try:
        close_incident(
            session(), incident, user_id=viewer().id, username=viewer().username,
            outcome=form.outcome.data or "", note=form.note.data or "",
        )
    except CloseError:
        session().rollback()
        flash(_("This incident is already closed."), "error")
        return redirect(url_for("incidents.detail", incident_id=incident_id))
    session().commit()
    flash(_("Incident closed."), "ok")
    return redirect(url_for("incidents.detail", incident_id=incident.id))
