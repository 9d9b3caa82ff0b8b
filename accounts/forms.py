"""Forms for logging in, passwords, units and users."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from plain_text import PlainTextForm


class LoginForm(PlainTextForm):
    login = StringField(_l("Phone or email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me logged in"))
    submit = SubmitField(_l("Log in"))


class ChangePasswordForm(PlainTextForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Change password"))


class RemindersForm(PlainTextForm):
    """One button: the choice it sets is the opposite of the current one (the page says which)."""

    submit = SubmitField(_l("Save"))


class UnitForm(PlainTextForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    address = StringField(_l("Delivery address or pickup point"), validators=[DataRequired(), Length(max=255)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=20)])
    submit = SubmitField(_l("Save"))


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class UserForm(PlainTextForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), Length(max=20)])
    email = StringField(_l("Email (optional)"), validators=[Optional(), Length(max=254)])
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("buyer", _l("Buyer")),
            SelectChoice("producer", _l("Producer")),
            SelectChoice("operator", _l("Operator")),
            SelectChoice("cadre", _l("Village cadre")),
        ],
    )
    town = SelectField(_l("Town (village cadres only)"), validate_choice=False)
    unit_id = SelectField(_l("Work unit"), coerce=_optional_int, validate_choice=False)
    coordinator = BooleanField(_l("Coordinator of the unit"))
    producer_id = SelectField(_l("Producer"), coerce=_optional_int, validate_choice=False)
    active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Save"))


class _CodeForm(PlainTextForm):
    """A phone, a button that sends a code to it, and the code; the services check every field."""

    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=20)])
    send_code = SubmitField(_l("Send me a code"))
    sms_code = StringField(
        _l("SMS code"),
        validators=[Optional(), Length(max=12)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )


class JoinForm(_CodeForm):
    name = StringField(_l("Full name"), validators=[Optional(), Length(max=80)])
    password = PasswordField(_l("Password (optional: without one, log in by SMS code)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Join"))


class CodeLoginForm(_CodeForm):
    remember = BooleanField(_l("Keep me logged in"))
    submit = SubmitField(_l("Log in"))


class ResetPasswordForm(_CodeForm):
    new_password = PasswordField(_l("New password"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Set the new password"))
