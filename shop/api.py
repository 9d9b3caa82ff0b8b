"""JSON endpoints for campaigns and their items."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_babel import lazy_gettext as _
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import PageArgs, id_field, page_of, page_schema, text_field
from database import local_zone
from measures import kg_decimal
from plain_text import PlainText
from shop import cancellation, catalogue, editing, lifecycle, running
from shop.editing import DESCRIPTION_MAX, MAX_PRICE_FEN, MAX_QUANTITY, TITLE_MAX, UNIT_MAX
from shop.models import ALLOCATION_POLICIES

blp = Blueprint("shop_api", __name__, url_prefix="/api/v1", description="Campaigns and items")


class LocalDateTime(ma.fields.AwareDateTime):
    """Reads ISO 8601 (a time without an offset is local time, database.local_zone()); writes it with the local offset."""

    @property
    def default_timezone(self):
        return local_zone()

    @default_timezone.setter
    def default_timezone(self, _given):
        """The zone is the configured one, whenever the field is used; what the constructor sets is ignored."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(local_zone()).isoformat()


class ProducerRefSchema(ma.Schema):
    id = ma.fields.Int()
    name = PlainText()
    town = PlainText()


class ItemSchema(ma.Schema):
    id = ma.fields.Int()
    title = PlainText()
    category = PlainText(allow_none=True)
    description = PlainText(multiline=True, allow_none=True)
    price_fen = ma.fields.Int()
    unit = PlainText()
    unit_weight_kg = ma.fields.Method("weight_kg", allow_none=True)
    price_per_kg_fen = ma.fields.Int(allow_none=True)
    by_weight = ma.fields.Bool(
        metadata={"description": "charged by the weighed kilogram (price_per_kg_fen); price_fen is then an estimate"}
    )
    per_buyer_limit = ma.fields.Int(allow_none=True)
    min_total = ma.fields.Int(allow_none=True)
    policy = PlainText()
    capacity = ma.fields.Int()
    remaining = ma.fields.Int()
    ordered = ma.fields.Int()
    short_of_minimum = ma.fields.Int(
        allow_none=True,
        metadata={"description": "how many more must be ordered to reach min_total (0 once reached); null without a minimum"},
    )
    minimum_pct = ma.fields.Int(
        allow_none=True, metadata={"description": "ordered as a share of min_total, 0-100 (rounded down); null without one"}
    )
    ready_on = ma.fields.Date(allow_none=True)
    producers = ma.fields.List(ma.fields.Nested(ProducerRefSchema))

    def weight_kg(self, item):
        return float(kg_decimal(item.unit_weight_g)) if item.unit_weight_g else None


class CampaignSchema(ma.Schema):
    id = ma.fields.Int()
    slug = PlainText()
    title = PlainText()
    description = PlainText(multiline=True, allow_none=True)
    status = PlainText()
    phase = ma.fields.Method("get_phase", metadata={"description": "draft, scheduled, open, ended (awaiting close), closed, …"})
    opens_at = LocalDateTime()
    closes_at = LocalDateTime()
    delivery_on = ma.fields.Date()
    unit_ids = ma.fields.Method("get_unit_ids")
    short_url = ma.fields.Method("get_short_url")

    def get_phase(self, campaign):
        return lifecycle.campaign_phase(campaign)

    def get_unit_ids(self, campaign):
        return sorted(unit.id for unit in campaign.units)

    def get_short_url(self, campaign):
        return catalogue.short_url(campaign)


class CampaignDetailSchema(CampaignSchema):
    items = ma.fields.Method("get_items")

    def get_items(self, campaign):
        # No token: an anonymous reader of the public catalogue.
        return ItemSchema(many=True).dump(catalogue.item_views(campaign, public=g.get("api_user") is None))


YEARS = f"between the years {editing.EARLIEST_YEAR} and {editing.LATEST_YEAR}"
QUANTITY = ma.validate.Range(min=1, max=MAX_QUANTITY)


class CampaignCreateSchema(ma.Schema):
    title = text_field(TITLE_MAX, multiline=True, required=True)
    description = text_field(DESCRIPTION_MAX, multiline=True, min_length=0, allow_none=True, load_default=None)
    opens_at = LocalDateTime(required=True, metadata={"description": YEARS})
    closes_at = LocalDateTime(required=True, metadata={"description": f"after opens_at; {YEARS}"})
    delivery_on = ma.fields.Date(required=True, metadata={"description": f"not before the closing day; {YEARS}"})
    unit_ids = ma.fields.List(
        id_field(strict=True),
        load_default=list,
        validate=ma.validate.Length(max=500),
        metadata={"description": "units that exist"},
    )


class SupplyInSchema(ma.Schema):
    listing_id = id_field(strict=True, required=True)
    quantity = ma.fields.Int(strict=True, required=True, validate=QUANTITY)


class ItemCreateSchema(ma.Schema):
    title = text_field(TITLE_MAX, multiline=True, load_default=None)
    price_fen = ma.fields.Int(strict=True, load_default=None, validate=ma.validate.Range(min=0, max=MAX_PRICE_FEN))
    unit = text_field(UNIT_MAX, multiline=True, load_default=None, metadata={"description": "the supplies' own unit"})
    per_buyer_limit = ma.fields.Int(strict=True, allow_none=True, load_default=None, validate=QUANTITY)
    min_total = ma.fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=QUANTITY,
        metadata={"description": "at most what the supplies offer"},
    )
    policy = ma.fields.Str(load_default="proportional", validate=ma.validate.OneOf(ALLOCATION_POLICIES))
    price_per_kg_fen = ma.fields.Int(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=ma.validate.Range(min=1, max=MAX_PRICE_FEN),
        metadata={
            "description": "ordered by the piece, charged by the weighed kg at this price; price_fen is then left out "
            "and estimated from the listing's weight per piece"
        },
    )
    description = text_field(DESCRIPTION_MAX, multiline=True, min_length=0, allow_none=True, load_default=None)
    supplies = ma.fields.List(
        ma.fields.Nested(SupplyInSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"description": "approved listings of approved producers, each once, with that much left"},
    )
    confirm_mixed = ma.fields.Bool(
        load_default=False,
        metadata={"description": "pool listings of different names or prices anyway (else 409 mixed_listings)"},
    )


