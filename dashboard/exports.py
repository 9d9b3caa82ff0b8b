"""Every dashboard table as xlsx or csv: headers in the user's language (Chinese by default), safe to open in Excel.

Formula injection: a text cell starting with = + - @ tab or carriage return would run as a formula in a
spreadsheet (a buyer who calls themselves ``=HYPERLINK(...)``). The xlsx keeps such text intact as a text cell
(spreadsheets.write_workbook); the csv, which has no cell types, gets a leading apostrophe. Money is written in
yuan and weights in kg and jin as exact decimals: numbers, so a spreadsheet adds them up. Each file is named after
its table, its grouping, its campaign and the day it was made, so two downloads never share a name.
"""

import csv
import io
from decimal import Decimal

from flask_babel import gettext as _

from dashboard import delivery, settlement
from dashboard.kept_reading import figures_summary, figures_totals
from dashboard.order_lines import order_lines
from database import utcnow
from errors import NotFound, ValidationFailed
from measures import kg_decimal, yuan_decimal
from notifications.messages import item_list
from presentation import local_date, local_datetime, status_label
from spreadsheets import MONEY, WEIGHT, XLSX_TYPE, Sheet, safe_text, write_workbook

FORMATS = ("xlsx", "csv")


def cell_value(value, kind="text"):
    """A table value as written to a file: money in yuan, weight in kg, None empty, anything else as text."""
    if value is None:
        return None
    if kind == "yuan":
        return yuan_decimal(value)
    if kind == "kg":
        return kg_decimal(value)
    if kind == "jin":
        return jin_decimal(value)
    if kind == "int":
        return int(value)
    return str(value)


def to_csv(columns, rows) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens Chinese text correctly.

    :param columns: (key, header, kind) triples; ``rows`` are dicts keyed alike.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_text(str(header)) for _key, header, _kind in columns])
    for row in rows:
        values = (safe_text(cell_value(row.get(key), kind)) for key, _header, kind in columns)
        writer.writerow(["" if value is None else value for value in values])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(columns, rows, title="Pinbang") -> bytes:
    """One sheet: the headers, then a row per dict; money as numbers Excel can add up."""
    sheet = Sheet(
        title=title,
        header=[str(header) for _key, header, _kind in columns],
        rows=[[cell_value(row.get(key), kind) for key, _header, kind in columns] for row in rows],
        number_formats={
            index: MONEY if kind == "yuan" else WEIGHT
            for index, (_key, _header, kind) in enumerate(columns)
            if kind in ("yuan", "kg", "jin")
        },
    )
    return write_workbook([sheet])


def _weight_columns():
    return [("weight_g", _("Weight (kg)"), "kg"), ("weight_g", _("Weight (jin)"), "jin")]


def jin_decimal(grams) -> Decimal:
    """Exact jin (500 g) from integer grams."""
    return Decimal(int(grams)) / 500


def _summary(args):
    group_by = args.get("group_by") or "product"
    campaign_id = args.get("campaign_id")
    data = figures_summary(campaign_id, group_by)
    first = {
        "product": _("Product"),
        "producer": _("Producer"),
        "town": _("Town"),
        "unit": _("Work unit"),
        "day": _("Day"),
        "campaign": _("Campaign"),
    }[group_by]
    columns = [("label", first, "text")]
    if group_by == "producer":
        columns.append(("town", _("Town"), "text"))
    columns += [
        ("quantity", _("Quantity"), "int"),
        ("unit", _("Sale unit"), "text"),
        *_weight_columns(),
        ("revenue_fen", _("Sales (yuan)"), "yuan"),
        ("orders", _("Orders"), "int"),
        ("buyers", _("Buyers"), "int"),
    ]
    totals = data["totals"]
    total_row = {
        "label": _("Total"),
        "weight_g": totals["weight_g"],
        "revenue_fen": totals["revenue_fen"],
        "orders": totals["orders"],
        "buyers": totals["buyers"],
    }
    return _("Sales"), columns, data["rows"] + [total_row]


def _campaign_id(args):
    campaign_id = args.get("campaign_id")
    if campaign_id is None:
        raise ValidationFailed(_("Please correct the marked fields."), {"campaign_id": [_("Choose a campaign.")]})
    return campaign_id


def _outstanding(args):
    rows = delivery.outstanding_deliveries(args.get("campaign_id"))
    columns = [
        ("campaign_title", _("Campaign"), "text"),
        ("delivery_on", _("Delivery date"), "text"),
        ("unit_name", _("Work unit"), "text"),
        ("producer_name", _("Producer"), "text"),
        ("title", _("Item"), "text"),
        ("quantity", _("Quantity"), "int"),
        ("sale_unit", _("Sale unit"), "text"),
    ]
    return _("Outstanding deliveries"), columns, rows


