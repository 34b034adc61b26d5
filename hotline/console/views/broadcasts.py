"""Broadcasts (群发): compose, preview in a phone-sized frame and confirm, follow the progress, pause, resume or
cancel, report and export, the station's opt-outs and its quiet hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from redis.exceptions import RedisError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from hotline.console.access import protect
from hotline.console.arguments import whole_number
from hotline.console.export import to_xlsx
from hotline.console.i18n import select_locale
from hotline.console.present import iso, phone_text
from hotline.console.scope import get_visible_or_404, visible_groups, visible_stations, visible_villages
from hotline.console.views import make_blueprint
from hotline.console.views.common import id_argument, save_station_setting, session, settings, viewer, zone
from hotline.csvsafe import csv_bytes
from hotline.extensions import get_carrier, queues
from hotline.models import Broadcast, Group, Station, Village
from hotline.queues import BROADCASTS
from hotline.services import broadcasts as service
from hotline.services.broadcast_optouts import station_opt_outs
from hotline.services.broadcast_report import build, report_table
from hotline.services.outbox import dispatch_broadcast
from hotline.services.quiet_hours import stored_range
from hotline.services.readiness import reason_text

bp = protect(make_blueprint("broadcasts", __name__, url_prefix="/broadcasts"))

# Repeat choices offered by the form, as RFC 5545 rules; any other rule can be typed in.
REPEATS = {"": "", "daily": "FREQ=DAILY", "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "weekly": "FREQ=WEEKLY"}
ROLE_CHOICES = ("household", "leader", "assistant", "officer")


def _station() -> Station:
    """The station the page is about: the user's own, or the one a city-wide user chose (the first by name)."""
    stations = visible_stations(session(), viewer())
    if not stations:
        abort(404)
    wanted = id_argument("station")
    if wanted is None:
        return stations[0]
    return get_visible_or_404(session(), viewer(), Station, wanted)


def visible_broadcast(broadcast_id: int) -> Broadcast:
    """A broadcast of a station the viewer sees; another station's is not found (404)."""
    broadcast = session().get(Broadcast, broadcast_id)
    if broadcast is None:
        abort(404)
    get_visible_or_404(session(), viewer(), Station, broadcast.station_id)
    return broadcast


def dispatch(ids: list[int]) -> None:
    """Enqueue committed rows; if Redis is away, the sweeper sends the pending rows once it is back."""
    if not ids:
        return
    try:
        dispatch_broadcast(queues.queue(BROADCASTS), ids)
    except (RedisError, OSError):
        flash(_("The queue is unreachable just now; the broadcast will go out by itself once it is back."), "error")


def _ids(values: list[str]) -> list[int]:
    """The ids of ticked villages or groups; one no row could have is not found (404), never left out."""
    ids = []
    for raw in values:
        if not raw.strip():
            continue
        value = whole_number(raw)
        if value is None:
            abort(404)
        ids.append(value)
    return ids


def form_plan(station: Station, form: MultiDict[str, str]) -> tuple[service.Plan, datetime | None, str | None]:
    """The broadcast the compose form describes, when it should go, and its repeat rule.

    Raises:
        BroadcastError: Something in the form is wrong (the message says what).
    """
    villages, groups = _ids(form.getlist("village")), _ids(form.getlist("group"))
    for village_id in villages:
        if get_visible_or_404(session(), viewer(), Village, village_id).station_id != station.id:
            abort(404)
    for group_id in groups:
        if get_visible_or_404(session(), viewer(), Group, group_id).village.station_id != station.id:
            abort(404)
    roles = [role for role in form.getlist("role") if role]  # none ticked: every role
    if any(role not in ROLE_CHOICES for role in roles):
        abort(400)
    audience = service.Audience(tuple(villages), tuple(groups), tuple(dict.fromkeys(roles)))
    kind = form.get("kind", "free")
    if kind not in service.KINDS:
        abort(400)
    content = form.get("content", "")
    values = {"text": content} if kind == "free" else {"content": content}
    if "kind" in service.variables(settings().language, kind):
        values["kind"] = form.get("warning", "")
    at = None
    if form.get("at"):
        try:
            moment = datetime.fromisoformat(form["at"])
        except ValueError:
            raise service.BroadcastError(_("The time is not valid.")) from None
        at = moment if moment.tzinfo else moment.replace(tzinfo=zone())
    composed = service.plan(
        session(), settings(), station, audience=audience, channel=form.get("channel", "sms"), kind=kind,
        values=values, carrier=get_carrier(), at=at,
    )
    rule = (form.get("rule") or REPEATS.get(form.get("repeat", ""), "")).strip() or None
    return composed, at, rule


