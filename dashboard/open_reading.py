"""The figures of campaigns not yet pooled, read from their open figures (dashboard.open_figures) instead of their
lines, in the very shapes dashboard.grouping and dashboard.totals give for them.

Before the pooling nothing is attributed to producers or towns: every sale is "not yet allocated", and a producer is
reached when it supplies an item with sales. Nothing is delivered, refunded or completed either (deliveries need a
pooled campaign, delivery.receipts), so those are 0. ``ids`` is a tuple of such campaigns' ids; over several, a
row's buyers is the sum of each campaign's, as over kept campaigns.
"""

from collections import defaultdict

import sqlalchemy as sa
from flask_babel import gettext as _

from dashboard.grouping import products_within
from dashboard.open_figures import buyer_t, item_buyer_t, sale_t
from dashboard.sales import UNALLOCATED, c, ci, figures_row, grams, o, p, s, sold_lines_from, sold_lines_where, u, whole
from dashboard.totals import REACHED_COLUMNS, totals_figures
from extensions import db

NOTHING_DELIVERED = {"delivered_fen": 0, "refunded_fen": 0, "completed_fen": 0}


def _sales(ids, grouping, *keys, extra=()):
    """open_sale of ``grouping`` ("unit" or "day") summed per ``keys``: the measures of dashboard.sales.line_measures
    but orders and buyers, the lines, and any ``extra`` aggregates."""
    quantity = sale_t.c.quantity
    return (
        sa.select(
            *keys,
            *extra,
            sa.func.sum(quantity).label("quantity"),
            sa.func.sum(sale_t.c.revenue_fen).label("revenue_fen"),
            sa.func.sum(grams(quantity, ci.c.unit_weight_g)).label("weight_g"),
            sa.func.sum(sa.case((ci.c.unit_weight_g.is_(None), quantity), else_=0)).label("unweighed"),
            sa.func.sum(sale_t.c.lines).label("lines"),
            sa.func.min(ci.c.unit).label("unit_min"),
            sa.func.max(ci.c.unit).label("unit_max"),
        )
        .select_from(sale_t.join(ci, ci.c.id == sale_t.c.item_id))
        .where(sale_t.c.campaign_id.in_(ids), sale_t.c.grouping == grouping, sale_t.c.lines > 0)
        .group_by(*keys)
    )


def _buyers(ids, key=None) -> dict:
    """{str(key value), or None: [orders, buyers]} from open_buyer: each campaign's orders and distinct buyers,
    summed over the campaigns (across campaigns a row's buyers is a sum, see dashboard.kept_reading)."""
    keys = [buyer_t.c.campaign_id] + ([key] if key is not None else [])
    query = (
        sa.select(*keys, sa.func.sum(buyer_t.c.orders), sa.func.count(sa.distinct(buyer_t.c.phone)))
        .where(buyer_t.c.campaign_id.in_(ids), buyer_t.c.orders > 0)
        .group_by(*keys)
    )
    counts = defaultdict(lambda: [0, 0])
    for row in db.session.execute(query):
        mine = counts[str(row[1]) if key is not None else None]
        mine[0] += whole(row[-2])
        mine[1] += row[-1]
    return counts


def open_rows(ids, group_by) -> list[dict]:
    """:func:`dashboard.grouping.sales_rows` of campaigns not yet pooled."""
    if group_by == "product":
        rows = _product_rows(ids)
    elif group_by in ("producer", "town"):
        totals = db.session.execute(_sales(ids, "unit")).mappings().one()
        orders, buyers = _buyers(ids)[None]
        if totals["quantity"] is None:
            return []
        return [
            figures_row(UNALLOCATED, _("Not yet allocated"), {**totals, "orders": orders, "buyers": buyers}, unallocated=True)
        ]
    else:
        sale_key, buyer_key, table = {
            "unit": (sale_t.c.key, buyer_t.c.unit_id, u),
            "day": (sale_t.c.key, buyer_t.c.day, None),
            "campaign": (sale_t.c.campaign_id, buyer_t.c.campaign_id, c),
        }[group_by]
        counts = _buyers(ids, buyer_key)
        grouped = db.session.execute(_sales(ids, "day" if group_by == "day" else "unit", sale_key.label("key"))).mappings()
        measures = {str(m["key"]): {**m, "orders": counts[str(m["key"])][0], "buyers": counts[str(m["key"])][1]} for m in grouped}
        labels = _names(table, measures)
        rows = [figures_row(key, labels.get(key, key), m) for key, m in measures.items()]
        if group_by == "day":
            return sorted(rows, key=lambda row: row["key"])
    return sorted(rows, key=lambda row: (-row["revenue_fen"], row["label"]))


def _names(table, keys) -> dict:
    if table is None:
        return {}
    name = table.c.name if table is u else table.c.title
    found = dict(db.session.execute(sa.select(table.c.id, name).where(table.c.id.in_([int(key) for key in keys]))).all())
    return {key: found.get(int(key), "?") for key in keys}


