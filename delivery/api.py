"""JSON endpoints of delivery day: a receipt of what arrived at a unit from a producer."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import MAX_ID, id_field, text_field
from delivery import receipts
from plain_text import PlainText
from shop.api import LocalDateTime

blp = Blueprint("delivery_api", __name__, url_prefix="/api/v1", description="Delivery day: receipts")

WEIGHT = {
    "oneOf": [{"type": "number"}, {"type": "string", "maxLength": 20}],
    "description": "kilograms weighed, a number or a text with at most 3 decimals, above 0; only for items charged by "
    "the kilogram (price_per_kg_fen). A weight more than 3× or under a third of the expected one (pieces × "
    "unit_weight_g) answers 409 weight_unconfirmed unless confirm_weight is true",
}


class Weight(ma.fields.Field):
    """A weight as sent: a number or a text; the service reads it (measures.parse_kg) and names what is wrong."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | float | str) or (isinstance(value, str) and len(value) > 20):
            raise ma.ValidationError(_("Enter the weight in kg as a number, e.g. 1.5."))
        return value


class BagSchema(ma.Schema):
    order_line_id = id_field(required=True, metadata={"description": "one of the unit's order lines of this item"})
    weight_kg = Weight(required=True, metadata=WEIGHT)


class ReceiptLineInSchema(ma.Schema):
    item_id = id_field(required=True)
    quantity = ma.fields.Int(
        strict=True,
        required=True,
        validate=ma.validate.Range(min=0, max=MAX_ID),
        metadata={"description": "what arrived of the item in all, at most the producer's pick line for the unit"},
    )
    weight_kg = Weight(allow_none=True, load_default=None, metadata=WEIGHT)
    bags = ma.fields.List(
        ma.fields.Nested(BagSchema),
        load_default=None,
        validate=ma.validate.Length(max=1000),
        metadata={"description": "each person's bag weighed on its own, instead of weight_kg for the whole"},
    )


class ReceiptInSchema(ma.Schema):
    producer_id = id_field(required=True)
    unit_id = id_field(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(ReceiptLineInSchema), required=True, validate=ma.validate.Length(min=1, max=receipts.MAX_LINES)
    )
    reason = text_field(
        receipts.MAX_REASON,
        allow_none=True,
        load_default=None,
        metadata={"description": "why; required when a line corrects figures already recorded for the item"},
    )
    confirm_weight = ma.fields.Bool(load_default=False, metadata={"description": "take a weight far from the expected one"})


class ReceiptLineSchema(ma.Schema):
    item_id = ma.fields.Int()
    quantity = ma.fields.Int()
    weight_g = ma.fields.Int(allow_none=True)
    value_fen = ma.fields.Int(metadata={"description": "what the producer is owed for it"})
    quantity_change = ma.fields.Int()
    weight_change_g = ma.fields.Int()
    value_change_fen = ma.fields.Int()


class ReceiptSchema(ma.Schema):
    id = ma.fields.Int()
    campaign_id = ma.fields.Int()
    unit_id = ma.fields.Int()
    producer_id = ma.fields.Int()
    kind = PlainText(metadata={"description": "receipt, correction or full (everything arrived)"})
    reason = PlainText(allow_none=True)
    recorded_by_id = ma.fields.Int(allow_none=True)
    recorded_at = LocalDateTime()
    lines = ma.fields.List(ma.fields.Nested(ReceiptLineSchema))


@blp.route("/campaigns/<int:campaign_id>/receipts")
class CampaignReceipts(MethodView):
    @api_auth("operator", "buyer")
    @blp.arguments(ReceiptInSchema)
    @blp.response(201, ReceiptSchema)
    def post(self, data, campaign_id):
        """Record what arrived at a unit from a producer (operators; that unit's coordinator).

        A shortfall is shared among the unit's buyers by what each ordered (largest remainders, ties to the earlier
        order); each buyer's charge follows. A second receipt for the same producer, unit and item corrects the first
        (``reason`` required); the earlier figures stay in the ledger. 422 for a quantity above the pick line, a
        weight of 0 or less, a correction without a reason; 409 ``weight_unconfirmed``; nothing is saved then.
        """
        return receipts.record_receipt(
            g.api_user,
            campaign_id,
            data["unit_id"],
            data["producer_id"],
            data["lines"],
            reason=data["reason"],
            confirm_weight=data["confirm_weight"],
        )