@bp.get("/")
def index() -> ResponseReturnValue:
    station = _station()
    recent = list(session().scalars(
        select(Broadcast).where(Broadcast.station_id == station.id).order_by(Broadcast.id.desc()).limit(30)
    ))
    language = settings().language
    return render_template(
        "console/broadcasts.html", station=station, stations=visible_stations(session(), viewer()), recent=recent,
        villages=[v for v in visible_villages(session(), viewer()) if v.station_id == station.id],
        groups=[g for g in visible_groups(session(), viewer()) if g.village.station_id == station.id],
        kinds=[(kind, service.kind_label(language, kind)) for kind in service.KINDS],
        progress=lambda b: service.progress(session(), b), status_word=service.status_word, zone=zone(),
        form=request.args, default_quiet_hours=settings().quiet_hours,
    )


@bp.post("/quiet-hours")
def quiet_hours() -> ResponseReturnValue:
    """Set the station's quiet hours (no spoken broadcast rings then); empty goes back to the service's."""
    station = _station()
    back = redirect(url_for("broadcasts.index", station=station.id, _anchor="quiet-hours"))
    typed = request.form.get("quiet_hours", "")
    try:
        wanted = stored_range(typed)
    except ValueError:
        flash(_("Quiet hours are two times such as 21:00-08:00; “%(text)s” is not.", text=typed.strip()), "error")
        return back
    save_station_setting(station, "quiet_hours", "quiet_hours", wanted)
    if wanted is None:
        flash(_("Quiet hours: the default, %(hours)s.", hours=settings().quiet_hours), "ok")
    else:
        flash(_("Quiet hours: %(hours)s.", hours=wanted), "ok")
    return back


@bp.post("/preview")
def preview() -> ResponseReturnValue:
    """What the broadcast would be: recipients, parts, time, and the text on a phone; the sender confirms."""
    station = _station()
    try:
        composed, at, rule = form_plan(station, request.form)
    except service.BroadcastError as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("broadcasts.index", station=station.id))
    return render_template(
        "console/broadcast_preview.html", station=station, plan=composed, at=at, rule=rule, zone=zone(),
        fields=[(name, value) for name, values in request.form.lists() if name != "csrf_token" for value in values],
        kind_name=service.kind_label(settings().language, composed.kind),
    )


@bp.post("/send")
def send() -> ResponseReturnValue:
    """Send (or plan) a broadcast the sender has seen and confirmed."""
    station = _station()
    if request.form.get("confirm") != "1":
        abort(400)
    try:
        composed, at, rule = form_plan(station, request.form)
        broadcast, ids = service.create(
            session(), settings(), composed, at=at, rule=rule, created_by=viewer().username
        )
    except service.BroadcastError as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("broadcasts.index", station=station.id))
    session().commit()
    dispatch(ids)
    flash(_("Broadcast #%(id)d saved.", id=broadcast.id), "ok")
    return redirect(url_for("broadcasts.detail", broadcast_id=broadcast.id))


@bp.get("/<int:broadcast_id>")
def detail(broadcast_id: int) -> ResponseReturnValue:
    broadcast = visible_broadcast(broadcast_id)
    done = service.progress(session(), broadcast)
    report = build(session(), broadcast, select_locale())
    return render_template(
        "console/broadcast.html", broadcast=broadcast, done=done, report=report,
        audience=service.audience_text(session(), broadcast), status_word=service.status_word,
        zone=zone(),
        reason=lambda code: reason_text(select_locale(), code),
        kind_name=service.kind_label(settings().language, broadcast.template), phone_text=phone_text,
        live=broadcast.status == "sending" and not done.finished,
    )


