"""Forms for marking deliveries and recording payouts."""

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DecimalField, HiddenField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from measures import parse_yuan
from plain_text import PlainTextForm


def _optional_int(value):
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return None


class MarkDeliveredForm(PlainTextForm):
    """One button per unit (all producers) or per producer at a unit."""

    unit_id = HiddenField(validators=[DataRequired()])
    producer_id = HiddenField()
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])
    submit = SubmitField(_l("Mark delivered"))

    def validate_unit_id(self, field):
        if _optional_int(field.data) is None:
            raise ValidationError(_l("Choose a unit."))

    def ids(self):
        return _optional_int(self.unit_id.data), _optional_int(self.producer_id.data)


class PayoutForm(PlainTextForm):
    producer_id = SelectField(_l("Producer"), coerce=_optional_int, validate_choice=False, validators=[DataRequired()])
    amount = DecimalField(_l("Amount (yuan)"), places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"))])
    method = SelectField(_l("Method"), choices=[SelectChoice("transfer", _l("Bank transfer")), SelectChoice("cash", _l("Cash"))])
    reference = StringField(_l("Reference (transfer number, receipt)"), validators=[Optional(), Length(max=80)])
    paid_on = DateField(_l("Paid on (leave empty for now)"), validators=[Optional()])
    submit = SubmitField(_l("Record payout"))

    def validate_amount(self, field):
        if field.data is not None and field.data != field.data.quantize(Decimal("0.01")):
            raise ValidationError(_l("At most two decimals (fen)."))
        if field.data is not None:
            try:
                parse_yuan(f"{field.data:f}")
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def amount_fen(self) -> int:
        return parse_yuan(f"{self.amount.data:f}")


class RetryExportForm(PlainTextForm):
    """The retry button of a failed export (a form only for its CSRF token)."""

    submit = SubmitField(_l("Try again"))
