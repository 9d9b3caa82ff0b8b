"""JSON endpoints for a work unit's coordinator: upload a unit's sign-up sheet, download its template, the unit's orders, payments."""

import dataclasses
import io

import marshmallow as ma
from flask import g, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from accounts.access import api_auth
from api import PageArgs, id_field, text_field
from orders.api import OrderSchema
from orders.models import PAYMENT_METHODS
from plain_text import PlainText
from spreadsheets import XLSX_TYPE
from units import invitations, payments, roster, sheet_import, targets, unit_orders
from units.sheet_template import sheet_template

blp = Blueprint("units_api", __name__, url_prefix="/api/v1", description="Group orders of work units")


class SheetUploadSchema(ma.Schema):
    file = Upload(
        required=True, metadata={"description": "the filled-in sheet: xlsx, or csv in UTF-8 (with or without BOM) or GBK"}
    )


class SheetUploadArgs(ma.Schema):
    dry_run = ma.fields.Bool(
        load_default=False, metadata={"description": "only report what the upload would change; nothing is saved"}
    )


class PersonChangeSchema(ma.Schema):
    kind = PlainText(metadata={"description": "added, changed, removed or unchanged"})
    name = PlainText()
    phone = PlainText()
    before = ma.fields.Dict(keys=PlainText(), values=ma.fields.Int(), metadata={"description": "item id → quantity"})
    after = ma.fields.Dict(keys=PlainText(), values=ma.fields.Int())
    before_fen = ma.fields.Int()
    after_fen = ma.fields.Int()
    was_paid = ma.fields.Bool()
    order_id = ma.fields.Int(allow_none=True)


class SheetResultSchema(ma.Schema):
    orders = ma.fields.Int(metadata={"description": "orders of the unit's sheet after the upload (one a person)"})
    lines = ma.fields.Int()
    total_fen = ma.fields.Int()
    sheet_id = ma.fields.Int(allow_none=True)
    replaced_sheet_id = ma.fields.Int(allow_none=True)
    added = ma.fields.Int()
    changed = ma.fields.Int()
    removed = ma.fields.Int()
    unchanged = ma.fields.Int()
    skipped = ma.fields.Int(metadata={"description": "rows that order nothing"})
    order_ids = ma.fields.List(ma.fields.Int())
    dry_run = ma.fields.Bool()
    changes = ma.fields.List(ma.fields.Nested(PersonChangeSchema))


class UnitOrdersArgs(PageArgs):
    campaign_id = id_field()
    unpaid = ma.fields.Bool(load_default=False, metadata={"description": "only people who still owe money"})


class PersonLineSchema(ma.Schema):
    item_id = ma.fields.Int()
    title = PlainText()
    unit = PlainText()
    quantity = ma.fields.Int()


class PersonSchema(ma.Schema):
    campaign_id = ma.fields.Int()
    name = PlainText()
    phone = PlainText()
    lines = ma.fields.List(ma.fields.Nested(PersonLineSchema))
    due_fen = ma.fields.Int()
    paid_fen = ma.fields.Int()
    outstanding_fen = ma.fields.Int()
    payment_status = PlainText(metadata={"description": "paid, partly_paid or unpaid"})
    orders = ma.fields.List(ma.fields.Nested(OrderSchema))


class ItemTotalSchema(ma.Schema):
    item_id = ma.fields.Int()
    title = PlainText()
    unit = PlainText()
    quantity = ma.fields.Int()
    amount_fen = ma.fields.Int()


class UnitOrdersSchema(ma.Schema):
    unit_id = ma.fields.Int()
    campaign_id = ma.fields.Int(allow_none=True)
    people = ma.fields.List(ma.fields.Nested(PersonSchema))
    items = ma.fields.List(ma.fields.Nested(ItemTotalSchema))
    due_fen = ma.fields.Int()
    collected_fen = ma.fields.Int()
    outstanding_fen = ma.fields.Int()
    sheet_id = ma.fields.Int(allow_none=True)
    page = ma.fields.Int(metadata={"description": "people are listed a page at a time; the totals are the whole unit's"})
    per_page = ma.fields.Int()
    total = ma.fields.Int(metadata={"description": "people in all pages"})


