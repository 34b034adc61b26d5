"""Directory management: groups, members, uploads with preview, health, audit log."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypedDict, cast

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import Field, SelectField

from hotline.console import uploads
from hotline.console.access import protect
from hotline.console.audit import audit_page, changed_fields
from hotline.console.directory_edit import (
    DirectoryError,
    MemberInput,
    add_member,
    delete_group,
    delete_member,
    record_import,
    save_group,
    update_member,
)
from hotline.console.forms import ApplyUploadForm, ConfirmForm, GroupForm, MemberForm, UploadForm, choices
from hotline.console.i18n import select_locale
from hotline.console.scope import get_visible, get_visible_or_404, visible_groups, visible_stations
from hotline.console.stats_queries import MIN_REACHABLE, group_health
from hotline.console.views import make_blueprint
from hotline.console.views.common import page_number, session, settings, viewer
from hotline.directory import (
    Column,
    ImportRefused,
    Issue,
    Plan,
    ReadError,
    Sheet,
    apply_plan,
    plan_import,
    read_bytes,
)
from hotline.directory.exporter import display_phone
from hotline.extensions import queues
from hotline.models import Group, Incident, Member, Station
from hotline.services.stations import StationError

bp = protect(make_blueprint("directory", __name__, url_prefix="/directory"))

PREVIEW_ROWS = 200


@bp.app_template_filter("phone")
def phone_filter(e164: str) -> str:
    return display_phone(e164, settings().default_region)


def _add_error(form: FlaskForm, name: str, message: str) -> None:
    field: Field | None = getattr(form, name, None) if name else None
    if isinstance(field, Field):
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def _apply_errors(form: FlaskForm, error: DirectoryError) -> None:
    for name, message in error.errors.items():
        _add_error(form, name, message)


def _station_choices(field: SelectField, station: Station | None = None) -> None:
    """Offer the stations this user may write to (a staff member: only their own)."""
    if station is not None:
        field.choices = choices([(station.id, station.name)])
    else:
        field.choices = choices((s.id, s.name) for s in visible_stations(session(), viewer()))


def _chosen_station(field: SelectField) -> Station | None:
    if viewer().station_id is not None:
        return session().get(Station, viewer().station_id)
    return get_visible(session(), viewer(), Station, field.data) if field.data else None


def _group_choices(field: SelectField) -> None:
    field.choices = choices((g.id, f"{g.village.name}/{g.name}") for g in visible_groups(session(), viewer()))


class _Limits(TypedDict):
    region: str
    default_capacity: int


def _region_and_capacity() -> _Limits:
    return {"region": settings().default_region, "default_capacity": settings().max_group_size}


@bp.get("/")
def index() -> ResponseReturnValue:
    health = group_health(session(), viewer())
    return render_template("console/directory.html", health=health, min_reachable=MIN_REACHABLE)


@bp.get("/health")
def health() -> ResponseReturnValue:
    groups = group_health(session(), viewer())
    groups.sort(key=lambda entry: (not entry.weak, entry.group.village.name, entry.group.name))
    return render_template("console/health.html", groups=groups, min_reachable=MIN_REACHABLE)


@bp.route("/groups/new", methods=["GET", "POST"])
def new_group() -> ResponseReturnValue:
    form = GroupForm()
    _station_choices(form.station_id)
    if form.validate_on_submit():
        station = _chosen_station(form.station_id)
        if station is None:
            _add_error(form, "station_id", _("Choose a station."))
        else:
            try:
                group = save_group(
                    session(), viewer(), station=station, village_name=form.village.data or "",
                    name=form.name.data or "", ring_mode=form.ring_mode.data or "",
                    min_acceptances=form.min_acceptances.data or "",
                )
            except DirectoryError as error:
                session().rollback()
                _apply_errors(form, error)
            else:
                session().commit()
                flash(_("Group added."), "ok")
                return redirect(url_for("directory.group", group_id=group.id))
    return render_template("console/group_form.html", form=form, group=None), 400 if form.errors else 200


@bp.get("/groups/<int:group_id>")
def group(group_id: int) -> ResponseReturnValue:
    found = get_visible_or_404(session(), viewer(), Group, group_id)
    health = group_health(session(), viewer(), [found.id])[0]
    return render_template(
        "console/group.html", group=found, health=health, min_reachable=MIN_REACHABLE, delete_form=ConfirmForm()
    )


@bp.route("/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(group_id: int) -> ResponseReturnValue:
    found = get_visible_or_404(session(), viewer(), Group, group_id)
    form = GroupForm(obj=None if request.method == "POST" else found)
    if request.method == "GET":
        form.village.data = found.village.name
        form.ring_mode.data = str(found.ring_mode)
    station = found.village.station
    _station_choices(form.station_id, station)
    form.station_id.data = station.id
    if form.validate_on_submit():
        try:
            save_group(
                session(), viewer(), station=station, village_name=form.village.data or "",
                name=form.name.data or "", ring_mode=form.ring_mode.data or "", group=found,
                # A form posted without the field (an older page) keeps the group's number.
                min_acceptances=(
                    form.min_acceptances.data or "" if "min_acceptances" in request.form else found.min_acceptances
                ),
            )
        except DirectoryError as error:
            session().rollback()
            _apply_errors(form, error)
        else:
            session().commit()
            flash(_("Group saved."), "ok")
            return redirect(url_for("directory.group", group_id=found.id))
    return render_template("console/group_form.html", form=form, group=found), 400 if form.errors else 200


@bp.route("/groups/<int:group_id>/delete", methods=["GET", "POST"])
def remove_group(group_id: int) -> ResponseReturnValue:
    found = get_visible_or_404(session(), viewer(), Group, group_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = f"{found.village.name}/{found.name}"
        delete_group(session(), viewer(), found)
        session().commit()
        flash(_("Group %(name)s removed.", name=name), "ok")
        return redirect(url_for("directory.index"))
    incidents = session().scalar(select(func.count(Incident.id)).where(Incident.group_id == found.id)) or 0
    return render_template("console/group_delete.html", group=found, form=form, incidents=incidents)


def _member_input(form: MemberForm) -> MemberInput:
    return MemberInput(
        name=form.name.data or "",
        phone=form.phone.data or "",
        role=form.role.data or "",
        address=form.address.data or "",
        active=bool(form.active.data),
    )


def _target_group(form: MemberForm) -> Group | None:
    target = get_visible(session(), viewer(), Group, form.group_id.data) if form.group_id.data else None
    if target is None:
        _add_error(form, "group_id", _("Choose a group."))
    return target


@bp.route("/groups/<int:group_id>/members/new", methods=["GET", "POST"])
def new_member(group_id: int) -> ResponseReturnValue:
    found = get_visible_or_404(session(), viewer(), Group, group_id)
    form = MemberForm()
    _group_choices(form.group_id)
    if request.method == "GET":
        form.group_id.data = found.id
    if form.validate_on_submit():
        target = _target_group(form)
        if target is not None:
            try:
                add_member(session(), viewer(), target, _member_input(form), **_region_and_capacity())
            except DirectoryError as error:
                session().rollback()
                _apply_errors(form, error)
            else:
                session().commit()
                flash(_("Member added."), "ok")
                return redirect(url_for("directory.group", group_id=target.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("console/member_form.html", form=form, group=found, member=None), status


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
def edit_member(member_id: int) -> ResponseReturnValue:
    member = get_visible_or_404(session(), viewer(), Member, member_id)
    form = MemberForm(obj=None if request.method == "POST" else member)
    _group_choices(form.group_id)
    if request.method == "GET":
        form.phone.data = display_phone(member.phone, settings().default_region)
        form.role.data = str(member.role)
    if form.validate_on_submit():
        target = _target_group(form)
        if target is not None:
            try:
                update_member(
                    session(), viewer(), member, _member_input(form), group=target, **_region_and_capacity()
                )
            except DirectoryError as error:
                session().rollback()
                _apply_errors(form, error)
            else:
                session().commit()
                flash(_("Member saved."), "ok")
                return redirect(url_for("directory.group", group_id=target.id))
    status = 400 if form.errors or form.form_errors else 200
    return (
        render_template(
            "console/member_form.html", form=form, group=member.group, member=member, delete_form=ConfirmForm()
        ),
        status,
    )


@bp.post("/members/<int:member_id>/delete")
def remove_member(member_id: int) -> ResponseReturnValue:
    member = get_visible_or_404(session(), viewer(), Member, member_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    group_id, name = member.group_id, member.name
    delete_member(session(), viewer(), member)
    session().commit()
    flash(_("Member %(name)s removed.", name=name), "ok")
    return redirect(url_for("directory.group", group_id=group_id))


def _plan(station: Station, filename: str, data: bytes, prune: bool) -> tuple[Sheet, Plan]:
    """Read and validate an upload; writes nothing.

    Only city-wide users are told which station, village and group hold a
    number that another station has; a station's staff are told whom to ask.

    Raises:
        ReadError: The file is not a readable directory sheet.
    """
    sheet = read_bytes(data, filename)
    plan = plan_import(
        session(), sheet, station.name, region=settings().default_region,
        default_capacity=settings().max_group_size, prune=prune,
        show_other_stations=viewer().station_id is None,
    )
    return sheet, plan


@dataclass(frozen=True)
class _ShownIssue:
    """An import issue in the page's language, shaped as the preview template reads it."""

    row: int | None
    column: Column | None
    message: str
    described: str

    def __str__(self) -> str:
        return self.described


