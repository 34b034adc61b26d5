"""The console's forms; each carries its CSRF token (Flask-WTF)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import NumberInput

from hotline.console.arguments import whole_number
from hotline.console.present import OUTCOME_LABELS, RING_MODE_LABELS, ROLE_LABELS
from hotline.directory.validate import MAX_NAME_LENGTH

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms before 3.3 takes (value, label) tuples
    SelectChoice = None


def choices(pairs: Iterable[tuple[Any, Any]]) -> list:
    """Select options from ``(value, label)`` pairs, in the form this WTForms wants."""
    if SelectChoice is None:
        return list(pairs)
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def chosen_id(raw: Any) -> int:
    """A select's posted id; 0 (nothing chosen) for one no row could have, so the form asks again instead of failing."""
    return whole_number(str(raw)) or 0


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField(
        _l("New password again"), validators=[DataRequired(), EqualTo("new", message=_l("The two do not match."))]
    )


class ConfirmForm(FlaskForm):
    """A button that only needs its CSRF token: sign out, delete."""


class CloseIncidentForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=choices(OUTCOME_LABELS.items()), validators=[DataRequired()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class GroupForm(FlaskForm):
    station_id = SelectField(_l("Station"), coerce=chosen_id, validate_choice=False)
    village = StringField(_l("Village"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])
    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])
    ring_mode = SelectField(_l("Ring mode"), choices=choices(RING_MODE_LABELS.items()))
    # Checked, with the group's size, by save_group; text so that its message is the one shown.
    min_acceptances = StringField(_l("Responders needed"), default="1", widget=NumberInput(min=1, step=1))


class MemberForm(FlaskForm):
    # Choices are filled per request with the groups the user may see.
    group_id = SelectField(_l("Group"), coerce=chosen_id, validate_choice=False)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=40)])
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()))
    address = StringField(_l("Address or note"), validators=[Optional(), Length(max=500)])
    active = BooleanField(_l("Active"), default=True)


class UploadForm(FlaskForm):
    station_id = SelectField(_l("Station"), coerce=chosen_id, validate_choice=False)
    file = FileField(_l("File (CSV or Excel .xlsx)"), validators=[FileRequired()])
    prune = BooleanField(_l("Deactivate members missing from the file"))


class ApplyUploadForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