class PaymentSchema(ma.Schema):
    method = PlainText(required=True, validate=ma.validate.OneOf(PAYMENT_METHODS))
    reason = text_field(255, allow_none=True, load_default=None, metadata={"description": "why (kept with the entry)"})


class PaymentUndoArgs(ma.Schema):
    reason = text_field(255, allow_none=True, load_default=None, metadata={"description": "why the payment is taken back"})


class PaymentEntrySchema(ma.Schema):
    id = ma.fields.Int()
    at = ma.fields.DateTime()
    actor_id = ma.fields.Int(allow_none=True)
    status = PlainText()
    method = PlainText(allow_none=True)
    amount_fen = ma.fields.Int(metadata={"description": "positive: marked paid; negative: taken back"})
    reason = PlainText(allow_none=True)


class PaymentHistorySchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PaymentEntrySchema))


class PaymentOrderSchema(OrderSchema):
    payment_method = PlainText(allow_none=True)
    payment_recorded_by_id = ma.fields.Int(allow_none=True)


def _result_body(result):
    return {**dataclasses.asdict(result), "dry_run": False, "changes": []}


def _preview_body(plan):
    changes = [
        {
            "kind": c.kind,
            "name": c.name,
            "phone": c.phone,
            "before": {str(k): v for k, v in c.before.items()},
            "after": {str(k): v for k, v in c.after.items()},
            "before_fen": c.before_fen,
            "after_fen": c.after_fen,
            "was_paid": c.was_paid,
            "order_id": c.order_id,
        }
        for c in plan.changes
    ]
    return {
        "orders": len(plan.rows),
        "lines": plan.line_count,
        "total_fen": plan.total_fen,
        "sheet_id": None,
        "replaced_sheet_id": plan.previous.id if plan.previous else None,
        "added": len(plan.added),
        "changed": len(plan.changed),
        "removed": len(plan.removed),
        "unchanged": len(plan.unchanged),
        "skipped": plan.skipped,
        "order_ids": [],
        "dry_run": True,
        "changes": changes,
    }


@blp.route("/campaigns/<int:campaign_id>/group-orders")
class GroupOrders(MethodView):
    @api_auth("buyer", coordinator=True)
    @blp.arguments(SheetUploadArgs, location="query")
    @blp.arguments(SheetUploadSchema, location="files")
    @blp.response(201, SheetResultSchema)
    @blp.alt_response(200, schema=SheetResultSchema, description="dry_run: what the upload would change; nothing saved")
    @blp.alt_response(422, description="invalid_sheet: details.rows lists every problem as {row, column, cell, message}")
    @blp.alt_response(413, description="too_large: the file is over the size limit")
    def post(self, args, files, campaign_id):
        """Upload the unit's sign-up sheet: all rows become orders in one transaction, or none do.

        Uploading again replaces the unit's previous sheet for the campaign (people whose lines did not
        change keep their order). With ``?dry_run=true`` nothing is saved and the changes are listed.
        """
        if args["dry_run"]:
            plan = sheet_import.preview_sheet(g.api_user, campaign_id, files["file"])
            return _preview_body(plan), 200
        result = sheet_import.import_sheet(g.api_user, campaign_id, files["file"])
        return _result_body(result), 201


@blp.route("/campaigns/<int:campaign_id>/sheet-template")
class SheetTemplate(MethodView):
    @api_auth("buyer", coordinator=True)
    @blp.response(200, description="the xlsx to fill in", content_type=XLSX_TYPE)
    def get(self, campaign_id):
        """The sign-up sheet to fill in: one row a person, one column an item headed by its title, notes, instructions."""
        filename, data = sheet_template(g.api_user, campaign_id)
        return send_file(io.BytesIO(data), mimetype=XLSX_TYPE, as_attachment=True, download_name=filename)


