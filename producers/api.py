"""JSON endpoints for producers, listings and listing photos; thin: the rules live in the producers services (profiles, listings, review, listing_photos)."""

import re

import marshmallow as ma
from flask import g, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from accounts.access import api_auth
from api import EMAIL, NO_NUL, PHONE, PageArgs, PatchSchema, StrictBool, id_field, page_of, page_schema, text_field
from errors import NotFound
from measures import kg_decimal, parse_kg
from plain_text import PlainText
from producers import access, listing_photos, listings, profiles, review
from producers.listings import CATEGORY_MAX, DESCRIPTION_MAX, MAX_PRICE_FEN, MAX_QUANTITY, NAME_MAX, UNIT_MAX, VARIETY_MAX
from producers.models import LISTING_STATUSES, PRODUCER_KINDS, PRODUCER_STATUSES
from producers.photo_limits import upload_limit
from producers.record_schemas import ListingRecordFields, ProducerRecordFields, ReferencePriceInFields

blp = Blueprint("producers_api", __name__, url_prefix="/api/v1", description="Producers and their listings")


# ---------------------------------------------------------------- field errors in the user's language


def _marshmallow_messages():
    return {
        "Missing data for required field.": _("This field is required."),
        "Field may not be null.": _("This field may not be empty."),
        "Not a valid integer.": _("Enter a whole number."),
        "Not a valid string.": _("Enter text."),
        "Not a valid utf-8 string.": _("Enter text."),
        "Not a valid boolean.": _("Enter true or false."),
        "Not a valid date.": _("Enter a date as YYYY-MM-DD."),
        "Not a valid number.": _("Enter a number."),
        "Number too large.": _("This number is too large."),
        "Unknown field.": _("Unknown field."),
        "Invalid input type.": _("Send a JSON object."),
        "Invalid value.": _("Invalid value."),
        "Not a valid file.": _("Send the photo as a file (multipart/form-data)."),
    }


def _translate(messages, table):
    if isinstance(messages, dict):
        return {key: _translate(value, table) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_translate(value, table) for value in messages]
    if isinstance(messages, str):
        if messages in table:
            return table[messages]
        choices = re.match(r"^Must be one of: (.*)\.$", messages)
        if choices:
            return _("Choose one of: %(choices)s.", choices=choices.group(1))
    return messages


class Schema(ma.Schema):
    """Input schemas whose field errors (marshmallow's own are English) come back in the user's language."""

    def handle_error(self, error, data, **kwargs):
        raise ma.ValidationError(_translate(error.messages, _marshmallow_messages()))


class Kilograms(ma.fields.Field):
    """A weight in kg as a JSON number (e.g. 1.5), at most 3 decimals; held as whole grams."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(kg_decimal(value))

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ma.ValidationError(_("Enter the weight in kg as a number, e.g. 1.5."))
        try:
            return parse_kg(value)
        except ValueError as error:
            raise ma.ValidationError(str(error)) from None


# ---------------------------------------------------------------- schemas


class ProducerSchema(ProducerRecordFields):
    id = ma.fields.Int()
    name = PlainText()
    kind = PlainText(metadata={"enum": list(PRODUCER_KINDS)})
    town = PlainText()
    village = PlainText()
    phone = PlainText()
    email = PlainText(allow_none=True)
    poverty_household = ma.fields.Bool()
    poverty_id = PlainText(allow_none=True)
    linked_households = ma.fields.Int(metadata={"description": "the households listed, or the number recorded if none is"})
    status = PlainText(metadata={"enum": list(PRODUCER_STATUSES)})
    created_at = ma.fields.AwareDateTime()


class ProducerInSchema(Schema):
    name = text_field(profiles.PRODUCER_NAME_MAX, required=True)
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf(PRODUCER_KINDS))
    town = text_field(120, required=True, metadata={"description": "one of the configured towns (PRODUCER_TOWNS)"})
    village = text_field(profiles.VILLAGE_MAX, required=True)
    phone = ma.fields.Str(required=True, metadata=PHONE)
    email = ma.fields.Str(allow_none=True, validate=EMAIL)
    poverty_household = StrictBool(required=True, metadata={"description": "households only"})
    poverty_id = ma.fields.Str(
        allow_none=True,
        validate=ma.validate.Regexp(r"^(?:[A-Za-z0-9-]{4,40})?$", error=_l("Use 4 to 40 letters, digits or dashes.")),
        metadata={"description": "required for a registered poor household, refused for anyone else; unique"},
    )
    linked_households = ma.fields.Int(
        strict=True,
        allow_none=True,
        metadata={"minimum": 0, "maximum": profiles.MAX_LINKED_HOUSEHOLDS, "description": "cooperatives and enterprises only"},
    )


class ProducerPatchSchema(PatchSchema, ProducerInSchema):
    """Only the fields to change; a producer's own users may change only name, town, village, phone and email."""


