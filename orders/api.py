"""JSON endpoints for orders: place (idempotent), list, read, change, cancel."""

import marshmallow as ma
from flask import g, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import MAX_ID, PHONE, PageArgs, page_of, page_schema, text_field
from database import local_zone
from delivery.ledger import order_figures, pledged_fen
from extensions import limiter
from orders import reading, services
from orders.lines import MAX_IDEMPOTENCY_KEY, MAX_LINE_QUANTITY, MAX_LINES, MAX_NOTE
from plain_text import PlainText
from shop.api import LocalDateTime

blp = Blueprint("orders_api", __name__, url_prefix="/api/v1", description="Orders")
# No rate limit applies to orders (only logging in has one). The filter answers before the limiter looks anything up.
limiter.exempt(blp)


@limiter.request_filter
def _orders_are_never_rate_limited():
    return request.blueprint == blp.name


IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[!-~]*$"},
    "description": "Clients must send one: a fresh random key with each new order, and the same key when retrying it. "
    "A repeat with the same body returns the first order (200), with another body 409 idempotency_conflict. "
    "Retry with the key after any 503 or lost answer: 503 outcome_unknown means the connection to the database "
    "broke during the commit, so the order may have been saved; without a key, a retry may place it twice.",
}


class LineInSchema(ma.Schema):
    # Checked by orders.lines.normalize_lines, whose messages name the line.
    item_id = ma.fields.Int(strict=True, required=True, metadata={"minimum": 1, "maximum": MAX_ID})
    quantity = ma.fields.Int(strict=True, required=True, metadata={"minimum": 1, "maximum": MAX_LINE_QUANTITY})


LINES = {
    "required": True,
    "metadata": {
        "minItems": 1,
        "maxItems": MAX_LINES,
        "description": f"items of this campaign; the same item twice is added up, to at most {MAX_LINE_QUANTITY}",
    },
}


class OrderPlaceSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(LineInSchema), **LINES)
    note = text_field(MAX_NOTE, multiline=True, min_length=0, allow_none=True, load_default=None)
    buyer_name = text_field(
        80,
        allow_none=True,
        load_default=None,
        metadata={"description": "coordinators: a colleague's name, to order for them (with buyer_phone)"},
    )
    buyer_phone = ma.fields.Str(
        allow_none=True,
        load_default=None,
        metadata={**PHONE, "description": "coordinators: the colleague's mobile (with buyer_name)"},
    )


class OrderChangeSchema(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(LineInSchema), **LINES)


class LineSchema(ma.Schema):
    item_id = ma.fields.Int()
    quantity = ma.fields.Int()
    price_fen = ma.fields.Int()
    cancelled = ma.fields.Bool()
    cancel_reason = PlainText(allow_none=True)
    delivered = ma.fields.Int(
        allow_none=True, metadata={"description": "what the buyer received, shortfall shared; null before any receipt"}
    )
    weight_g = ma.fields.Int(allow_none=True, metadata={"description": "the weighed grams, for items charged by weight"})
    charged_fen = ma.fields.Int(metadata={"description": "what the buyer pays for the line: the pledge until it arrives"})


class OrderSchema(ma.Schema):
    id = ma.fields.Int()
    number = PlainText(metadata={"description": "the order number people read and say, e.g. C12-0042"})
    campaign_id = ma.fields.Int()
    status = PlainText()
    unit_id = ma.fields.Int()
    user_id = ma.fields.Int(allow_none=True)
    buyer_name = PlainText()
    buyer_phone = PlainText()
    placed_by_id = ma.fields.Int()
    source = PlainText()
    note = PlainText(multiline=True, allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(LineSchema))
    total_fen = ma.fields.Int()
    charged_fen = ma.fields.Int(metadata={"description": "what the buyer pays: the lines' charged_fen added up"})
    payment_status = PlainText()
    created_at = LocalDateTime()
    cancelled_at = LocalDateTime(allow_none=True)


class OrderListArgs(PageArgs):
    campaign_id = ma.fields.Int()


