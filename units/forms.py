"""The coordinator's forms: sheet upload and its confirmation, the grid's buttons, payments."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from plain_text import PlainTextForm


class SheetUploadForm(PlainTextForm):
    file = FileField(_l("Filled-in sheet (xlsx or csv)"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Upload and check"))


class ConfirmSheetForm(PlainTextForm):
    """Carries the checked file back (base64), so the confirmation imports exactly what was previewed."""

    sheet = HiddenField(validators=[DataRequired()])
    filename = HiddenField()
    submit = SubmitField(_l("Replace the previous sheet"))


class GridForm(PlainTextForm):
    save = SubmitField(_l("Save these orders"))
    more = SubmitField(_l("More rows"))


class PaymentForm(PlainTextForm):
    method = SelectField(
        _l("Paid by"),
        choices=[SelectChoice("cash", _l("cash")), SelectChoice("transfer", _l("transfer"))],
        validators=[DataRequired()],
    )
    submit = SubmitField(_l("Mark paid"))


class ClearPaymentForm(PlainTextForm):
    submit = SubmitField(_l("Undo"))


class TargetForm(PlainTextForm):
    """A unit's yearly budgets (in yuan, as they appear in the budget) and the share of each for such goods."""

    canteen_budget = StringField(_l("Canteen food budget this year (yuan)"), validators=[InputRequired()])
    canteen_share_pct = IntegerField(
        _l("Share for goods from poverty areas (%)"), validators=[InputRequired(), NumberRange(0, 100)]
    )
    union_budget = StringField(_l("Union welfare budget this year (yuan)"), validators=[InputRequired()])
    union_share_pct = IntegerField(
        _l("Share for certified poverty-alleviation goods (%)"), validators=[InputRequired(), NumberRange(0, 100)]
    )
    submit = SubmitField(_l("Save target"))


class RosterUploadForm(PlainTextForm):
    file = FileField(_l("Staff list (xlsx or csv: 姓名, 手机号)"), validators=[FileRequired(_l("Choose a file."))])
    submit = SubmitField(_l("Upload and check"))


class ConfirmRosterForm(PlainTextForm):
    """Carries the checked roster back (base64), so the confirmation invites exactly who was previewed."""

    roster = HiddenField(validators=[DataRequired()])
    filename = HiddenField()
    submit = SubmitField(_l("Send the invitations"))


class RotateInvitationForm(PlainTextForm):
    submit = SubmitField(_l("Replace the link and QR code"))
