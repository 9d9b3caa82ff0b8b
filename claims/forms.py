"""Forms of claims: filing one on a delivered line, and an operator's decision."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import IntegerField, SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from plain_text import PlainTextForm

REASON_CHOICES = [
    SelectChoice("short", _l("Short: fewer than delivered")),
    SelectChoice("damaged", _l("Damaged")),
    SelectChoice("spoiled", _l("Spoiled")),
    SelectChoice("not_as_described", _l("Not as described")),
]


def _optional_int(value):
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return None


class ClaimForm(PlainTextForm):
    item_id = SelectField(_l("Item"), coerce=_optional_int, validate_choice=False, validators=[DataRequired()])
    quantity = IntegerField(_l("How many pieces"), validators=[DataRequired(), NumberRange(min=1, max=100000)])
    reason = SelectField(_l("What was wrong"), choices=REASON_CHOICES)
    producer_id = SelectField(_l("Whose goods (if you know)"), coerce=_optional_int, validate_choice=False)
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)], render_kw={"rows": 3})
    photos = MultipleFileField(_l("Photos (up to 3)"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    submit = SubmitField(_l("File the claim"))


class DecisionForm(PlainTextForm):
    decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice("refund", _l("Refund")),
            SelectChoice("replace", _l("Replace")),
            SelectChoice("reject", _l("Reject")),
        ],
    )
    quantity = IntegerField(_l("Pieces to refund (empty: all claimed)"), validators=[Optional(), NumberRange(min=1, max=100000)])
    note = TextAreaField(
        _l("Note to the buyer (required to reject)"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Decide"))