class CampaignChangeSchema(ma.Schema):
    title = text_field(TITLE_MAX, multiline=True)
    description = text_field(DESCRIPTION_MAX, multiline=True, min_length=0)
    closes_at = LocalDateTime(metadata={"description": "a published campaign's only later"})
    delivery_on = ma.fields.Date(metadata={"description": "not before the closing day"})
    reason = text_field(running.REASON_MAX, multiline=True, metadata={"description": "for the audit log"})

    @ma.validates_schema
    def something_to_change(self, data, **_kwargs):
        if not data.keys() - {"reason"}:
            raise ma.ValidationError(_("Give at least one of title, description, closes_at, delivery_on."), "_schema")


class CancelSchema(ma.Schema):
    reason = text_field(running.REASON_MAX, multiline=True, required=True)


class SupplySetSchema(ma.Schema):
    quantity = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(min=1, max=editing.MAX_QUANTITY))
    reason = text_field(running.REASON_MAX, multiline=True, required=True)
    confirm_mixed = ma.fields.Bool(
        load_default=False,
        metadata={"description": "a joining listing of another name or price is the same product (else 409 mixed_listings)"},
    )


class CampaignListArgs(PageArgs):
    phase = PlainText(validate=ma.validate.OneOf(lifecycle.PHASES))


@blp.route("/campaigns")
class Campaigns(MethodView):
    @api_auth()
    @blp.arguments(CampaignListArgs, location="query")
    @blp.response(200, page_schema(CampaignSchema))
    def get(self, args):
        """Campaigns this user may see: operators all, buyers the published ones open to their unit (newest closing first)."""
        page = page_of(catalogue.visible_campaigns_query(g.api_user), args["page"], args["per_page"])
        if args.get("phase"):
            # The phase depends on the clock; filter the page rather than the query.
            page["items"] = [c for c in page["items"] if lifecycle.campaign_phase(c) == args["phase"]]
        return page

    @api_auth("operator")
    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignSchema)
    def post(self, data):
        """Create a draft campaign (operators). Times without an offset are local time (Asia/Shanghai)."""
        return editing.create_campaign(g.api_user, **data)


@blp.route("/campaigns/<int:campaign_id>")
class CampaignDetail(MethodView):
    @api_auth(anonymous=True)
    @blp.response(200, CampaignDetailSchema)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, campaign_id):
        """A campaign with its items: price, what is left and ordered so far, and each item's producers.

        Public for a published campaign (no token needed; nothing personal: households are named by town only);
        drafts only for operators. Ordering stays for buyers of the campaign's units."""
        return catalogue.get_public_campaign(g.api_user, campaign_id)

    @api_auth("operator")
    @blp.arguments(CampaignChangeSchema)
    @blp.response(200, CampaignSchema)
    def patch(self, data, campaign_id):
        """Change a draft's or a running campaign's texts and dates (operators); a published one's closing time only
        moves later, and everyone with an order is told the new dates. An empty body is refused (422)."""
        return running.change_campaign(g.api_user, campaign_id, **data)


@blp.route("/campaigns/<int:campaign_id>/items")
class CampaignItems(MethodView):
    @api_auth("operator")
    @blp.arguments(ItemCreateSchema)
    @blp.response(201, ItemSchema)
    def post(self, data, campaign_id):
        """Add an item pooling approved listings (operators); each supply is taken from its listing at once."""
        data["supplies"] = [(s["listing_id"], s["quantity"]) for s in data["supplies"]]
        item = editing.add_item(g.api_user, campaign_id, **data)
        return next(view for view in catalogue.item_views(item.campaign) if view.id == item.id)


@blp.route("/campaigns/<int:campaign_id>/publish")
class CampaignPublish(MethodView):
    @api_auth("operator")
    @blp.response(200, CampaignSchema)
    def post(self, campaign_id):
        """Publish a draft campaign (operators): buyers of its units see it; orders are taken between its times."""
        return editing.publish_campaign(g.api_user, campaign_id)


@blp.route("/items/<int:item_id>/supplies/<int:listing_id>")
class ItemSupply(MethodView):
    @api_auth("operator")
    @blp.arguments(SupplySetSchema)
    @blp.response(200, ItemSchema)
    def put(self, data, item_id, listing_id):
        """Set how much of a listing supplies an item while its campaign runs (operators): more is taken from the
        listing, less given back, a new listing joins the item; never below what is ordered (409)."""
        supply = running.set_supply(
            g.api_user, item_id, listing_id, data["quantity"], reason=data["reason"], confirm_mixed=data["confirm_mixed"]
        )
        return next(view for view in catalogue.item_views(supply.item.campaign) if view.id == item_id)


@blp.route("/campaigns/<int:campaign_id>/cancel")
class CampaignCancel(MethodView):
    @api_auth("operator")
    @blp.arguments(CancelSchema)
    @blp.response(200, CampaignSchema)
    def post(self, data, campaign_id):
        """Cancel a campaign before it closes (operators): every order cancelled and not charged, the stock back with
        the producers, buyers and producers told. Repeating it changes nothing; a closed campaign answers 409."""
        return cancellation.cancel_campaign(g.api_user, campaign_id, data["reason"])