@blp.route("/campaigns/<int:campaign_id>/orders")
class CampaignOrders(MethodView):
    @api_auth("buyer")
    @blp.arguments(OrderPlaceSchema())  # an instance: a class would be instantiated anew for every order
    @blp.response(201, OrderSchema)
    @blp.alt_response(200, schema=OrderSchema, description="A repeat of an earlier request with the same Idempotency-Key")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, data, campaign_id):
        """Place a pre-order (paid on delivery). A coordinator may give buyer_name and buyer_phone to order for a colleague
        of their unit: 422 for a phone registered outside the unit, 409 ``already_ordered`` (``details.order_id``) when
        the colleague already has an order of the unit in the campaign.

        Always send an Idempotency-Key, and the same one when retrying: after 503 outcome_unknown (the database
        connection broke during the commit) the order may have been saved, and only the key makes the retry safe.
        """
        on_behalf = data["buyer_name"] is not None or data["buyer_phone"] is not None
        placed = services.place_order(
            g.api_user,
            campaign_id,
            data["lines"],
            idempotency_key=request.headers.get("Idempotency-Key"),
            note=data["note"],
            buyer_name=data["buyer_name"],
            buyer_phone=data["buyer_phone"],
            source="coordinator" if on_behalf else "buyer",
        )
        if not placed.created:
            return order_with_figures(placed.order), 200
        return jsonify(order_json(placed.order)), 201


def order_with_figures(order) -> dict:
    """The order for OrderSchema with its lines' delivered, weight and charged figures (``delivery.ledger``)."""
    body = {name: getattr(order, name) for name in OrderSchema().fields if name not in ("lines", "charged_fen")}
    return {**body, **order_figures(order)}


def order_json(order) -> dict:
    """OrderSchema's answer for a new order, built directly rather than through marshmallow on the busiest endpoint;
    tests/orders/test_place_order_api.py holds the two equal."""
    zone = local_zone()
    return {
        "id": order.id,
        "number": order.number,
        "campaign_id": order.campaign_id,
        "status": order.status,
        "unit_id": order.unit_id,
        "user_id": order.user_id,
        "buyer_name": order.buyer_name,
        "buyer_phone": order.buyer_phone,
        "placed_by_id": order.placed_by_id,
        "source": order.source,
        "note": order.note,
        "lines": [
            {
                "item_id": line.item_id,
                "quantity": line.quantity,
                "price_fen": line.price_fen,
                "cancelled": line.cancelled,
                "cancel_reason": line.cancel_reason,
                # A new order: nothing arrived yet, so each line charges its pledge.
                "delivered": None,
                "weight_g": None,
                "charged_fen": pledged_fen(line.quantity, line.price_fen, line.cancelled),
            }
            for line in order.lines
        ],
        "total_fen": order.total_fen,
        "charged_fen": order.total_fen,
        "payment_status": order.payment_status,
        "created_at": order.created_at.astimezone(zone).isoformat(),
        "cancelled_at": None if order.cancelled_at is None else order.cancelled_at.astimezone(zone).isoformat(),
    }


@blp.route("/orders")
class Orders(MethodView):
    @api_auth("buyer", "operator")
    @blp.arguments(OrderListArgs, location="query")
    @blp.response(200, page_schema(OrderSchema))
    def get(self, args):
        """A buyer's own orders, newest first (operators: every order); ``?campaign_id=`` narrows to one campaign."""
        return page_of(reading.my_orders_query(g.api_user, args.get("campaign_id")), args["page"], args["per_page"])


@blp.route("/orders/<int:order_id>")
class OrderDetail(MethodView):
    @api_auth()
    @blp.response(200, OrderSchema)
    def get(self, order_id):
        """One order: its buyer, their unit's coordinator, or an operator; with what was delivered and charged."""
        return order_with_figures(reading.get_order(g.api_user, order_id))

    @api_auth("buyer")
    @blp.arguments(OrderChangeSchema)
    @blp.response(200, OrderSchema)
    def patch(self, data, order_id):
        """Replace the order's lines while the campaign is open (its buyer or their coordinator)."""
        return services.change_order(g.api_user, order_id, data["lines"])


@blp.route("/orders/<int:order_id>/cancel")
class OrderCancel(MethodView):
    @api_auth("buyer", "operator")
    @blp.response(200, OrderSchema)
    def post(self, order_id):
        """Cancel the order while the campaign is open; its capacity returns. Cancelling twice changes nothing."""
        return services.cancel_order(g.api_user, order_id)