def _product_rows(ids) -> list[dict]:
    """Per product (title and unit): an order has one line per item, so its orders are the lines, but where one
    campaign offers a product as two items an order may hold both, and those campaigns' orders are counted apart."""
    per_campaign = db.session.execute(
        _sales(
            ids, "unit", sale_t.c.campaign_id, ci.c.title, ci.c.unit, extra=[sa.func.count(sa.distinct(ci.c.id)).label("items")]
        )
    ).mappings()
    merged, shared = {}, []
    for m in per_campaign:
        key = (m["title"], m["unit"])
        if m["items"] > 1:
            shared.append((m["campaign_id"], *key))
        mine = merged.setdefault(key, defaultdict(int, unit_min=m["unit_min"], unit_max=m["unit_max"]))
        for column in ("quantity", "revenue_fen", "weight_g", "unweighed"):
            mine[column] += whole(m[column])
        mine["orders"] += 0 if m["items"] > 1 else whole(m["lines"])
    buyers = (
        sa.select(ci.c.title, ci.c.unit, sa.func.count())
        .select_from(item_buyer_t.join(ci, ci.c.id == item_buyer_t.c.item_id))
        .where(item_buyer_t.c.campaign_id.in_(ids), item_buyer_t.c.lines > 0)
        .group_by(item_buyer_t.c.campaign_id, ci.c.id, ci.c.title, ci.c.unit)
    )
    for title, unit, count in db.session.execute(buyers):
        merged[(title, unit)]["buyers"] += count
    for (title, unit), (orders, buyers) in _shared_products(shared).items():
        merged[(title, unit)]["orders"] += orders
        merged[(title, unit)]["buyers"] += buyers
    return [figures_row(f"{title}/{unit}", title, m) for (title, unit), m in merged.items()]


def _shared_products(shared) -> dict:
    """{(title, unit): (orders, buyers)} of the products that a campaign offers as several items, from those items'
    lines, less what the per-item counts already gave for them: an order or a buyer of two such items counts once."""
    counts = defaultdict(lambda: [0, 0])
    for campaign_id, title, unit in shared:
        lines = (
            sa.select()
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id), ci.c.title == title, ci.c.unit == unit)
        )
        orders, buyers = db.session.execute(
            lines.add_columns(sa.func.count(sa.distinct(o.c.id)), sa.func.count(sa.distinct(o.c.buyer_phone)))
        ).one()
        item_buyers = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(item_buyer_t.join(ci, ci.c.id == item_buyer_t.c.item_id))
            .where(item_buyer_t.c.campaign_id == campaign_id, item_buyer_t.c.lines > 0, ci.c.title == title, ci.c.unit == unit)
        )
        counts[(title, unit)][0] += orders
        counts[(title, unit)][1] += buyers - item_buyers
    return counts


def open_breakdown(ids, group_by) -> dict:
    """:func:`dashboard.grouping.product_breakdown` of campaigns not yet pooled (none by producer or town)."""
    if group_by in ("producer", "town"):
        return {}
    grouping, key = {
        "product": ("unit", None),
        "unit": ("unit", sale_t.c.key),
        "day": ("day", sale_t.c.key),
        "campaign": ("unit", sale_t.c.campaign_id),
    }[group_by]
    keys = [ci.c.title, ci.c.unit] + ([key.label("group_key")] if key is not None else [])
    return products_within(
        (f"{m['title']}/{m['unit']}" if key is None else str(m["group_key"]), m)
        for m in db.session.execute(_sales(ids, grouping, *keys)).mappings()
    )


def open_series(ids, group_by) -> list[dict]:
    """:func:`dashboard.grouping.sales_series` of campaigns not yet pooled (no towns before the pooling)."""
    if group_by == "town":
        return []
    if group_by != "day":
        raise ValueError(f"no series by {group_by}")
    rows = [
        {"key": m["key"], "label": m["key"], "revenue_fen": whole(m["revenue_fen"]), "weight_g": whole(m["weight_g"])}
        for m in db.session.execute(_sales(ids, "day", sale_t.c.key.label("key"))).mappings()
    ]
    return sorted(rows, key=lambda row: row["key"])


def open_sums(ids, with_buyers=True) -> dict:
    """The sums :func:`dashboard.totals.totals_figures` reads, of campaigns not yet pooled (all of it unallocated);
    ``with_buyers`` False leaves their distinct count out (0), for a caller that counts the platform's buyers itself."""
    m = db.session.execute(_sales(ids, "unit")).mappings().one()
    if with_buyers:
        orders, buyers = _buyers(ids)[None]
    else:
        orders = whole(db.session.scalar(sa.select(sa.func.sum(buyer_t.c.orders)).where(buyer_t.c.campaign_id.in_(ids))))
        buyers = 0
    revenue = whole(m["revenue_fen"])
    return {
        "revenue_fen": revenue,
        "weight_g": whole(m["weight_g"]),
        "unweighed": whole(m["unweighed"]),
        "orders": orders,
        "buyers": buyers,
        "lines": whole(m["lines"]),
        "unallocated_fen": revenue,
        **NOTHING_DELIVERED,
    }


def open_totals(ids, reach) -> dict:
    """:func:`dashboard.totals.sales_totals` of campaigns not yet pooled."""
    return totals_figures(open_sums(ids), reach)


def open_reached(ids):
    """:func:`dashboard.totals.reached_producers` of campaigns not yet pooled: producers supplying an item with sales."""
    has_sales = sa.exists().where(sale_t.c.campaign_id == ci.c.campaign_id, sale_t.c.item_id == s.c.item_id, sale_t.c.lines > 0)
    return db.session.execute(
        sa.select(
            *REACHED_COLUMNS,
            sa.literal(0).label("revenue_fen"),
            sa.literal(0).label("pooled"),
        )
        .select_from(s.join(ci, ci.c.id == s.c.item_id).join(p, p.c.id == s.c.producer_id))
        .where(ci.c.campaign_id.in_(ids), has_sales)
        .distinct()
    ).all()


def open_buyers(ids):
    """The distinct buyer phones of campaigns not yet pooled (a SELECT, to union with)."""
    return sa.select(buyer_t.c.phone.label("phone")).where(buyer_t.c.campaign_id.in_(ids), buyer_t.c.orders > 0).distinct()
