"""Forms for checking out, changing and cancelling orders; quantities typed beside each item."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from orders.lines import MAX_LINE_QUANTITY, MAX_NOTE
from plain_text import PlainTextForm


class CheckoutForm(PlainTextForm):
    """The cart page's form; ``token`` is a one-time key: a double click or a resubmission makes one order."""

    token = HiddenField(validators=[DataRequired(), Length(max=80)])
    note = TextAreaField(_l("Note for the delivery (optional)"), validators=[Optional(), Length(max=MAX_NOTE)])
    update = SubmitField(_l("Update cart"))
    place = SubmitField(_l("Place pre-order"))


class ChangeOrderForm(PlainTextForm):
    submit = SubmitField(_l("Save changes"))


class CancelOrderForm(PlainTextForm):
    submit = SubmitField(_l("Yes, cancel this order"))


def quantities_from_form(formdata, allowed_ids=None, prefix="qty-"):
    """Read ``<prefix><id>`` fields as {id: quantity}; empty means 0. Returns (quantities, problems).

    :param allowed_ids: ids that may appear (others are reported); None accepts any id.
    """
    quantities, problems = {}, []
    for key, raw in formdata.items(multi=True) if hasattr(formdata, "items") else []:
        if not key.startswith(prefix):
            continue
        ident = key[len(prefix) :]
        if not ident.isdigit() or (allowed_ids is not None and int(ident) not in allowed_ids):
            problems.append(_("Choose an item of this campaign."))
            continue
        text = (raw or "").strip()
        if text == "":
            quantities[int(ident)] = 0
        elif not text.isdigit():
            problems.append(_("Quantities are whole numbers, 0 or more."))
        elif int(text) > MAX_LINE_QUANTITY:
            problems.append(_("At most %(max)d of one item at a time.", max=MAX_LINE_QUANTITY))
        else:
            quantities[int(ident)] = quantities.get(int(ident), 0) + int(text)
    return quantities, sorted(set(problems), key=problems.index)
