"""Drills (演练): the readiness report, starting a drill now or on a schedule, the schedules, exports, and the
station's drill standard."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from hotline.console.access import protect
from hotline.console.arguments import whole_number
from hotline.console.export import to_xlsx
from hotline.console.i18n import select_locale
from hotline.console.scope import get_visible_or_404, visible_groups, visible_stations, visible_villages
from hotline.console.views import make_blueprint
from hotline.console.views.common import id_argument, save_station_setting, session, settings, viewer, zone
from hotline.csvsafe import csv_bytes
from hotline.extensions import get_carrier, queues
from hotline.models import Drill, DrillSchedule, Group, Station, Village
from hotline.services.drills import DrillError, cancel_schedule, groups_in_scope, schedule_drill, start_now
from hotline.services.drills import DrillScope as Scope
from hotline.services.outbox import dispatch_from_request
from hotline.services.readiness import reason_text, report_table, station_report
from hotline.services.stations import DRILL_STANDARD_RANGE, StationError, parse_drill_standard

bp = protect(make_blueprint("drills", __name__, url_prefix="/drills"))

# Repeat choices offered by the form, as RFC 5545 rules; any other rule can be typed in.
REPEATS = {
    "": "",
    "weekly": "FREQ=WEEKLY",
    "monthly-first-monday": "FREQ=MONTHLY;BYDAY=1MO",
    "monthly": "FREQ=MONTHLY",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3",
}


def _station() -> Station:
    """The station the page is about: the user's own, or the one a city-wide user chose (the first by name)."""
    stations = visible_stations(session(), viewer())
    if not stations:
        abort(404)
    wanted = id_argument("station")
    if wanted is None:
        return stations[0]
    return get_visible_or_404(session(), viewer(), Station, wanted)


@bp.get("/")
def index() -> ResponseReturnValue:
    station = _station()
    report = station_report(session(), settings(), station)
    recent = list(
        session().scalars(
            select(Drill).where(Drill.station_id == station.id).order_by(Drill.run_at.desc(), Drill.id.desc()).limit(20)
        )
    )
    schedules = list(
        session().scalars(
            select(DrillSchedule)
            .where(DrillSchedule.station_id == station.id, DrillSchedule.next_run_at.is_not(None))
            .order_by(DrillSchedule.next_run_at)
        )
    )
    return render_template(
        "console/drills.html",
        station=station,
        stations=visible_stations(session(), viewer()),
        report=report,
        recent=recent,
        schedules=schedules,
        villages=[v for v in visible_villages(session(), viewer()) if v.station_id == station.id],
        groups=[g for g in visible_groups(session(), viewer()) if g.village.station_id == station.id],
        reason=lambda code: reason_text(select_locale(), code),
        zone=zone(),
        default_standard=settings().drill_standard_seconds,
        standard_range=DRILL_STANDARD_RANGE,
    )


@bp.post("/standard")
def standard() -> ResponseReturnValue:
    """Set the seconds within which the station's groups must be covered in a drill; empty: the service's."""
    station = _station()
    back = redirect(url_for("drills.index", station=station.id, _anchor="standard"))
    typed = request.form.get("standard_seconds", "")
    try:
        wanted = parse_drill_standard(typed)
    except StationError:
        low, high = DRILL_STANDARD_RANGE
        flash(_("The drill standard is whole seconds from %(low)d to %(high)d; “%(text)s” is not.", low=low,
                high=high, text=typed.strip()), "error")
        return back
    save_station_setting(station, "drill_standard", "drill_standard_seconds", wanted)
    if wanted is None:
        flash(_("Drill standard: the default, %(n)d seconds.", n=settings().drill_standard_seconds), "ok")
    else:
        flash(_("Drill standard: %(n)d seconds.", n=wanted), "ok")
    return back


def _local(text: str) -> datetime:
    """A ``datetime-local`` field's value, in the station's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DrillError(_("The time is not valid.")) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone())


@bp.post("/start")
def start() -> ResponseReturnValue:
    """Start a drill now, or schedule it (once, or repeated)."""
    # The console's CSRF protection has checked the form's token before this runs.
    station = _station()
    form = request.form
    scope = form.get("scope", "")
    group = village = None
    if scope == Scope.GROUP:
        group = get_visible_or_404(session(), viewer(), Group, whole_number(form.get("group")) or 0)
    elif scope == Scope.VILLAGE:
        village = get_visible_or_404(session(), viewer(), Village, whole_number(form.get("village")) or 0)
    elif scope != Scope.ALL:
        abort(400)
    if (group and group.village.station_id != station.id) or (village and village.station_id != station.id):
        abort(404)
    duty_line = form.get("duty_line") == "1"
    rule = (form.get("rule") or REPEATS.get(form.get("repeat", ""), "")).strip() or None
    back = redirect(url_for("drills.index", station=station.id))
    try:
        if form.get("at"):
            schedule_drill(
                session(), settings(), station, at=_local(form["at"]), rule=rule, group=group, village=village,
                duty_line=duty_line, created_by=viewer().username,
            )
            session().commit()
            flash(_("The drill is scheduled."), "ok")
            return back
        if rule:
            raise DrillError(_("A repeated drill needs the time of its first run."))
        groups = groups_in_scope(session(), station, Scope(scope), group, village)
        started = start_now(
            session(), settings(), groups, duty_line=duty_line, created_by=viewer().username,
            capabilities=get_carrier().capabilities,
        )
    except DrillError as exc:
        session().rollback()
        flash(str(exc), "error")
        return back
    session().commit()
    for work in started.work:
        dispatch_from_request(queues.queue, work)
    if started.drills:
        flash(_("Drill started in %(n)d groups; every text and call says it is a drill.", n=len(started.drills)), "ok")
    for skipped, why in started.skipped:
        flash(_("Not started in %(group)s: %(why)s", group=f"{skipped.village.name}/{skipped.name}", why=why), "error")
    return back


@bp.post("/schedules/<int:schedule_id>/cancel")
def cancel(schedule_id: int) -> ResponseReturnValue:
    schedule = session().get(DrillSchedule, schedule_id)
    if schedule is None:
        abort(404)
    get_visible_or_404(session(), viewer(), Station, schedule.station_id)  # another station's: not found
    cancel_schedule(session(), schedule)
    session().commit()
    flash(_("The drill schedule is cancelled."), "ok")
    return redirect(url_for("drills.index", station=schedule.station_id))


@bp.get("/report.<any(csv, xlsx):file_format>")
def export(file_format: str) -> ResponseReturnValue:
    station = _station()
    table = report_table(station_report(session(), settings(), station), select_locale(), zone())
    name = f"drill-readiness-{station.id}.{file_format}"
    if file_format == "xlsx":
        body = to_xlsx(table, sheet_name="readiness")
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = csv_bytes(table)
        kind = "text/csv; charset=utf-8"
    return Response(body, mimetype=kind, headers={"Content-Disposition": f"attachment; filename={name}"})
