"""What became of each sale once goods arrived: delivered, refunded and completed, in fen, from the line ledger.

This module holds THE definition of a *completed* sale; the dashboard, the public results page, the stats API,
the exports, `flask check-totals` and the units' target progress all read it through :func:`line_outcomes`.
"""

import sqlalchemy as sa

from delivery.models import DELIVERY_ENTRY_KINDS, LineEntry, Receipt
from extensions import db
from orders.models import Order, OrderLine

le = LineEntry.__table__
ol = OrderLine.__table__
o = Order.__table__
r = Receipt.__table__


def line_outcomes(campaign_id=None, unit_ids=None):
    """One row per delivered live order line: ``order_line_id``, ``order_id``, ``campaign_id``, ``unit_id``,
    ``delivered_fen``, ``refunded_fen``, ``completed_fen`` (a subquery); of one campaign or several (a tuple), and of
    some units' orders only when ``unit_ids`` is given.

    - live: neither the line nor its order is cancelled;
    - delivered: the line has a delivery entry (kinds receipt, correction, full), or its order is ``delivered``
      (a delivery marked complete without a receipt);
    - ``delivered_fen``: the sum of the line's delivery entries' charges, i.e. what the goods that arrived cost the
      buyer before any refund; without a delivery entry, the pledge (quantity × price);
    - ``refunded_fen``: minus the sum of its other entries' charges (claims' refunds), a positive amount;
    - ``completed_fen``: ``delivered_fen − refunded_fen`` (the line's ``charged_fen`` as
      delivery.ledger.line_figures gives it), counted only when its order is paid; 0 while it is unpaid.

    Pledged (ordered) amounts are the sold lines' quantity × price (dashboard.sales), for every live line.
    """
    delivery = le.c.kind.in_(DELIVERY_ENTRY_KINDS)
    entries = sa.select(
        le.c.order_line_id,
        sa.func.sum(sa.case((delivery, 1), else_=0)).label("deliveries"),
        sa.func.sum(sa.case((delivery, le.c.charge_fen), else_=0)).label("delivered"),
        (-sa.func.sum(sa.case((delivery, 0), else_=le.c.charge_fen))).label("refunded"),
    ).group_by(le.c.order_line_id)
    scoped_line, scoped_order = ol.alias("scoped_line"), o.alias("scoped_order")
    if scope := _in_scope(scoped_order, campaign_id, unit_ids):
        # Only the entries of the lines in scope: a campaign's payment refresh, or a unit's target page, must not sum
        # the whole platform's ledger.
        entries = entries.where(
            le.c.order_line_id.in_(
                sa.select(scoped_line.c.id).join(scoped_order, scoped_order.c.id == scoped_line.c.order_id).where(*scope)
            )
        )
    entries = entries.subquery()
    has_delivery = sa.func.coalesce(entries.c.deliveries, 0) > 0
    pledged = sa.cast(ol.c.quantity, sa.BigInteger) * ol.c.price_fen
    delivered = sa.case((has_delivery, entries.c.delivered), else_=pledged)
    refunded = sa.func.coalesce(entries.c.refunded, 0)
    paid = o.c.payment_status == "paid"
    query = (
        sa.select(
            ol.c.id.label("order_line_id"),
            o.c.id.label("order_id"),
            o.c.campaign_id,
            o.c.unit_id,
            delivered.label("delivered_fen"),
            refunded.label("refunded_fen"),
            sa.case((paid, delivered - refunded), else_=0).label("completed_fen"),
        )
        .select_from(ol.join(o, o.c.id == ol.c.order_id).outerjoin(entries, entries.c.order_line_id == ol.c.id))
        .where(sa.not_(ol.c.cancelled), o.c.status != "cancelled", sa.or_(has_delivery, o.c.status == "delivered"))
    )
    return query.where(*_in_scope(o, campaign_id, unit_ids)).subquery("line_outcomes")


def _in_scope(orders, campaign_id, unit_ids) -> list:
    """Conditions on an order table: one campaign (an id) or several (a tuple: those whose figures are not kept,
    dashboard.kept_reading), and some units."""
    conditions = []
    if campaign_id is not None:
        column = orders.c.campaign_id
        conditions.append(column.in_(campaign_id) if isinstance(campaign_id, tuple) else column == campaign_id)
    if unit_ids is not None:
        conditions.append(orders.c.unit_id.in_(unit_ids))
    return conditions


def outcome_totals(campaign_id=None, campaign_ids=None) -> dict:
    """``delivered_fen``, ``refunded_fen`` and ``completed_fen`` summed over :func:`line_outcomes`.

    :param campaign_ids: when given, only these campaigns count (the campaigns whose sales count).
    """
    lines = line_outcomes(campaign_id)
    query = sa.select(
        sa.func.coalesce(sa.func.sum(lines.c.delivered_fen), 0),
        sa.func.coalesce(sa.func.sum(lines.c.refunded_fen), 0),
        sa.func.coalesce(sa.func.sum(lines.c.completed_fen), 0),
    )
    if campaign_ids is not None:
        query = query.where(lines.c.campaign_id.in_(campaign_ids))
    delivered, refunded, completed = db.session.execute(query).one()
    return {"delivered_fen": int(delivered), "refunded_fen": int(refunded), "completed_fen": int(completed)}


def completed_by_producer(campaign_id=None, campaign_ids=None) -> dict[int, int]:
    """{producer id: completed fen}: each line's ``completed_fen`` shared among the producers whose receipts
    delivered it, in proportion to their delivery entries' charges (whole fen, rounded down, never more than
    was completed). Producers with nothing completed are left out."""
    lines = line_outcomes(campaign_id)
    query = (
        sa.select(lines.c.order_line_id, lines.c.completed_fen, r.c.producer_id, sa.func.sum(le.c.charge_fen))
        .select_from(lines.join(le, le.c.order_line_id == lines.c.order_line_id).join(r, r.c.id == le.c.receipt_id))
        .where(le.c.kind.in_(DELIVERY_ENTRY_KINDS), lines.c.completed_fen > 0)
        .group_by(lines.c.order_line_id, lines.c.completed_fen, r.c.producer_id)
    )
    if campaign_ids is not None:
        query = query.where(lines.c.campaign_id.in_(campaign_ids))
    shares: dict[int, dict[int, int]] = {}
    completed: dict[int, int] = {}
    for line_id, line_completed, producer_id, charge in db.session.execute(query):
        shares.setdefault(line_id, {})[producer_id] = int(charge or 0)
        completed[line_id] = int(line_completed)
    result: dict[int, int] = {}
    for line_id, by_producer in shares.items():
        whole = sum(value for value in by_producer.values() if value > 0)
        for producer_id, value in by_producer.items():
            if whole and value > 0:
                result[producer_id] = result.get(producer_id, 0) + completed[line_id] * value // whole
    return {producer_id: value for producer_id, value in result.items() if value > 0}