def _in_page_language(sheet: Sheet, plan: Plan) -> Plan:
    """A copy of ``plan`` whose errors and warnings speak the page's language, saying which sheet was read."""
    language = select_locale()

    def shown(issue: Issue) -> _ShownIssue:
        return _ShownIssue(issue.row, issue.column, issue.explain(language), issue.describe(language))

    warnings = [shown(issue) for issue in plan.warnings]
    if sheet.sheet_name is not None and sheet.sheet_count > 1:
        text = _("Read sheet “%(sheet)s” of %(count)d.", sheet=sheet.sheet_name, count=sheet.sheet_count)
        warnings.insert(0, _ShownIssue(None, None, text, text))
    # The template reads row, column, message and str() alone, which these give in the page's language.
    errors: list[Any] = [shown(issue) for issue in plan.errors]
    return replace(plan, errors=errors, warnings=cast(list[Any], warnings))


def _preview(
    form: FlaskForm, station: Station, filename: str, sheet: Sheet, plan: Plan, token: str | None, status: int = 200
) -> ResponseReturnValue:
    plan = _in_page_language(sheet, plan)
    errors_by_row: dict[int, list[object]] = {}
    for issue in plan.errors:
        if issue.row is not None:
            errors_by_row.setdefault(issue.row, []).append(issue)
    return (
        render_template(
            "console/import_preview.html",
            form=form,
            station=station,
            filename=filename,
            sheet=sheet,
            rows=sheet.rows[:PREVIEW_ROWS],
            more_rows=max(0, len(sheet.rows) - PREVIEW_ROWS),
            plan=plan,
            errors_by_row=errors_by_row,
            apply_form=ApplyUploadForm(token=token) if token else None,
        ),
        status,
    )


