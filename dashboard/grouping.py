"""Sales grouped: one row per product, producer, town, unit, day or campaign, the charts' series, and each group's products."""

from collections import defaultdict

import sqlalchemy as sa
from flask_babel import gettext as _

from dashboard.sales import (
    UNALLOCATED,
    c,
    check_group_by,
    ci,
    fen,
    figures_row,
    grams,
    iso_day,
    line_measures,
    local_day,
    o,
    ol,
    p,
    pooled_allocations,
    sold_lines_from,
    sold_lines_where,
    u,
    whole,
)
from extensions import db
from shop.lifecycle import POOLED


def sales_rows(campaign_id=None, group_by="product") -> list[dict]:
    """One row per product, producer, town, unit, day or campaign: quantity, weight, revenue, orders, buyers.

    :raises ValidationFailed: an unknown grouping.
    """
    check_group_by(group_by)
    if group_by in ("producer", "town"):
        return _attributed_rows(campaign_id, group_by)
    if group_by == "product":
        keys = [ci.c.title, ci.c.unit]
    elif group_by == "unit":
        keys = [o.c.unit_id]
    elif group_by == "campaign":
        keys = [o.c.campaign_id]
    else:
        keys = [local_day(o.c.created_at).label("day")]
    query = sa.select(*keys, *line_measures()).select_from(sold_lines_from()).where(*sold_lines_where(campaign_id))
    grouped = db.session.execute(query.group_by(*keys)).mappings().all()
    if group_by == "product":
        rows = [figures_row(f"{m['title']}/{m['unit']}", m["title"], m) for m in grouped]
    elif group_by == "unit":
        names = dict(db.session.execute(sa.select(u.c.id, u.c.name).where(u.c.id.in_([m["unit_id"] for m in grouped]))).all())
        rows = [figures_row(m["unit_id"], names.get(m["unit_id"], "?"), m) for m in grouped]
    elif group_by == "campaign":
        titles = dict(
            db.session.execute(sa.select(c.c.id, c.c.title).where(c.c.id.in_([m["campaign_id"] for m in grouped]))).all()
        )
        rows = [figures_row(m["campaign_id"], titles.get(m["campaign_id"], "?"), m) for m in grouped]
    else:
        rows = [figures_row(iso_day(m["day"]), iso_day(m["day"]), m) for m in grouped]
        return sorted(rows, key=lambda row: row["key"])
    return sorted(rows, key=lambda row: (-row["revenue_fen"], row["label"]))


def _attributed_rows(campaign_id, group_by):
    """Rows per producer or town: quantities from pooled allocations, orders and buyers from the lines they serve
    (every sold line of an item counts for each producer the item was allocated to, and for its town)."""
    pooled = pooled_allocations(campaign_id).subquery()
    alloc_key = p.c.id if group_by == "producer" else p.c.town
    extra_columns = [p.c.name, p.c.town, p.c.kind, p.c.poverty_household] if group_by == "producer" else []
    by_allocation = (
        db.session.execute(
            sa.select(
                alloc_key.label("group_key"),
                *extra_columns,
                sa.func.sum(pooled.c.quantity).label("quantity"),
                sa.func.sum(fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
                sa.func.sum(grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
                sa.func.sum(sa.case((ci.c.unit_weight_g.is_(None), pooled.c.quantity), else_=0)).label("unweighed"),
                sa.func.min(ci.c.unit).label("unit_min"),
                sa.func.max(ci.c.unit).label("unit_max"),
            )
            .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id).join(p, p.c.id == pooled.c.producer_id))
            .group_by(alloc_key, *extra_columns)
        )
        .mappings()
        .all()
    )
    items_by_group = defaultdict(set)
    for group_key, item_id in db.session.execute(
        sa.select(alloc_key, pooled.c.item_id).select_from(pooled.join(p, p.c.id == pooled.c.producer_id)).distinct()
    ):
        items_by_group[group_key].add(item_id)
    counts = _orders_and_buyers(campaign_id, items_by_group)
    rows = []
    for m in by_allocation:
        orders, buyers = counts.get(m["group_key"], (0, 0))
        measures = {**m, "orders": orders, "buyers": buyers}
        if group_by == "producer":
            extra = {"town": m["town"], "kind": m["kind"], "poverty_household": bool(m["poverty_household"])}
            rows.append(figures_row(m["group_key"], m["name"], measures, **extra))
        else:
            rows.append(figures_row(m["group_key"], m["group_key"], measures))
    rows.sort(key=lambda row: (-row["revenue_fen"], row["label"]))
    # Lines of campaigns not yet pooled (or of an item allocated nothing) form the "not yet allocated" group.
    unallocated = (
        db.session.execute(
            sa.select(*line_measures())
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id), ~sa.exists().where(pooled.c.item_id == ol.c.item_id))
        )
        .mappings()
        .one()
    )
    if unallocated["quantity"] is not None:
        rows.append(figures_row(UNALLOCATED, _("Not yet allocated"), unallocated, unallocated=True))
    return rows