def _delivery_items(args):
    sheet = delivery.delivery_sheet(_campaign_id(args), args.get("unit_id"))
    rows = []
    for item in sheet["items"]:
        for producer in item["producers"]:
            rows.append(
                {
                    "title": item["title"],
                    "unit": item["unit"],
                    "producer": producer["name"],
                    "town": producer["town"],
                    "village": producer["village"],
                    "phone": producer["phone"],
                    "quantity": producer["quantity"],
                    "delivered_at": local_datetime(producer["delivered_at"]) or None,
                }
            )
    columns = [
        ("title", _("Item"), "text"),
        ("quantity", _("Quantity"), "int"),
        ("unit", _("Sale unit"), "text"),
        ("producer", _("Producer"), "text"),
        ("town", _("Town"), "text"),
        ("village", _("Village"), "text"),
        ("phone", _("Phone"), "text"),
        ("delivered_at", _("Delivered at"), "text"),
    ]
    return sheet["unit"].name, columns, rows


def _delivery_people(args):
    sheet = delivery.delivery_sheet(_campaign_id(args), args.get("unit_id"))
    rows = [
        {
            "name": person["name"],
            "phone": person["phone"],
            "goods": item_list((line["title"], line["quantity"], line["unit"]) for line in person["lines"]),
            "amount_fen": person["amount_fen"],
            "paid": status_label(person["payment_status"], "payment"),
            "received": "",
        }
        for person in sheet["people"]
    ]
    columns = [
        ("name", _("Full name"), "text"),
        ("phone", _("Phone"), "text"),
        ("goods", _("Goods"), "text"),
        ("amount_fen", _("Amount (yuan)"), "yuan"),
        ("paid", _("Payment"), "text"),
        ("received", _("Signature on receipt"), "text"),
    ]
    return sheet["unit"].name, columns, rows


def _statements(args):
    rows = [
        {
            "producer": s["producer"].name,
            "town": s["producer"].town,
            "allocated_fen": s["allocated_fen"],
            "due_fen": s["due_fen"],
            "paid_fen": s["paid_fen"],
            "balance_fen": s["balance_fen"],
        }
        for s in settlement.producer_statements(_campaign_id(args))
    ]
    columns = [
        ("producer", _("Producer"), "text"),
        ("town", _("Town"), "text"),
        ("allocated_fen", _("Allocated value (yuan)"), "yuan"),
        ("due_fen", _("Due for delivered goods (yuan)"), "yuan"),
        ("paid_fen", _("Paid out (yuan)"), "yuan"),
        ("balance_fen", _("Balance (yuan)"), "yuan"),
    ]
    return _("Settlement"), columns, rows


def _statement(args):
    statement = settlement.producer_statement(_campaign_id(args), args.get("producer_id"))
    columns = [
        ("title", _("Item"), "text"),
        ("unit", _("Sale unit"), "text"),
        ("unit_price_fen", _("Unit price (yuan)"), "yuan"),
        ("allocated", _("Allocated"), "int"),
        ("delivered", _("Delivered"), "int"),
        ("allocated_fen", _("Allocated value (yuan)"), "yuan"),
        ("due_fen", _("Amount due (yuan)"), "yuan"),
    ]
    rows = list(statement["items"])
    rows.append({"title": _("Total"), "allocated_fen": statement["allocated_fen"], "due_fen": statement["delivered_fen"]})
    if statement["refunded_fen"]:
        rows.append({"title": _("Refunded to buyers (claims)"), "due_fen": -statement["refunded_fen"]})
    rows.append({"title": _("Paid out"), "due_fen": statement["paid_fen"]})
    rows.append({"title": _("Balance"), "due_fen": statement["balance_fen"]})
    return statement["producer"].name, columns, rows


def _reconciliation(args):
    data = settlement.reconciliation(_campaign_id(args))
    columns = [
        ("name", _("Work unit"), "text"),
        ("orders", _("Orders"), "int"),
        ("paid_orders", _("Paid orders"), "int"),
        ("owed_fen", _("Owed (yuan)"), "yuan"),
        ("collected_fen", _("Collected (yuan)"), "yuan"),
        ("outstanding_fen", _("Outstanding (yuan)"), "yuan"),
    ]
    totals = data["totals"]
    rows = data["units"] + [
        {
            "name": _("Total"),
            **{k: totals.get(k, 0) for k in ("orders", "paid_orders", "owed_fen", "collected_fen", "outstanding_fen")},
        }
    ]
    return _("Reconciliation"), columns, rows


