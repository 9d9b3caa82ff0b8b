"""JSON endpoints of earnings: a producer's income per campaign, a campaign's payment terms, payout reversals."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import text_field
from dashboard import payouts
from earnings import services
from plain_text import PlainText

blp = Blueprint("earnings_api", __name__, url_prefix="/api/v1", description="What producers earn, and payment terms")


class EarningSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    title = PlainText()
    allocated_fen = ma.fields.Int()
    delivered_fen = ma.fields.Int()
    refunded_fen = ma.fields.Int()
    due_fen = ma.fields.Int()
    paid_fen = ma.fields.Int()
    owed_fen = ma.fields.Int()
    due_on = ma.fields.Date(allow_none=True, metadata={"description": "last delivery + the payment terms; null before delivery"})
    overdue = ma.fields.Bool()


class EarningsSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EarningSchema))


class TermsInSchema(ma.Schema):
    days = ma.fields.Int(
        strict=True,
        required=True,
        allow_none=True,
        validate=ma.validate.Range(0, services.MAX_TERMS_DAYS),
        metadata={"description": "days after delivery; null: the default (PAYMENT_TERMS_DAYS)"},
    )


class TermsSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    days = ma.fields.Int()
    default = ma.fields.Bool()


@blp.route("/producers/<int:producer_id>/earnings")
class Earnings(MethodView):
    @api_auth("producer", "operator")
    @blp.response(200, EarningsSchema)
    def get(self, producer_id):
        """Per campaign: allocated, delivered, refunded, due, paid, still owed, due date, overdue (that producer,
        operators)."""
        return services.producer_earnings(g.api_user, producer_id)


@blp.route("/campaigns/<int:campaign_id>/payment-terms")
class PaymentTerms(MethodView):
    @api_auth("operator")
    @blp.arguments(TermsInSchema)
    @blp.response(200, TermsSchema)
    def put(self, data, campaign_id):
        """Set the campaign's payment terms (operators): producers are paid within this many days of delivery."""
        campaign = services.set_payment_terms(g.api_user, campaign_id, data["days"])
        return {"campaign_id": campaign.id, "days": services.terms_days(campaign), "default": campaign.payment_terms_days is None}


class ReverseInSchema(ma.Schema):
    reason = text_field(payouts.REASON_MAX, multiline=True, required=True)


class PayoutSchema(ma.Schema):
    id = ma.fields.Int()
    campaign_id = ma.fields.Int()
    producer_id = ma.fields.Int()
    amount_fen = ma.fields.Int(metadata={"description": "negative for a reversing entry"})
    method = PlainText()
    reference = PlainText(allow_none=True)
    paid_at = ma.fields.DateTime()
    reverses_id = ma.fields.Int(allow_none=True)
    reason = PlainText(allow_none=True)


@blp.route("/payouts/<int:payout_id>/reverse")
class ReversePayout(MethodView):
    @api_auth("operator")
    @blp.arguments(ReverseInSchema)
    @blp.response(201, PayoutSchema)
    def post(self, data, payout_id):
        """Reverse a payout recorded wrongly (operators): a new entry of the negative amount with the reason; the
        original is never edited. Record the right amount as a new payout."""
        return payouts.reverse_payout(g.api_user, payout_id, data["reason"])
