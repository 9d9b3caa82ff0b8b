"""Sales totals: one SQL aggregate per question over the raw order lines, allocations and supplies.

What counts as a sale: a non-cancelled order line of a non-cancelled order in a campaign that is
neither a draft nor cancelled. Lines dropped at close because their item missed its minimum total
are cancelled lines (``cancel_reason = "below_minimum"``) and so never count.

Attribution to producers (and so to towns and to poverty households): once a campaign is pooled
(status allocated, delivered or settled) a sale belongs to the producers its item was allocated to,
in the allocated quantities; before that it is shown apart as "not yet allocated", never guessed.
A producer is *reached* when it has a positive allocation in a pooled campaign, or, before pooling,
when it supplies an item that has sales.
"""

from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from errors import NotFound, ValidationFailed
from extensions import db
from orders.models import Allocation, Order, OrderLine
from producers.models import Producer
from shop.models import Campaign, CampaignItem, Supply

GROUPINGS = ("product", "producer", "town", "unit", "day", "campaign")
NOT_COUNTED = ("draft", "cancelled")
POOLED = ("allocated", "delivered", "settled")
UNALLOCATED = "unallocated"
THROUGH_KINDS = ("cooperative", "enterprise")
# Asia/Shanghai has kept UTC+8 with no daylight saving since 1991, so a fixed offset gives its calendar day in SQL.
SHANGHAI_OFFSET_HOURS = 8

ol = OrderLine.__table__
o = Order.__table__
c = Campaign.__table__
ci = CampaignItem.__table__
a = Allocation.__table__
s = Supply.__table__
p = Producer.__table__
u = Unit.__table__


def _fen(quantity, price):
    # quantity × price can pass 2^31 fen on one line; multiply in 64 bits.
    return sa.cast(quantity, sa.BigInteger) * price


def _grams(quantity, unit_weight):
    return sa.cast(quantity, sa.BigInteger) * sa.func.coalesce(unit_weight, 0)


def _int(value):
    return int(value or 0)


def weight_kg(grams) -> Decimal:
    """Exact kilograms from integer grams."""
    return Decimal(_int(grams)) / 1000


def sold_lines_from():
    return ol.join(o, o.c.id == ol.c.order_id).join(c, c.c.id == o.c.campaign_id).join(ci, ci.c.id == ol.c.item_id)


def sold_lines_where(campaign_id=None):
    """The conditions that make an order line a sale (see the module docstring)."""
    conditions = [sa.not_(ol.c.cancelled), o.c.status != "cancelled", c.c.status.not_in(NOT_COUNTED)]
    if campaign_id is not None:
        conditions.append(o.c.campaign_id == campaign_id)
    return conditions


def pooled_allocations(campaign_id=None):
    """Allocation rows that attribute sales: positive quantities in pooled campaigns."""
    query = (
        sa.select(a.c.item_id, a.c.producer_id, a.c.quantity, a.c.campaign_id)
        .select_from(a.join(c, c.c.id == a.c.campaign_id))
        .where(c.c.status.in_(POOLED), a.c.quantity > 0)
    )
    if campaign_id is not None:
        query = query.where(a.c.campaign_id == campaign_id)
    return query


