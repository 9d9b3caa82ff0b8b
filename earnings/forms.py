"""The payment terms form."""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SubmitField
from wtforms.validators import NumberRange, Optional

from plain_text import PlainTextForm


class TermsForm(PlainTextForm):
    days = IntegerField(
        _l("Pay producers within (days after delivery; empty: the default)"), validators=[Optional(), NumberRange(0, 365)]
    )
    submit = SubmitField(_l("Save"))
