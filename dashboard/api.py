"""JSON endpoint: sales statistics (GET /stats/summary)."""

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

import paging
from accounts.access import api_auth
from api import PageArgs, id_field, page_schema, text_field
from dashboard import delivery
from dashboard.kept_reading import figures_summary
from dashboard.sales import GROUPINGS
from list_filters import ListFilter
from plain_text import PlainText

blp = Blueprint("dashboard_api", __name__, url_prefix="/api/v1", description="Sales statistics")


class SummaryArgs(ma.Schema):
    campaign_id = ma.fields.Int(load_default=None, validate=ma.validate.Range(min=1, max=2**31 - 1))
    group_by = PlainText(load_default="product", validate=ma.validate.OneOf(GROUPINGS))


class TotalsSchema(ma.Schema):
    revenue_fen = ma.fields.Int(metadata={"description": "pledged: what was ordered (live lines)"})
    delivered_fen = ma.fields.Int(metadata={"description": "what the goods that arrived cost, before refunds"})
    refunded_fen = ma.fields.Int(metadata={"description": "refunded by claims"})
    completed_fen = ma.fields.Int(metadata={"description": "delivered, paid and not refunded (delivery.outcomes)"})
    completed_households = ma.fields.Int(metadata={"description": "poverty households reached by completed sales"})
    orders = ma.fields.Int()
    buyers = ma.fields.Int()
    producers = ma.fields.Int()
    poverty_households = ma.fields.Int()
    poverty_households_direct = ma.fields.Int(metadata={"description": "registered poverty households that sold themselves"})
    poverty_households_through = ma.fields.Int(
        metadata={"description": "households linked to the cooperatives and enterprises that sold"}
    )
    weight_kg = ma.fields.Float()
    weight_g = ma.fields.Int()
    units_without_weight = ma.fields.Int(metadata={"description": "sale units of items with no unit weight"})
    unallocated_revenue_fen = ma.fields.Int(metadata={"description": "sales in campaigns not yet pooled"})
    lines = ma.fields.Int()


class ReachSchema(ma.Schema):
    producers = ma.fields.Int()
    direct_households = ma.fields.Int()
    direct_revenue_fen = ma.fields.Int()
    income_per_direct_household_fen = ma.fields.Int(allow_none=True)
    through_producers = ma.fields.Int()
    linked_households = ma.fields.Int()
    through_revenue_fen = ma.fields.Int()
    sales_per_linked_household_fen = ma.fields.Int(allow_none=True)
    other_producers = ma.fields.Int()
    other_revenue_fen = ma.fields.Int()
    poverty_households = ma.fields.Int()
    completed_households = ma.fields.Int()
    completed_direct_households = ma.fields.Int()
    completed_direct_fen = ma.fields.Int()
    completed_linked_households = ma.fields.Int()
    completed_through_fen = ma.fields.Int()
    completed_income_per_direct_household_fen = ma.fields.Int(allow_none=True)
    completed_sales_per_linked_household_fen = ma.fields.Int(allow_none=True)


class RowSchema(ma.Schema):
    key = PlainText()
    label = PlainText()
    quantity = ma.fields.Int(allow_none=True, metadata={"description": "null when the row mixes sale units"})
    unit = PlainText(allow_none=True)
    weight_kg = ma.fields.Float()
    weight_g = ma.fields.Int()
    units_without_weight = ma.fields.Int()
    revenue_fen = ma.fields.Int()
    orders = ma.fields.Int()
    buyers = ma.fields.Int()
    town = PlainText()
    kind = PlainText()
    poverty_household = ma.fields.Bool()
    unallocated = ma.fields.Bool()


class SummarySchema(ma.Schema):
    group_by = PlainText()
    campaign_id = ma.fields.Int(allow_none=True)
    totals = ma.fields.Nested(TotalsSchema)
    reach = ma.fields.Nested(ReachSchema)
    rows = ma.fields.List(ma.fields.Nested(RowSchema))


@blp.route("/stats/summary")
class Summary(MethodView):
    @api_auth("operator")
    @blp.arguments(SummaryArgs, location="query")
    @blp.response(200, SummarySchema)
    def get(self, args):
        """Sales totals and one row per product, producer, town, unit, day or campaign (operators).

        Counts exclude cancelled lines, cancelled orders, and draft or cancelled campaigns. Producer and town rows
        come from allocations once a campaign is pooled; earlier sales form one "unallocated" row.
        """
        return figures_summary(args["campaign_id"], args["group_by"])


class OutstandingArgs(PageArgs):
    campaign_id = id_field(load_default=None)
    unit_id = id_field(load_default=None)
    producer_id = id_field(load_default=None)
    town = text_field(40, load_default=None)


class OutstandingSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    campaign_title = PlainText()
    delivery_on = ma.fields.Date()
    unit_id = ma.fields.Int()
    unit_name = PlainText()
    producer_id = ma.fields.Int()
    producer_name = PlainText()
    town = PlainText(allow_none=True)
    title = PlainText()
    quantity = ma.fields.Int()
    sale_unit = PlainText()


@blp.route("/deliveries/outstanding")
class OutstandingDeliveries(MethodView):
    @api_auth("operator")
    @blp.arguments(OutstandingArgs, location="query")
    @blp.response(200, page_schema(OutstandingSchema))
    def get(self, args):
        """Pick lines not yet delivered, oldest delivery date first, a page at a time (operators); the dashboard's
        outstanding list, filtered the same way by campaign, work unit, producer and town."""
        filters = ListFilter(unit_id=args["unit_id"], producer_id=args["producer_id"], town=args["town"])
        page = delivery.outstanding_page(args["campaign_id"], filters, args["page"], args["per_page"])
        return paging.envelope(page, [dict(row._mapping) for row in page.items])
