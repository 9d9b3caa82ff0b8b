"""JSON endpoints of claims (售后): file on an order's delivered line, read, and (operators) decide."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import id_field, text_field
from claims import reading, services
from claims.models import CLAIM_REASONS, CLAIM_STATUSES, DECISIONS
from plain_text import PlainText

blp = Blueprint("claims_api", __name__, url_prefix="/api/v1", description="Claims (售后) on delivered lines")


class ClaimInSchema(ma.Schema):
    item_id = id_field(strict=True, required=True)
    quantity = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    reason = ma.fields.Str(required=True, validate=ma.validate.OneOf(CLAIM_REASONS))
    note = text_field(services.NOTE_MAX, multiline=True, min_length=0, allow_none=True, load_default=None)
    producer_id = id_field(strict=True, allow_none=True, load_default=None, metadata={"description": "whose goods, if known"})


class ClaimRefundSchema(ma.Schema):
    producer_id = ma.fields.Int()
    amount_fen = ma.fields.Int()


class ClaimSchema(ma.Schema):
    id = ma.fields.Int()
    order_id = ma.fields.Int()
    campaign_id = ma.fields.Int()
    item_id = ma.fields.Int()
    producer_id = ma.fields.Int(allow_none=True)
    quantity = ma.fields.Int()
    reason = PlainText()
    note = PlainText(allow_none=True)
    status = PlainText(metadata={"description": ", ".join(CLAIM_STATUSES)})
    filed_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)
    decision_note = PlainText(allow_none=True)
    refund_quantity = ma.fields.Int(allow_none=True)
    refund_fen = ma.fields.Int(allow_none=True)
    refunds = ma.fields.List(ma.fields.Nested(ClaimRefundSchema))
    photos = ma.fields.Method("photo_tokens")

    def photo_tokens(self, claim):
        return [photo.token for photo in claim.photos]


class ClaimListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ClaimSchema))


class DecisionSchema(ma.Schema):
    decision = ma.fields.Str(required=True, validate=ma.validate.OneOf(tuple(DECISIONS)))
    quantity = ma.fields.Int(strict=True, allow_none=True, load_default=None, validate=ma.validate.Range(min=1, max=2**31 - 1))
    note = text_field(services.NOTE_MAX, multiline=True, min_length=0, allow_none=True, load_default=None)


class QueueArgs(ma.Schema):
    status = ma.fields.Str(load_default="open", validate=ma.validate.OneOf((*CLAIM_STATUSES, "all")))


@blp.route("/orders/<int:order_id>/claims")
class OrderClaims(MethodView):
    @api_auth("buyer")
    @blp.arguments(ClaimInSchema)
    @blp.response(201, ClaimSchema)
    def post(self, data, order_id):
        """File a claim on a delivered line (the order's owner, their coordinator), within CLAIM_DAYS of delivery."""
        return services.file_claim(g.api_user, order_id, **data)

    @api_auth("buyer", "operator")
    @blp.response(200, ClaimListSchema)
    def get(self, order_id):
        """The order's claims (the owner, their coordinator, operators)."""
        return {"items": reading.order_claims(g.api_user, order_id)}


@blp.route("/claims")
class Claims(MethodView):
    @api_auth("operator")
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, ClaimListSchema)
    def get(self, args):
        """The operators' queue: open claims oldest first (or ?status=refunded|replaced|rejected|all)."""
        status = None if args["status"] == "all" else args["status"]
        return {"items": reading.claims_queue(g.api_user, status)}


@blp.route("/claims/<int:claim_id>")
class ClaimById(MethodView):
    @api_auth("buyer", "operator")
    @blp.response(200, ClaimSchema)
    def get(self, claim_id):
        """One claim (its buyer, their coordinator, operators)."""
        return reading.get_claim(g.api_user, claim_id)


@blp.route("/claims/<int:claim_id>/decide")
class Decide(MethodView):
    @api_auth("operator")
    @blp.arguments(DecisionSchema)
    @blp.response(200, ClaimSchema)
    def post(self, data, claim_id):
        """Decide an open claim once: refund (all or ``quantity`` of its pieces), replace, or reject with a note."""
        return services.decide_claim(g.api_user, claim_id, data["decision"], quantity=data["quantity"], note=data["note"])