def _payouts(args):
    rows = [
        {
            "paid_at": local_datetime(payout.paid_at),
            "producer": payout.producer.name,
            "amount_fen": payout.amount_fen,
            "method": _("Bank transfer") if payout.method == "transfer" else _("Cash"),
            "reference": payout.reference,
            "recorded_by": payout.recorded_by.name if payout.recorded_by else None,
            "reason": payout.reason,
        }
        for payout in settlement.list_payouts(args.get("campaign_id"))
    ]
    columns = [
        ("paid_at", _("Paid at"), "text"),
        ("producer", _("Producer"), "text"),
        ("amount_fen", _("Amount (yuan)"), "yuan"),
        ("method", _("Method"), "text"),
        ("reference", _("Reference"), "text"),
        ("recorded_by", _("Recorded by"), "text"),
        # A reversing entry (negative amount) says why the payout it cancels was wrong.
        ("reason", _("Reason"), "text"),
    ]
    return _("Payouts"), columns, rows


def _reach(args):
    totals, reach = figures_totals(args.get("campaign_id"))
    rows = [
        {
            "group": _("Registered poverty households, direct sales"),
            "households": reach["direct_households"],
            "revenue_fen": reach["direct_revenue_fen"],
            "per_household_fen": reach["income_per_direct_household_fen"],
        },
        {
            "group": _("Through cooperatives and enterprises (%(n)d), their linked households", n=reach["through_producers"]),
            "households": reach["linked_households"],
            "revenue_fen": reach["through_revenue_fen"],
            "per_household_fen": reach["sales_per_linked_household_fen"],
        },
        {"group": _("Other households (%(n)d)", n=reach["other_producers"]), "revenue_fen": reach["other_revenue_fen"]},
        {"group": _("Not yet allocated"), "revenue_fen": totals["unallocated_revenue_fen"]},
        {
            "group": _("Registered poverty households, completed sales"),
            "households": reach["completed_direct_households"],
            "revenue_fen": reach["completed_direct_fen"],
            "per_household_fen": reach["completed_income_per_direct_household_fen"],
        },
        {
            "group": _("Households linked to cooperatives and enterprises, completed sales"),
            "households": reach["completed_linked_households"],
            "revenue_fen": reach["completed_through_fen"],
            "per_household_fen": reach["completed_sales_per_linked_household_fen"],
        },
        {"group": _("Delivered"), "revenue_fen": totals["delivered_fen"]},
        {"group": _("Refunded"), "revenue_fen": totals["refunded_fen"]},
        {"group": _("Completed (delivered, paid, not refunded)"), "revenue_fen": totals["completed_fen"]},
    ]
    columns = [
        ("group", _("Households helped"), "text"),
        ("households", _("Households"), "int"),
        ("revenue_fen", _("Sales (yuan)"), "yuan"),
        ("per_household_fen", _("Per household (yuan)"), "yuan"),
    ]
    return _("Households helped"), columns, rows


TABLES = {
    "summary": _summary,
    "reach": _reach,
    "outstanding": _outstanding,
    "delivery-items": _delivery_items,
    "delivery-people": _delivery_people,
    "statements": _statements,
    "statement": _statement,
    "reconciliation": _reconciliation,
    "payouts": _payouts,
    "lines": order_lines,
}


def export_filename(name, fmt, args, today=None) -> str:
    """``pinbang-summary-producer-c12-2026-12-02.xlsx``: the table, its grouping, the campaign (or ``all``), the day."""
    parts = ["pinbang", name]
    if name == "summary":
        parts.append(args.get("group_by") or "product")
    for key, prefix in (("campaign_id", "c"), ("unit_id", "u"), ("producer_id", "p")):
        if args.get(key):
            parts.append(f"{prefix}{int(args[key])}")
    if not args.get("campaign_id"):
        parts.append("all")
    parts.append(local_date(today or utcnow()))
    return f"{'-'.join(parts)}.{fmt}"


def export_table(name, fmt, args) -> tuple[bytes, str, str]:
    """One table as a file.

    :param args: campaign_id, group_by, unit_id, producer_id as the table needs them.
    :returns: (content, mimetype, file name).
    :raises NotFound: an unknown table or format, or a missing object.
    """
    if name not in TABLES or fmt not in FORMATS:
        raise NotFound(_("Not found."))
    title, columns, rows = TABLES[name](args)
    filename = export_filename(name, fmt, args)
    if fmt == "csv":
        return to_csv(columns, rows), "text/csv; charset=utf-8", filename
    return to_xlsx(columns, rows, title), XLSX_TYPE, filename