def _unit_orders_body(overview):
    people = []
    for person in overview.people:
        titles = {line.item_id: line.item for order in person.orders for line in order.lines}
        people.append(
            {
                "campaign_id": person.campaign_id,
                "name": person.name,
                "phone": person.phone,
                "lines": [
                    {"item_id": item_id, "title": titles[item_id].title, "unit": titles[item_id].unit, "quantity": quantity}
                    for item_id, quantity in sorted(person.quantities.items())
                ],
                "due_fen": person.due_fen,
                "paid_fen": person.paid_fen,
                "outstanding_fen": person.outstanding_fen,
                "payment_status": person.payment_status,
                "orders": person.orders,
            }
        )
    return {
        "unit_id": overview.unit.id,
        "campaign_id": overview.campaign.id if overview.campaign else None,
        "people": people,
        "items": [
            {"item_id": item.id, "title": item.title, "unit": item.unit, "quantity": quantity, "amount_fen": amount}
            for item, quantity, amount in overview.item_totals
        ],
        "due_fen": overview.due_fen,
        "collected_fen": overview.collected_fen,
        "outstanding_fen": overview.outstanding_fen,
        "sheet_id": overview.sheet.id if overview.sheet else None,
    }


@blp.route("/units/<int:unit_id>/orders")
class UnitOrders(MethodView):
    @api_auth("buyer", "operator")
    @blp.arguments(UnitOrdersArgs, location="query")
    @blp.response(200, UnitOrdersSchema)
    def get(self, args, unit_id):
        """The unit's orders per person, totals per item, money due and collected (its coordinator, operators)."""
        overview = unit_orders.unit_orders(
            g.api_user,
            unit_id,
            args.get("campaign_id"),
            unpaid_only=args["unpaid"],
            paged=True,
            page=args["page"],
            per_page=args["per_page"],
        )
        pages = overview.pagination
        return {**_unit_orders_body(overview), "page": pages.page, "per_page": pages.per_page, "total": pages.total}


@blp.route("/orders/<int:order_id>/payment")
class OrderPayment(MethodView):
    @api_auth("buyer", "operator")
    @blp.arguments(PaymentSchema)
    @blp.response(200, PaymentOrderSchema)
    def post(self, data, order_id):
        """Mark the order paid (cash or transfer); who recorded it is kept (the unit's coordinator, operators)."""
        return payments.record_payment(g.api_user, order_id, data["method"], reason=data["reason"])

    @api_auth("buyer", "operator")
    @blp.arguments(PaymentUndoArgs, location="query")
    @blp.response(200, PaymentOrderSchema)
    def delete(self, args, order_id):
        """Undo a payment recorded by mistake: the order is unpaid again; an entry takes the amount back, with why."""
        return payments.clear_payment(g.api_user, order_id, reason=args["reason"])


@blp.route("/orders/<int:order_id>/payments")
class OrderPaymentHistory(MethodView):
    @api_auth("buyer", "operator")
    @blp.response(200, PaymentHistorySchema)
    def get(self, order_id):
        """Every change to the order's payment, oldest first: who, when, why, the amount (its coordinator, operators)."""
        return {"items": payments.payment_history(g.api_user, order_id)}


class TargetInSchema(ma.Schema):
    canteen_budget_fen = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(0, targets.MAX_BUDGET_FEN))
    canteen_share_pct = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(0, 100))
    union_budget_fen = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(0, targets.MAX_BUDGET_FEN))
    union_share_pct = ma.fields.Int(strict=True, required=True, validate=ma.validate.Range(0, 100))