def _orders_and_buyers(campaign_id, items_by_group) -> dict:
    """Distinct orders and buyers of each group's sold lines: {group key: (orders, buyers)}.

    Groups share items (an item's producers, a town's items), so the lines are read once, into each item's orders
    and buyer phones, and each group's are their union; joining every line to every group it counts for would
    read each line as many times as its item has producers.
    """
    orders, buyers = defaultdict(set), defaultdict(set)
    lines = (
        sa.select(ol.c.item_id, o.c.id, o.c.buyer_phone)
        .select_from(sold_lines_from())
        .where(*sold_lines_where(campaign_id), c.c.status.in_(POOLED))
    )
    for item_id, order_id, phone in db.session.execute(lines.execution_options(yield_per=50_000)):
        orders[item_id].add(order_id)
        buyers[item_id].add(phone)
    counts, counted = {}, {}
    for group_key, items in items_by_group.items():
        items = frozenset(items)
        if items not in counted:
            counted[items] = (
                len(set().union(*(orders[item] for item in items))),
                len(set().union(*(buyers[item] for item in items))),
            )
        counts[group_key] = counted[items]
    return counts


def sales_series(campaign_id=None, group_by="day") -> list[dict]:
    """Revenue and weight per day or per town, for charts: sums only, so no distinct counts to sort.

    Towns come from pooled allocations alone (sales not yet allocated have no town).
    :returns: [{key, label, revenue_fen, weight_g}], days in calendar order, towns largest first.
    """
    if group_by == "day":
        day = local_day(o.c.created_at).label("day")
        query = (
            sa.select(
                day,
                sa.func.sum(fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
                sa.func.sum(grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
            .group_by(day)
        )
        rows = [
            {
                "key": iso_day(m["day"]),
                "label": iso_day(m["day"]),
                "revenue_fen": whole(m["revenue_fen"]),
                "weight_g": whole(m["weight_g"]),
            }
            for m in db.session.execute(query).mappings()
        ]
        return sorted(rows, key=lambda row: row["key"])
    if group_by != "town":
        raise ValueError(f"no series by {group_by}")
    pooled = pooled_allocations(campaign_id).subquery()
    query = (
        sa.select(
            p.c.town,
            sa.func.sum(fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
            sa.func.sum(grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
        )
        .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id).join(p, p.c.id == pooled.c.producer_id))
        .group_by(p.c.town)
    )
    rows = [
        {"key": m["town"], "label": m["town"], "revenue_fen": whole(m["revenue_fen"]), "weight_g": whole(m["weight_g"])}
        for m in db.session.execute(query).mappings()
    ]
    return sorted(rows, key=lambda row: (-row["weight_g"], row["label"]))


def product_breakdown(campaign_id=None, group_by="town") -> dict:
    """Quantity per product inside each group (a town's chickens and eggs, in their own units).

    :returns: {group key: [{label, unit, quantity, weight_g, revenue_fen}]}, keys as in :func:`sales_rows`.
    """
    check_group_by(group_by)
    if group_by in ("producer", "town"):
        pooled = pooled_allocations(campaign_id).subquery()
        key = pooled.c.producer_id if group_by == "producer" else p.c.town
        query = (
            sa.select(
                key.label("group_key"),
                ci.c.title,
                ci.c.unit,
                sa.func.sum(pooled.c.quantity).label("quantity"),
                sa.func.sum(grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
                sa.func.sum(fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
            )
            .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id).join(p, p.c.id == pooled.c.producer_id))
            .group_by(key, ci.c.title, ci.c.unit)
        )
    else:
        key = {
            "product": ci.c.title,
            "unit": o.c.unit_id,
            "campaign": o.c.campaign_id,
            "day": local_day(o.c.created_at),
        }[group_by]
        query = (
            sa.select(
                key.label("group_key"),
                ci.c.title,
                ci.c.unit,
                sa.func.sum(ol.c.quantity).label("quantity"),
                sa.func.sum(grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
                sa.func.sum(fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
            .group_by(key, ci.c.title, ci.c.unit)
        )
    grouped = []
    for m in db.session.execute(query).mappings():
        group_key = m["group_key"]
        if group_by == "day":
            group_key = iso_day(group_key)
        elif group_by == "product":
            group_key = f"{m['title']}/{m['unit']}"
        grouped.append((str(group_key), m))
    return products_within(grouped)


def products_within(grouped) -> dict:
    """The breakdown's shape from (group key, measures with title, unit, quantity, weight_g, revenue_fen) pairs:
    each group's products, largest revenue first."""
    breakdown = defaultdict(list)
    for group_key, m in grouped:
        breakdown[group_key].append(
            {
                "label": m["title"],
                "unit": m["unit"],
                "quantity": whole(m["quantity"]),
                "weight_g": whole(m["weight_g"]),
                "revenue_fen": whole(m["revenue_fen"]),
            }
        )
    for products in breakdown.values():
        products.sort(key=lambda product: (-product["revenue_fen"], product["label"]))
    return dict(breakdown)
