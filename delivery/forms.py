"""The receiving page's form: which producer, why (for a correction), and the confirmation of an unusual weight.

The quantities and weights per item are named by the item (``quantity-<id>``, ``weight-<id>``,
``bag-<item id>-<order line id>``) and checked by the receipts service, the same rules as the API's.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, Optional

from plain_text import PlainTextForm


class ReceiptForm(PlainTextForm):
    producer_id = IntegerField(validators=[InputRequired()])
    reason = StringField(_l("Why (for a correction)"), validators=[Optional(), Length(max=255)])
    confirm_weight = BooleanField(_l("The weight is right: take it"))