class TargetSchema(ma.Schema):
    unit_id = ma.fields.Function(lambda p: p.unit.id)
    year = ma.fields.Int()
    canteen_budget_fen = ma.fields.Function(lambda p: p.target.canteen_budget_fen if p.target else 0)
    canteen_share_pct = ma.fields.Function(lambda p: p.target.canteen_share_pct if p.target else 0)
    union_budget_fen = ma.fields.Function(lambda p: p.target.union_budget_fen if p.target else 0)
    union_share_pct = ma.fields.Function(lambda p: p.target.union_share_pct if p.target else 0)
    target_fen = ma.fields.Int()
    pledged_fen = ma.fields.Int(metadata={"description": "the unit's live orders in campaigns delivering that year"})
    completed_fen = ma.fields.Int(metadata={"description": "of those, delivered and paid"})
    expected_pct = ma.fields.Int(metadata={"description": "how much of the year has passed, in percent"})
    lagging = ma.fields.Bool()


@blp.route("/units/<int:unit_id>/targets/<int:year>")
class UnitTargetResource(MethodView):
    @api_auth()
    @blp.response(200, TargetSchema)
    def get(self, unit_id, year):
        """A unit's yearly target and progress (its coordinator, operators): unit totals only, never a person's."""
        return targets.unit_progress(g.api_user, unit_id, year)

    @api_auth()
    @blp.arguments(TargetInSchema)
    @blp.response(200, TargetSchema)
    def put(self, data, unit_id, year):
        """Record a unit's budgets and shares for a year (its coordinator, operators); replaces an earlier one."""
        return targets.set_target(g.api_user, unit_id, year, **data)


class InvitationSchema(ma.Schema):
    code = PlainText()
    url = PlainText(metadata={"description": "the invitation link, also the QR code's target"})


def _invitation_body(invitation):
    return {"code": invitation.code, "url": invitations.invitation_url(invitation.code)}


@blp.route("/units/<int:unit_id>/invite")
class UnitInvitation(MethodView):
    @api_auth("buyer", "operator")
    @blp.response(200, InvitationSchema)
    def get(self, unit_id):
        """The unit's invitation: its code and link (the unit's coordinator, operators)."""
        return _invitation_body(invitations.current_invitation(g.api_user, unit_id))

    @api_auth("buyer", "operator")
    @blp.response(200, InvitationSchema)
    def post(self, unit_id):
        """Replace the unit's invitation: the old code and link stop working at once."""
        return _invitation_body(invitations.rotate_invitation(g.api_user, unit_id))


class RosterPersonSchema(ma.Schema):
    row = ma.fields.Int()
    name = PlainText()
    phone = PlainText()
    unit_name = PlainText(allow_none=True)


class RosterProblemSchema(ma.Schema):
    row = ma.fields.Int(allow_none=True)
    column = PlainText(allow_none=True)
    cell = PlainText(allow_none=True)
    message = PlainText()


class RosterResultSchema(ma.Schema):
    added = ma.fields.List(ma.fields.Nested(RosterPersonSchema), metadata={"description": "new people, invited on confirm"})
    existing = ma.fields.List(
        ma.fields.Nested(RosterPersonSchema), metadata={"description": "people who already have an account"}
    )
    rows = ma.fields.List(ma.fields.Nested(RosterProblemSchema), metadata={"description": "invalid rows (dry_run only)"})
    invited = ma.fields.Int(metadata={"description": "SMS invitations queued now (0 for a dry run)"})


def _roster_body(plan):
    return {"added": plan.added, "existing": plan.existing, "rows": plan.problems, "invited": plan.invited}


@blp.route("/units/<int:unit_id>/roster")
class UnitRoster(MethodView):
    @api_auth("buyer", "operator")
    @blp.arguments(SheetUploadArgs, location="query")
    @blp.arguments(SheetUploadSchema, location="files")
    @blp.response(201, RosterResultSchema)
    @blp.alt_response(200, schema=RosterResultSchema, description="dry_run: who is new, who exists, which rows are wrong")
    @blp.alt_response(422, description="invalid_sheet: details.rows lists every problem; nothing sent")
    def post(self, args, files, unit_id):
        """Upload the unit's staff list (姓名, 手机号): each new person gets the unit's invitation by SMS."""
        if args["dry_run"]:
            return _roster_body(roster.plan_roster(g.api_user, unit_id, files["file"])), 200
        return _roster_body(roster.import_roster(g.api_user, unit_id, files["file"])), 201