@bp.route("/import", methods=["GET", "POST"])
def upload() -> ResponseReturnValue:
    """Upload a CSV or Excel file and see what importing it would do; nothing is written."""
    form = UploadForm()
    _station_choices(form.station_id)
    if form.validate_on_submit():
        station = _chosen_station(form.station_id)
        data = form.file.data.read(uploads.MAX_BYTES + 1)
        filename = form.file.data.filename or "upload.csv"
        if station is None:
            _add_error(form, "station_id", _("Choose a station."))
        elif len(data) > uploads.MAX_BYTES:
            _add_error(form, "file", _("The file is larger than 10 MB."))
        else:
            try:
                sheet, plan = _plan(station, filename, data, bool(form.prune.data))
            except ReadError as error:
                _add_error(form, "file", error.render(select_locale()))
            except StationError as error:
                _add_error(form, "file", str(error))
            else:
                token = None
                if plan.ok:
                    pending = uploads.PendingUpload(viewer().id, station.id, filename, bool(form.prune.data), data)
                    token = uploads.save_upload(queues.connection, pending)
                return _preview(form, station, filename, sheet, plan, token, 200 if plan.ok else 422)
    return render_template("console/import.html", form=form), 400 if form.errors else 200


@bp.post("/import/apply")
def apply_upload() -> ResponseReturnValue:
    """Write a previewed upload, after planning it again against the directory as it is now."""
    form = ApplyUploadForm()
    if not form.validate_on_submit():
        abort(400)
    pending = uploads.load_upload(queues.connection, form.token.data or "", viewer().id)
    if pending is None:
        flash(_("That upload has expired; upload the file again."), "error")
        return redirect(url_for("directory.upload"))
    station = get_visible_or_404(session(), viewer(), Station, pending.station_id)
    try:
        sheet, plan = _plan(station, pending.filename, pending.data, pending.prune)
    except ReadError as error:
        flash(error.render(select_locale()), "error")
        return redirect(url_for("directory.upload"))
    except StationError as error:
        flash(str(error), "error")
        return redirect(url_for("directory.upload"))
    if not plan.ok:
        # The directory changed since the preview in a way that breaks the file.
        upload_form = UploadForm()
        _station_choices(upload_form.station_id)
        return _preview(upload_form, station, pending.filename, sheet, plan, None, 422)
    try:
        apply_plan(session(), plan)
    except ImportRefused as error:
        session().rollback()
        flash(error.render(select_locale()), "error")
        return redirect(url_for("directory.upload"))
    record_import(session(), viewer(), station.id, pending.filename, plan)
    session().commit()
    uploads.discard_upload(queues.connection, form.token.data or "")
    flash(
        _(
            "Imported %(file)s: %(created)d added, %(updated)d changed, %(deactivated)d deactivated.",
            file=pending.filename, created=len(plan.creates), updated=len(plan.updates),
            deactivated=len(plan.deactivations),
        ),
        "ok",
    )
    return redirect(url_for("directory.index"))


@bp.get("/audit")
def audit() -> ResponseReturnValue:
    entries, pages = audit_page(session(), viewer(), page_number())
    return render_template(
        "console/audit.html",
        entries=entries,
        pages=pages,
        page=min(page_number(), pages),
        changed_fields=changed_fields,
    )