@bp.post("/<int:broadcast_id>/<any(pause, resume, cancel):action>")
def change(broadcast_id: int, action: str) -> ResponseReturnValue:
    broadcast = visible_broadcast(broadcast_id)
    ids: list[int] = []
    try:
        if action == "pause":
            service.pause(session(), broadcast)
        elif action == "resume":
            ids = service.resume(session(), settings(), broadcast)
        else:
            service.cancel(session(), broadcast)
    except service.BroadcastError as exc:
        session().rollback()
        flash(str(exc), "error")
        return redirect(url_for("broadcasts.detail", broadcast_id=broadcast_id))
    session().commit()
    dispatch(ids)
    words = {"pause": _("Paused."), "resume": _("Sending again."), "cancel": _("Cancelled: nothing more goes out.")}
    flash(words[action], "ok")
    return redirect(url_for("broadcasts.detail", broadcast_id=broadcast_id))


@bp.get("/<int:broadcast_id>/report.<any(csv, xlsx):file_format>")
def export(broadcast_id: int, file_format: str) -> ResponseReturnValue:
    broadcast = visible_broadcast(broadcast_id)
    table = report_table(build(session(), broadcast, select_locale()), select_locale(), zone())
    name = f"broadcast-{broadcast.id}.{file_format}"
    if file_format == "xlsx":
        body = to_xlsx(table, sheet_name="broadcast")
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = csv_bytes(table)
        kind = "text/csv; charset=utf-8"
    return Response(body, mimetype=kind, headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/opt-outs")
def opt_outs() -> ResponseReturnValue:
    station = _station()
    return render_template(
        "console/broadcast_optouts.html", station=station, stations=visible_stations(session(), viewer()),
        records=station_opt_outs(session(), station.id), zone=zone(), phone_text=phone_text,
    )


# How many of a repeating broadcast's sends the API lists (newest first); the console's export has them all.
API_SENDS = 50


def progress_json(
    broadcast: Broadcast, *, with_sends: bool = False, counted: service.Progress | None = None
) -> dict[str, Any]:
    """The broadcast as the API shows it; ``counted`` is its progress if already counted.

    A repeating broadcast sends nothing itself: each time it falls due it
    starts a send of its own (``parent_id`` names it). With ``with_sends``
    its ``sends`` list the latest of them with their progress, and
    ``sends_total`` counts them all.
    """
    shown = {
        "id": broadcast.id, "station_id": broadcast.station_id, "station": broadcast.station.name,
        "status": broadcast.status, "channel": broadcast.channel, "template": broadcast.template,
        "params": broadcast.params, "sms_text": broadcast.sms_text, "voice_text": broadcast.voice_text,
        "audience": {key: value for key, value in (broadcast.audience or {}).items() if key != "skipped"},
        "skipped": (broadcast.audience or {}).get("skipped", {}), "rule": broadcast.rule,
        "next_run_at": iso(broadcast.next_run_at), "started_at": iso(broadcast.started_at),
        "finished_at": iso(broadcast.finished_at), "created_by": broadcast.created_by,
        "created_at": iso(broadcast.created_at), "parent_id": broadcast.parent_id,
        "progress": (counted if counted is not None else service.progress(session(), broadcast)).to_json(),
    }
    if with_sends and broadcast.rule:
        sends = service.children(session(), broadcast)
        latest = sends[:API_SENDS]
        progress = service.progress_of(session(), latest)
        shown["sends_total"] = len(sends)
        shown["sends"] = [
            {"id": send.id, "status": send.status, "started_at": iso(send.started_at),
             "finished_at": iso(send.finished_at), "progress": progress[send.id].to_json()}
            for send in latest
        ]
    return shown
