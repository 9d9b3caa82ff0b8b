"""Forms for producers, listings, photos and reviews; the service checks the rules, these only read the fields."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from measures import kg_decimal, parse_kg, parse_yuan, yuan_amount
from plain_text import PlainTextForm
from producers.towns import town_names

KIND_LABELS = {"cooperative": _l("Cooperative"), "enterprise": _l("Enterprise"), "household": _l("Household")}
UNIT_SUGGESTIONS = ("只", "个", "斤", "公斤", "袋", "箱", "瓶", "盒", "份")
CATEGORY_SUGGESTIONS = ("禽类", "蛋类", "蔬果", "粮油", "农副", "水产", "茶叶")


def _set_town_choices(field):
    field.choices = [SelectChoice("", "—")] + [SelectChoice(town) for town in town_names()]
    if field.data and field.data not in town_names():
        # A producer registered under a town since removed from the setting keeps it.
        field.choices.append(SelectChoice(field.data))


class ProfileForm(PlainTextForm):
    """What a producer may change about itself."""

    name = StringField(_l("Name"))
    town = SelectField(_l("Town"), validate_choice=False)
    village = StringField(_l("Village"))
    phone = StringField(_l("Contact phone"), render_kw={"inputmode": "tel", "autocomplete": "tel"})
    email = StringField(_l("Email (optional)"), render_kw={"inputmode": "email"})
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _set_town_choices(self.town)

    def profile_values(self):
        return dict(
            name=self.name.data, town=self.town.data, village=self.village.data, phone=self.phone.data, email=self.email.data
        )


class ProducerForm(PlainTextForm):
    """Operators: the whole registry entry."""

    name = StringField(_l("Name"))
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("", "—")] + [SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        validate_choice=False,
    )
    town = SelectField(_l("Town"), validate_choice=False)
    village = StringField(_l("Village"))
    phone = StringField(_l("Contact phone"), render_kw={"inputmode": "tel", "autocomplete": "tel"})
    email = StringField(_l("Email (optional)"), render_kw={"inputmode": "email"})
    poverty_household = BooleanField(_l("Registered poor household (建档立卡)"))
    poverty_id = StringField(_l("Poverty registry number"))
    linked_households = IntegerField(
        _l("Linked poor households (cooperatives and enterprises)"), validators=[Optional()], render_kw={"inputmode": "numeric"}
    )
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _set_town_choices(self.town)

    def producer_values(self):
        return dict(
            name=self.name.data,
            kind=self.kind.data,
            town=self.town.data,
            village=self.village.data,
            phone=self.phone.data,
            email=self.email.data,
            poverty_household=bool(self.poverty_household.data),
            poverty_id=self.poverty_id.data,
            linked_households=self.linked_households.data,
        )


class ListingForm(PlainTextForm):
    """Phone-friendly: one column, numeric keyboards, a date picker, photos from the camera."""

    name = StringField(_l("Product"), render_kw={"placeholder": _l("e.g. eggs")})
    category = StringField(_l("Category"), render_kw={"list": "category-suggestions"})
    variety = StringField(_l("Variety (optional)"))
    unit = StringField(_l("Sale unit"), render_kw={"list": "unit-suggestions", "placeholder": "只 / 个 / 斤 / 袋"})
    unit_weight_kg = StringField(_l("Weight of one unit in kg (optional)"), render_kw={"inputmode": "decimal"})
    price_yuan = StringField(_l("Price per unit (yuan)"), render_kw={"inputmode": "decimal"})
    quantity = IntegerField(_l("Quantity you can supply"), validators=[Optional()], render_kw={"inputmode": "numeric"})
    ready_on = DateField(_l("Ready on"), validators=[Optional()])
    description = TextAreaField(_l("Description (optional)"), render_kw={"rows": 3})
    reference_price_yuan = StringField(_l("Market price per unit, in yuan (optional)"), render_kw={"inputmode": "decimal"})
    reference_price_note = StringField(_l("Where the market price is from (optional)"))
    photos = MultipleFileField(_l("Photos (up to 5)"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    submit = SubmitField(_l("Save"))

    price_fen = None
    unit_weight_g = None
    reference_price_fen = None

    def validate_reference_price_yuan(self, field):
        self.reference_price_fen = None
        if field.data and field.data.strip():
            try:
                self.reference_price_fen = parse_yuan(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_price_yuan(self, field):
        self.price_fen = None
        if field.data and field.data.strip():
            try:
                self.price_fen = parse_yuan(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def validate_unit_weight_kg(self, field):
        self.unit_weight_g = None
        if field.data and field.data.strip():
            try:
                self.unit_weight_g = parse_kg(field.data)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    def listing_values(self):
        """The fields as the service takes them (fen and grams)."""
        return dict(
            name=self.name.data,
            category=self.category.data,
            variety=self.variety.data,
            unit=self.unit.data,
            unit_weight_g=self.unit_weight_g,
            price_fen=self.price_fen,
            quantity=self.quantity.data,
            ready_on=self.ready_on.data,
            description=self.description.data,
            reference_price_fen=self.reference_price_fen,
            reference_price_note=self.reference_price_note.data,
        )

    def fill_from(self, listing):
        """Show a stored listing in yuan and kg."""
        self.price_yuan.data = yuan_amount(listing.price_fen)
        if listing.reference_price_fen is not None:
            self.reference_price_yuan.data = yuan_amount(listing.reference_price_fen)
        if listing.unit_weight_g is not None:
            self.unit_weight_kg.data = f"{kg_decimal(listing.unit_weight_g):f}"


class EditListingForm(ListingForm):
    photos = None


class PhotoForm(PlainTextForm):
    photo = FileField(_l("Add a photo"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    submit = SubmitField(_l("Upload"))


class RejectForm(PlainTextForm):
    reason = StringField(_l("Reason"))


LINK_CHOICES = [
    SelectChoice("wages", _l("Wages for work")),
    SelectChoice("purchase", _l("Purchase agreement")),
    SelectChoice("dividend", _l("Dividends")),
]


def _checkboxes(label):
    return SelectMultipleField(
        label, choices=LINK_CHOICES, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), validate_choice=False
    )


class AdmissionForm(PlainTextForm):
    """A producer's 扶贫产品认定 / 832 admission."""

    number = StringField(_l("Certificate number"))
    county = StringField(_l("Issuing county"))
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    links = _checkboxes(_l("How it links to poor households"))
    reason = StringField(_l("Why (for the audit log, optional)"))
    submit = SubmitField(_l("Save"))


