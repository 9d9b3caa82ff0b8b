"""Forms for building campaigns and their items, and for adding goods to the cart."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from plain_text import PlainTextForm
from shop.editing import MAX_QUANTITY

# An item's price is at most ¥9,999,999.99 as typed here; measures.parse_yuan reads it.
YUAN_PATTERN = r"^\s*\d{1,7}(\.\d{1,2})?\s*$"


class CampaignForm(PlainTextForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    cover = FileField(
        _l("Cover photo (optional)"),
        validators=[FileAllowed(["jpg", "jpeg", "png", "webp"], _l("Send a JPEG, PNG or WebP photo."))],
    )
    opens_at = DateTimeLocalField(_l("Orders open (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    closes_at = DateTimeLocalField(_l("Orders close (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    delivery_on = DateField(_l("Delivery date"), validators=[InputRequired()])
    unit_ids = SelectMultipleField(
        _l("Work units that may order (none ticked: all units)"),
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,
    )
    submit = SubmitField(_l("Save"))


def _optional_positive(form, field):
    if field.data is not None and field.data < 1:
        raise ValidationError(_l("Leave empty, or enter at least 1."))


class ItemForm(PlainTextForm):
    """The item's own fields; the supplies are quantities typed beside each listing (``supply-<listing id>``)."""

    title = StringField(_l("Title shown to buyers"), validators=[Optional(), Length(max=120)])
    price_yuan = StringField(
        _l("Price per unit, in yuan"), validators=[Optional(), Regexp(YUAN_PATTERN, message=_l("Enter a price like 9.80."))]
    )
    unit = StringField(_l("Sale unit"), validators=[Optional(), Length(max=8)])
    price_per_kg_yuan = StringField(
        _l("Or charge by the weighed kilogram: price per kg, in yuan"),
        validators=[Optional(), Regexp(YUAN_PATTERN, message=_l("Enter a price like 9.80."))],
    )
    per_buyer_limit = IntegerField(
        _l("Limit per buyer (optional)"), validators=[Optional(), NumberRange(max=MAX_QUANTITY), _optional_positive]
    )
    min_total = IntegerField(
        _l("Minimum total to go ahead (optional)"), validators=[Optional(), NumberRange(max=MAX_QUANTITY), _optional_positive]
    )
    policy = SelectField(
        _l("How orders are split among the producers"),
        choices=[
            SelectChoice("proportional", _l("In proportion to what each offered")),
            SelectChoice("poor_first", _l("Registered poor households first")),
        ],
    )
    description = TextAreaField(_l("Description (optional)"), validators=[Optional(), Length(max=5000)])
    confirm_mixed = BooleanField(_l("These listings are one product: pool them into one item at one price"))
    submit = SubmitField(_l("Add item"))


class CartAddForm(PlainTextForm):
    # A hidden field shows no label; one made from its name would load WTForms' own translations on every page.
    item_id = HiddenField("", validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity"), default=1, validators=[InputRequired(), NumberRange(min=1, max=10_000)])
    submit = SubmitField(_l("Add to cart"))


class ActionForm(PlainTextForm):
    """A button that posts (publish, remove, cancel): CSRF only."""

    submit = SubmitField(_l("Confirm"))


class RunningCampaignForm(PlainTextForm):
    """A published campaign's texts and dates while it runs; the closing time only moves later."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    closes_at = DateTimeLocalField(_l("Orders close (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    delivery_on = DateField(_l("Delivery date"), validators=[InputRequired()])
    reason = StringField(_l("Why (for the audit log)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Save changes"))


class SupplyForm(PlainTextForm):
    """How much of one listing supplies an item while the campaign runs."""

    listing_id = IntegerField(_l("Listing"), validators=[InputRequired()])
    quantity = IntegerField(_l("Quantity offered"), validators=[InputRequired(), NumberRange(min=1, max=MAX_QUANTITY)])
    reason = StringField(_l("Why (for the audit log)"), validators=[DataRequired(), Length(max=200)])
    confirm_mixed = BooleanField(_l("This listing is the same product: pool it into the item anyway"))
    submit = SubmitField(_l("Set supply"))


class CancelCampaignForm(PlainTextForm):
    reason = StringField(_l("Why it is cancelled (buyers and producers are told)"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Cancel the campaign"))
