"""JSON endpoints after close: closing, allocations, pick lists and their confirmation."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import id_field
from fulfilment import closing, picklists
from plain_text import PlainText

blp = Blueprint("fulfilment_api", __name__, url_prefix="/api/v1", description="Closing, allocations and pick lists")


class CloseResultSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    status = PlainText()
    closes_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)


class AllocationUnitSchema(ma.Schema):
    unit_id = ma.fields.Int()
    unit_name = PlainText()
    quantity = ma.fields.Int()


class AllocationProducerSchema(ma.Schema):
    producer_id = ma.fields.Int()
    producer_name = PlainText()
    town = PlainText()
    quantity = ma.fields.Int()
    units = ma.fields.List(ma.fields.Nested(AllocationUnitSchema))


class AllocationItemSchema(ma.Schema):
    item_id = ma.fields.Int()
    title = PlainText()
    unit = PlainText()
    ordered = ma.fields.Int()
    capacity = ma.fields.Int()
    min_total = ma.fields.Int(allow_none=True)
    cancelled_below_minimum = ma.fields.Bool()
    producers = ma.fields.List(ma.fields.Nested(AllocationProducerSchema))


class ConfirmationSchema(ma.Schema):
    producer_id = ma.fields.Int()
    producer_name = PlainText()
    town = PlainText()
    quantity = ma.fields.Int()
    acked_at = ma.fields.DateTime(allow_none=True)
    channel = PlainText(allow_none=True, metadata={"description": "app, or phone: confirmed for the producer after a call"})
    acked_by_name = PlainText(allow_none=True, metadata={"description": "who confirmed (by phone: the operator or cadre)"})


class AllocationsSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    title = PlainText()
    status = PlainText()
    delivery_on = ma.fields.Date()
    allocated_at = ma.fields.DateTime(allow_none=True)
    items = ma.fields.List(ma.fields.Nested(AllocationItemSchema))
    confirmations = ma.fields.List(ma.fields.Nested(ConfirmationSchema))


class PicklistContactSchema(ma.Schema):
    name = PlainText()
    phone = PlainText()


class PicklistUnitSchema(ma.Schema):
    unit_id = ma.fields.Int()
    unit_name = PlainText()
    address = PlainText()
    contact_phone = PlainText(allow_none=True)
    contacts = ma.fields.List(ma.fields.Nested(PicklistContactSchema))
    quantity = ma.fields.Int()
    received = ma.fields.Int(allow_none=True, metadata={"description": "what the unit received; null before its receipt"})
    received_weight_g = ma.fields.Int(allow_none=True)


class PicklistLineSchema(ma.Schema):
    item_id = ma.fields.Int()
    title = PlainText()
    unit = PlainText()
    unit_weight_kg = ma.fields.Method("weight_kg", allow_none=True)
    quantity = ma.fields.Int()
    units = ma.fields.List(ma.fields.Nested(PicklistUnitSchema))

    def weight_kg(self, line):
        grams = line.get("unit_weight_g")
        return None if grams is None else grams / 1000


class PicklistSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    campaign_title = PlainText()
    status = PlainText()
    delivery_on = ma.fields.Date()
    producer_id = ma.fields.Int()
    producer_name = PlainText()
    producer_phone = PlainText(allow_none=True)
    acked_at = ma.fields.DateTime(allow_none=True)
    channel = PlainText(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(PicklistLineSchema))


class PicklistQuerySchema(ma.Schema):
    campaign_id = id_field(required=True)


class AckRequestSchema(ma.Schema):
    campaign_id = id_field(strict=True, required=True)
    by_phone = ma.fields.Bool(
        load_default=False,
        metadata={"description": "operators and the town's village cadre: confirmed for the producer after a call"},
    )


class AckSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    producer_id = ma.fields.Int()
    acked_at = ma.fields.DateTime()
    acked_by_id = ma.fields.Int(allow_none=True)
    channel = PlainText()


@blp.route("/campaigns/<int:campaign_id>/close")
class Close(MethodView):
    @api_auth("operator")
    @blp.response(202, CloseResultSchema)
    def post(self, campaign_id):
        """Close a campaign now (operators): orders stop at once; pooling runs in the worker, as at the closing time."""
        campaign = closing.request_close(g.api_user, campaign_id)
        return {
            "campaign_id": campaign.id,
            "status": campaign.status,
            "closes_at": campaign.closes_at,
            "closed_at": campaign.closed_at,
        }


@blp.route("/campaigns/<int:campaign_id>/allocations")
class Allocations(MethodView):
    @api_auth("operator")
    @blp.response(200, AllocationsSchema)
    def get(self, campaign_id):
        """Who supplies how much of each item, to which units, and who has confirmed ready (operators)."""
        overview = picklists.allocation_overview(campaign_id)
        overview["confirmations"] = picklists.confirmations(campaign_id)
        return overview


@blp.route("/producers/<int:producer_id>/picklist")
class Picklist(MethodView):
    @api_auth("producer", "operator", "cadre")
    @blp.arguments(PicklistQuerySchema, location="query")
    @blp.response(200, PicklistSchema)
    def get(self, args, producer_id):
        """What the producer prepares for a campaign, per item and per delivery unit (that producer, operators)."""
        return picklists.picklist(g.api_user, producer_id, args["campaign_id"])


@blp.route("/producers/<int:producer_id>/picklist/ack")
class PicklistAck(MethodView):
    @api_auth("producer", "operator", "cadre")
    @blp.arguments(AckRequestSchema)
    @blp.response(200, AckSchema)
    def post(self, data, producer_id):
        """The producer confirms its pick list will be ready; repeating it keeps the first confirmation. With
        ``by_phone`` an operator or the town's village cadre confirms for a producer without a smartphone."""
        return picklists.ack_picklist(g.api_user, producer_id, data["campaign_id"], by_phone=data["by_phone"])