def local_day(column):
    """The Asia/Shanghai calendar day of a UTC timestamp column, as SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(column + sa.literal_column(f"INTERVAL '{SHANGHAI_OFFSET_HOURS} hours'", sa.Interval), sa.Date)
    return sa.func.date(column, sa.literal_column(f"'+{SHANGHAI_OFFSET_HOURS} hours'"))


def _line_measures():
    return [
        sa.func.sum(ol.c.quantity).label("quantity"),
        sa.func.sum(_fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
        sa.func.sum(_grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
        sa.func.sum(sa.case((ci.c.unit_weight_g.is_(None), ol.c.quantity), else_=0)).label("unweighed"),
        sa.func.count(sa.distinct(o.c.id)).label("orders"),
        sa.func.count(sa.distinct(o.c.buyer_phone)).label("buyers"),
        sa.func.min(ci.c.unit).label("unit_min"),
        sa.func.max(ci.c.unit).label("unit_max"),
    ]


def _row(key, label, measures, **extra):
    single_unit = measures["unit_min"] is not None and measures["unit_min"] == measures["unit_max"]
    grams = _int(measures["weight_g"])
    return {
        "key": str(key),
        "label": label,
        # Quantities in different sale units (只 and 个) do not add up: only a single-unit row has one.
        "quantity": _int(measures["quantity"]) if single_unit else None,
        "unit": measures["unit_min"] if single_unit else None,
        "weight_g": grams,
        "weight_kg": weight_kg(grams),
        "units_without_weight": _int(measures["unweighed"]),
        "revenue_fen": _int(measures["revenue_fen"]),
        "orders": _int(measures["orders"]),
        "buyers": _int(measures["buyers"]),
        **extra,
    }


def get_campaign(campaign_id) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def reported_campaigns():
    """Campaigns whose sales count, newest first (for choosers and the per-campaign table)."""
    return db.session.scalars(
        sa.select(Campaign).where(Campaign.status.not_in(NOT_COUNTED)).order_by(Campaign.opens_at.desc(), Campaign.id.desc())
    ).all()


def sales_totals(campaign_id=None, reach=None) -> dict:
    """Revenue, weight, orders, buyers, reached producers and poverty households, for one campaign or all.

    :param campaign_id: None for every campaign.
    :param reach: :func:`poverty_reach` for the same campaign, if the caller has it already.
    """
    not_pooled = c.c.status.not_in(POOLED)
    row = (
        db.session.execute(
            sa.select(
                *_line_measures(),
                sa.func.count(ol.c.id).label("lines"),
                sa.func.sum(sa.case((not_pooled, _fen(ol.c.quantity, ol.c.price_fen)), else_=0)).label("unallocated_fen"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
        )
        .mappings()
        .one()
    )
    reach = reach if reach is not None else poverty_reach(campaign_id)
    grams = _int(row["weight_g"])
    return {
        "revenue_fen": _int(row["revenue_fen"]),
        "orders": _int(row["orders"]),
        "buyers": _int(row["buyers"]),
        "lines": _int(row["lines"]),
        "producers": reach["producers"],
        "poverty_households": reach["poverty_households"],
        "poverty_households_direct": reach["direct_households"],
        "poverty_households_through": reach["linked_households"],
        "weight_g": grams,
        "weight_kg": weight_kg(grams),
        "units_without_weight": _int(row["unweighed"]),
        "unallocated_revenue_fen": _int(row["unallocated_fen"]),
    }


def poverty_reach(campaign_id=None) -> dict:
    """Producers and poverty households reached, and the income that reached them, direct and through cooperatives.

    Direct: registered poverty households (建档立卡户) that sold themselves. Through cooperatives and enterprises:
    the households they report as linked (``linked_households``). Income comes from pooled allocations only
    (allocated quantity × item price); before pooling the money is not yet anyone's.
    """
    pooled = pooled_allocations(campaign_id).subquery()
    by_pooled = (
        sa.select(
            pooled.c.producer_id,
            sa.func.sum(_fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
            sa.literal(1).label("pooled"),
        )
        .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id))
        .group_by(pooled.c.producer_id)
    )
    has_sales = (
        sa.exists()
        .where(ol.c.item_id == ci.c.id, sa.not_(ol.c.cancelled), o.c.id == ol.c.order_id, o.c.status != "cancelled")
    )
    by_supply = (
        sa.select(s.c.producer_id, sa.literal(0).label("revenue_fen"), sa.literal(0).label("pooled"))
        .select_from(s.join(ci, ci.c.id == s.c.item_id).join(c, c.c.id == ci.c.campaign_id))
        .where(c.c.status.not_in(NOT_COUNTED + POOLED), has_sales)
    )
    if campaign_id is not None:
        by_supply = by_supply.where(ci.c.campaign_id == campaign_id)
    reached = sa.union_all(by_pooled, by_supply).subquery()
    rows = db.session.execute(
        sa.select(
            p.c.id,
            p.c.kind,
            p.c.poverty_household,
            p.c.linked_households,
            sa.func.sum(reached.c.revenue_fen).label("revenue_fen"),
            sa.func.max(reached.c.pooled).label("pooled"),
        )
        .select_from(reached.join(p, p.c.id == reached.c.producer_id))
        .group_by(p.c.id, p.c.kind, p.c.poverty_household, p.c.linked_households)
    ).all()
    figures = defaultdict(int)
    for row in rows:
        revenue = _int(row.revenue_fen)
        figures["producers"] += 1
        if row.poverty_household:
            figures["direct_households"] += 1
            figures["direct_revenue_fen"] += revenue
            figures["direct_paid_households"] += 1 if row.pooled else 0
        elif row.kind in THROUGH_KINDS:
            figures["through_producers"] += 1
            figures["linked_households"] += row.linked_households
            figures["through_revenue_fen"] += revenue
            figures["through_paid_households"] += row.linked_households if row.pooled else 0
        else:
            figures["other_producers"] += 1
            figures["other_revenue_fen"] += revenue
    result = {
        key: figures[key]
        for key in (
            "producers",
            "direct_households",
            "direct_revenue_fen",
            "direct_paid_households",
            "through_producers",
            "linked_households",
            "through_revenue_fen",
            "through_paid_households",
            "other_producers",
            "other_revenue_fen",
        )
    }
    result["poverty_households"] = result["direct_households"] + result["linked_households"]
    # Whole fen per household, rounded down: an average must never promise more than was earned.
    result["income_per_direct_household_fen"] = (
        result["direct_revenue_fen"] // result["direct_paid_households"] if result["direct_paid_households"] else None
    )
    result["sales_per_linked_household_fen"] = (
        result["through_revenue_fen"] // result["through_paid_households"] if result["through_paid_households"] else None
    )
    return result


def _check_group_by(group_by):
    if group_by not in GROUPINGS:
        raise ValidationFailed(_("Please correct the marked fields."), {"group_by": [_("Choose one of: %(choices)s.", choices=", ".join(GROUPINGS))]})


def sales_rows(campaign_id=None, group_by="product") -> list[dict]:
    """One row per product, producer, town, unit, day or campaign: quantity, weight, revenue, orders, buyers.

    :raises ValidationFailed: an unknown grouping.
    """
    _check_group_by(group_by)
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
    query = sa.select(*keys, *_line_measures()).select_from(sold_lines_from()).where(*sold_lines_where(campaign_id))
    grouped = db.session.execute(query.group_by(*keys)).mappings().all()
    if group_by == "product":
        rows = [_row(f"{m['title']}/{m['unit']}", m["title"], m) for m in grouped]
    elif group_by == "unit":
        names = dict(db.session.execute(sa.select(u.c.id, u.c.name).where(u.c.id.in_([m["unit_id"] for m in grouped]))).all())
        rows = [_row(m["unit_id"], names.get(m["unit_id"], "?"), m) for m in grouped]
    elif group_by == "campaign":
        titles = dict(db.session.execute(sa.select(c.c.id, c.c.title).where(c.c.id.in_([m["campaign_id"] for m in grouped]))).all())
        rows = [_row(m["campaign_id"], titles.get(m["campaign_id"], "?"), m) for m in grouped]
    else:
        rows = [_row(_iso_day(m["day"]), _iso_day(m["day"]), m) for m in grouped]
        return sorted(rows, key=lambda row: row["key"])
    return sorted(rows, key=lambda row: (-row["revenue_fen"], row["label"]))


def _iso_day(value):
    return value if isinstance(value, str) else value.isoformat()


def _attributed_rows(campaign_id, group_by):
    """Rows per producer or town: quantities from pooled allocations, orders and buyers from the lines they serve."""
    pooled = pooled_allocations(campaign_id).subquery()
    # Distinct orders and buyers per producer (or town): every sold line joined to the producers its item went to.
    # Lines of campaigns not yet pooled find no allocation and form the "not yet allocated" group.
    if group_by == "producer":
        line_key = pooled.c.producer_id
        joined = sold_lines_from().outerjoin(pooled, pooled.c.item_id == ol.c.item_id)
    else:
        line_key = p.c.town
        joined = sold_lines_from().outerjoin(pooled, pooled.c.item_id == ol.c.item_id).outerjoin(p, p.c.id == pooled.c.producer_id)
    by_lines = {
        m["group_key"]: m
        for m in db.session.execute(
            sa.select(line_key.label("group_key"), *_line_measures())
            .select_from(joined)
            .where(*sold_lines_where(campaign_id))
            .group_by(line_key)
        ).mappings()
    }
    alloc_key = p.c.id if group_by == "producer" else p.c.town
    extra_columns = [p.c.name, p.c.town, p.c.kind, p.c.poverty_household] if group_by == "producer" else []
    by_allocation = (
        db.session.execute(
            sa.select(
                alloc_key.label("group_key"),
                *extra_columns,
                sa.func.sum(pooled.c.quantity).label("quantity"),
                sa.func.sum(_fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
                sa.func.sum(_grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
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
    rows = []
    for m in by_allocation:
        counts = by_lines.get(m["group_key"], {})
        measures = {**m, "orders": counts.get("orders"), "buyers": counts.get("buyers")}
        if group_by == "producer":
            extra = {"town": m["town"], "kind": m["kind"], "poverty_household": bool(m["poverty_household"])}
            rows.append(_row(m["group_key"], m["name"], measures, **extra))
        else:
            rows.append(_row(m["group_key"], m["group_key"], measures))
    rows.sort(key=lambda row: (-row["revenue_fen"], row["label"]))
    if None in by_lines:
        rows.append(_row(UNALLOCATED, _("Not yet allocated"), by_lines[None], unallocated=True))
    return rows


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
                sa.func.sum(_fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
                sa.func.sum(_grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
            .group_by(day)
        )
        rows = [
            {"key": _iso_day(m["day"]), "label": _iso_day(m["day"]), "revenue_fen": _int(m["revenue_fen"]), "weight_g": _int(m["weight_g"])}
            for m in db.session.execute(query).mappings()
        ]
        return sorted(rows, key=lambda row: row["key"])
    if group_by != "town":
        raise ValueError(f"no series by {group_by}")
    pooled = pooled_allocations(campaign_id).subquery()
    query = (
        sa.select(
            p.c.town,
            sa.func.sum(_fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
            sa.func.sum(_grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
        )
        .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id).join(p, p.c.id == pooled.c.producer_id))
        .group_by(p.c.town)
    )
    rows = [
        {"key": m["town"], "label": m["town"], "revenue_fen": _int(m["revenue_fen"]), "weight_g": _int(m["weight_g"])}
        for m in db.session.execute(query).mappings()
    ]
    return sorted(rows, key=lambda row: (-row["weight_g"], row["label"]))


def sales_summary(campaign_id=None, group_by="product") -> dict:
    """The figures of GET /stats/summary: totals and one row per group.

    :param campaign_id: one campaign, or None for all campaigns whose sales count.
    :param group_by: product, producer, town, unit, day (Asia/Shanghai calendar day of the order) or campaign.
    :raises NotFound: no such campaign.
    :raises ValidationFailed: an unknown grouping.
    """
    _check_group_by(group_by)
    if campaign_id is not None:
        get_campaign(campaign_id)
    reach = poverty_reach(campaign_id)
    return {
        "group_by": group_by,
        "campaign_id": campaign_id,
        "totals": sales_totals(campaign_id, reach),
        "reach": reach,
        "rows": sales_rows(campaign_id, group_by),
    }


def product_breakdown(campaign_id=None, group_by="town") -> dict:
    """Quantity per product inside each group (a town's chickens and eggs, in their own units).

    :returns: {group key: [{label, unit, quantity, weight_g, revenue_fen}]}, keys as in :func:`sales_rows`.
    """
    _check_group_by(group_by)
    if group_by in ("producer", "town"):
        pooled = pooled_allocations(campaign_id).subquery()
        key = pooled.c.producer_id if group_by == "producer" else p.c.town
        query = (
            sa.select(
                key.label("group_key"),
                ci.c.title,
                ci.c.unit,
                sa.func.sum(pooled.c.quantity).label("quantity"),
                sa.func.sum(_grams(pooled.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
                sa.func.sum(_fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
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
                sa.func.sum(_grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
                sa.func.sum(_fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
            .group_by(key, ci.c.title, ci.c.unit)
        )
    breakdown = defaultdict(list)
    for m in db.session.execute(query).mappings():
        group_key = m["group_key"]
        if group_by == "day":
            group_key = _iso_day(group_key)
        elif group_by == "product":
            group_key = f"{m['title']}/{m['unit']}"
        breakdown[str(group_key)].append(
            {
                "label": m["title"],
                "unit": m["unit"],
                "quantity": _int(m["quantity"]),
                "weight_g": _int(m["weight_g"]),
                "revenue_fen": _int(m["revenue_fen"]),
            }
        )
    for products in breakdown.values():
        products.sort(key=lambda product: (-product["revenue_fen"], product["label"]))
    return dict(breakdown)


def public_results(slug) -> dict:
    """A campaign's shareable results: totals, products and households helped; no person is named.

    :raises NotFound: no such campaign, or one that is a draft or cancelled.
    """
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.slug == slug))
    if campaign is None or campaign.status in NOT_COUNTED:
        raise NotFound(_("No such campaign."))
    reach = poverty_reach(campaign.id)
    totals = sales_totals(campaign.id, reach)
    towns = sales_series(campaign.id, "town")
    units = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(o.c.unit_id))).select_from(sold_lines_from()).where(*sold_lines_where(campaign.id))
    )
    return {
        "campaign": campaign,
        "totals": totals,
        "reach": reach,
        "products": sales_rows(campaign.id, "product"),
        "towns": [{"label": row["label"], "weight_g": row["weight_g"], "revenue_fen": row["revenue_fen"]} for row in towns],
        "units": _int(units),
    }