class ProducerQuerySchema(Schema, PageArgs):
    town = ma.fields.Str(validate=NO_NUL)
    kind = ma.fields.Str(validate=ma.validate.OneOf(PRODUCER_KINDS))
    poverty = ma.fields.Bool()
    status = ma.fields.Str(validate=ma.validate.OneOf(PRODUCER_STATUSES))
    q = ma.fields.Str(validate=[ma.validate.Length(max=120), NO_NUL])


class PhotoSchema(ma.Schema):
    id = ma.fields.Int()
    position = ma.fields.Int()
    url = ma.fields.Function(lambda photo: url_for("producers.photo", token=photo.token))
    thumbnail_url = ma.fields.Function(lambda photo: url_for("producers.photo_thumb", token=photo.token))


class ListingSchema(ListingRecordFields):
    id = ma.fields.Int()
    producer_id = ma.fields.Int()
    producer_name = ma.fields.Function(lambda listing: listing.producer.name)
    name = PlainText()
    category = PlainText()
    variety = PlainText(allow_none=True)
    unit = PlainText()
    unit_weight_kg = Kilograms(attribute="unit_weight_g", allow_none=True)
    price_fen = ma.fields.Int()
    quantity = ma.fields.Int()
    quantity_committed = ma.fields.Int()
    quantity_left = ma.fields.Int()
    ready_on = ma.fields.Date()
    description = PlainText(multiline=True, allow_none=True)
    status = PlainText(metadata={"enum": list(LISTING_STATUSES)})
    reject_reason = PlainText(allow_none=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoSchema))
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


class ListingInSchema(ReferencePriceInFields, Schema):
    producer_id = id_field(strict=True, metadata={"description": "Required for operators; a producer's own by default."})
    name = text_field(NAME_MAX, required=True)
    category = text_field(CATEGORY_MAX, required=True)
    variety = text_field(VARIETY_MAX, min_length=0, allow_none=True)
    unit = text_field(UNIT_MAX, required=True)
    unit_weight_g = Kilograms(
        data_key="unit_weight_kg",
        allow_none=True,
        metadata={
            "type": "number",
            "minimum": 0,
            "exclusiveMinimum": True,
            "maximum": 1000,
            "example": 1.5,
            "description": "at most 3 decimals (whole grams)",
        },
    )
    # The ranges are checked by the listing service, whose messages say the limit in yuan and with separators.
    price_fen = ma.fields.Int(strict=True, required=True, metadata={"minimum": 1, "maximum": MAX_PRICE_FEN})
    quantity = ma.fields.Int(
        strict=True,
        required=True,
        metadata={"minimum": 1, "maximum": MAX_QUANTITY, "description": "never below what campaigns already took"},
    )
    ready_on = ma.fields.Date(required=True, metadata={"description": "from 30 days ago to a year ahead (a changed date)"})
    description = text_field(DESCRIPTION_MAX, multiline=True, min_length=0, allow_none=True)


class ListingPatchSchema(PatchSchema, ListingInSchema):
    """Only the fields to change."""

    class Meta:
        exclude = ("producer_id",)


class ListingQuerySchema(Schema, PageArgs):
    status = ma.fields.Str(validate=ma.validate.OneOf(LISTING_STATUSES))
    producer_id = id_field()


class RejectSchema(Schema):
    reason = text_field(review.REASON_MAX, required=True)


class PhotoUploadSchema(Schema):
    photo = Upload(required=True)


# ---------------------------------------------------------------- producers


