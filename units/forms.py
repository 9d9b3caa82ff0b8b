"""The coordinator's forms: sheet upload and its confirmation, the grid's buttons, payments."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectChoice, SelectField, SubmitField
from wtforms.validators import DataRequired


class SheetUploadForm(FlaskForm):
    file = FileField(_l("Filled-in sheet (xlsx or csv)"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Upload and check"))


class ConfirmSheetForm(FlaskForm):
    """Carries the checked file back (base64), so the confirmation imports exactly what was previewed."""

    sheet = HiddenField(validators=[DataRequired()])
    filename = HiddenField()
    submit = SubmitField(_l("Replace the previous sheet"))


class GridForm(FlaskForm):
    save = SubmitField(_l("Save these orders"))
    more = SubmitField(_l("More rows"))


class PaymentForm(FlaskForm):
    method = SelectField(
        _l("Paid by"),
        choices=[SelectChoice("cash", _l("cash")), SelectChoice("transfer", _l("transfer"))],
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Mark paid"))


class ClearPaymentForm(FlaskForm):
    submit = SubmitField(_l("Undo"))


class RosterUploadForm(FlaskForm):
    file = FileField(_l("Staff list (xlsx or csv: 姓名, 手机号)"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Upload and check"))


class ConfirmRosterForm(FlaskForm):
    """Carries the checked roster back (base64), so the confirmation invites exactly who was previewed."""

    roster = HiddenField(validators=[DataRequired()])
    filename = HiddenField()
    submit = SubmitField(_l("Send the invitations"))


class RotateInvitationForm(FlaskForm):
    submit = SubmitField(_l("Replace the link and QR code"))