class HouseholdForm(PlainTextForm):
    name = StringField(_l("Head of household"))
    town = StringField(_l("Town"))
    village = StringField(_l("Village"))
    registry_number = StringField(_l("Poverty registry number (建档立卡编号)"))
    links = _checkboxes(_l("How it is linked"))
    share_pct = IntegerField(
        _l("Agreed share of income, % (optional; none: equal split)"), validators=[Optional()], render_kw={"inputmode": "numeric"}
    )
    reason = StringField(_l("Why (for the audit log, optional)"))
    submit = SubmitField(_l("Add household"))


class CertificateForm(PlainTextForm):
    kind = SelectField(
        _l("Certificate"),
        choices=[
            SelectChoice("animal_quarantine", _l("Animal quarantine certificate (动物检疫合格证明)")),
            SelectChoice("compliance_promise", _l("Compliance promise certificate (承诺达标合格证)")),
            SelectChoice("other", _l("Other certificate")),
        ],
        validate_choice=False,
    )
    label = StringField(_l("Name of the certificate (for other)"))
    number = StringField(_l("Certificate number"))
    issuer = StringField(_l("Issued by (optional)"))
    valid_until = DateField(_l("Valid until"), validators=[Optional()])
    submit = SubmitField(_l("Add certificate"))


class RemoveForm(PlainTextForm):
    reason = StringField(_l("Why"))