@blp.route("/producers")
class Producers(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.arguments(ProducerQuerySchema, location="query")
    @blp.response(200, page_schema(ProducerSchema))
    def get(self, args):
        """Producers, filtered by town, kind, poverty status or status (operators); a producer sees only itself."""
        query = profiles.producers_query(
            g.api_user,
            town=args.get("town"),
            kind=args.get("kind"),
            poverty=args.get("poverty"),
            status=args.get("status"),
            search=args.get("q"),
        )
        return page_of(query, args["page"], args["per_page"])

    @api_auth("operator")
    @blp.arguments(ProducerInSchema)
    @blp.response(201, ProducerSchema)
    def post(self, data):
        """Register a producer (operators); it starts pending."""
        return profiles.create_producer(g.api_user, **data)


@blp.route("/producers/<int:producer_id>")
class ProducerById(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.response(200, ProducerSchema)
    def get(self, producer_id):
        """One producer: operators any, a producer only itself."""
        return access.get_producer(g.api_user, producer_id)

    @api_auth("operator", "producer")
    @blp.arguments(ProducerPatchSchema)
    @blp.response(200, ProducerSchema)
    def patch(self, data, producer_id):
        """Change a producer: operators any field; a producer its name, town, village, phone and email."""
        producer = access.get_producer(g.api_user, producer_id)
        return profiles.update_producer(g.api_user, producer, **data)


@blp.route("/producers/<int:producer_id>/approve")
class ApproveProducer(MethodView):
    @api_auth("operator")
    @blp.response(200, ProducerSchema)
    def post(self, producer_id):
        """Approve (or reinstate) a producer."""
        return profiles.approve_producer(g.api_user, access.get_producer(g.api_user, producer_id))


@blp.route("/producers/<int:producer_id>/suspend")
class SuspendProducer(MethodView):
    @api_auth("operator")
    @blp.response(200, ProducerSchema)
    def post(self, producer_id):
        """Suspend a producer: its listings can no longer be approved or go into campaigns."""
        return profiles.suspend_producer(g.api_user, access.get_producer(g.api_user, producer_id))


# ---------------------------------------------------------------- listings


@blp.route("/listings")
class Listings(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.arguments(ListingQuerySchema, location="query")
    @blp.response(200, page_schema(ListingSchema))
    def get(self, args):
        """Listings, newest first: operators all, a producer its own."""
        query = access.listings_query(g.api_user, status=args.get("status"), producer_id=args.get("producer_id"))
        return page_of(query, args["page"], args["per_page"])

    @api_auth("operator", "producer", "cadre")
    @blp.arguments(ListingInSchema)
    @blp.response(201, ListingSchema)
    def post(self, data):
        """List unsold goods (pending until an operator approves them). Operators name the producer they act for."""
        producer_id = data.pop("producer_id", None)
        return listings.create_listing(g.api_user, producer_id, **data)


@blp.route("/listings/<int:listing_id>")
class ListingById(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.response(200, ListingSchema)
    def get(self, listing_id):
        """One listing: operators any, a producer its own."""
        return access.get_listing(g.api_user, listing_id)

    @api_auth("operator", "producer", "cadre")
    @blp.arguments(ListingPatchSchema)
    @blp.response(200, ListingSchema)
    def patch(self, data, listing_id):
        """Change a listing; a producer's change to what buyers see sends an approved listing back for review."""
        return listings.update_listing(g.api_user, access.get_listing(g.api_user, listing_id), **data)


@blp.route("/listings/<int:listing_id>/approve")
class ApproveListing(MethodView):
    @api_auth("operator")
    @blp.response(200, ListingSchema)
    def post(self, listing_id):
        """Approve a listing; its producer must be approved."""
        return review.approve_listing(g.api_user, access.get_listing(g.api_user, listing_id))


@blp.route("/listings/<int:listing_id>/reject")
class RejectListing(MethodView):
    @api_auth("operator")
    @blp.arguments(RejectSchema)
    @blp.response(200, ListingSchema)
    def post(self, data, listing_id):
        """Reject a listing with a reason the producer sees."""
        return review.reject_listing(g.api_user, access.get_listing(g.api_user, listing_id), data["reason"])


@blp.route("/listings/<int:listing_id>/withdraw")
class WithdrawListing(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.response(200, ListingSchema)
    def post(self, listing_id):
        """Withdraw a listing for good (nothing of it may be in a campaign)."""
        return listings.withdraw_listing(g.api_user, access.get_listing(g.api_user, listing_id))


@blp.route("/listings/<int:listing_id>/photos")
class ListingPhotos(MethodView):
    decorators = [upload_limit]

    @api_auth("operator", "producer", "cadre")
    @blp.arguments(PhotoUploadSchema, location="files")
    @blp.response(201, PhotoSchema)
    def post(self, files, listing_id):
        """Add a photo (multipart field ``photo``: JPEG, PNG or WebP; at most 5 a listing). It is re-encoded and thumbnailed."""
        return listing_photos.add_photo(g.api_user, access.get_listing(g.api_user, listing_id), files["photo"])


@blp.route("/listings/<int:listing_id>/photos/<int:photo_id>")
class ListingPhotoById(MethodView):
    @api_auth("operator", "producer", "cadre")
    @blp.response(204)
    def delete(self, listing_id, photo_id):
        """Remove a photo."""
        photo = listing_photos.get_photo(g.api_user, photo_id)
        if photo.listing_id != listing_id:
            raise NotFound(_("No such photo."))
        listing_photos.delete_photo(g.api_user, photo)
