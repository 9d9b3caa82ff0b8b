"""Sales totals (revenue, weight, orders, buyers) and the producers and poverty households reached, for one campaign
or all; the summary and public results that put them beside the grouped rows."""

from collections import defaultdict

import sqlalchemy as sa
from flask_babel import gettext as _

from dashboard.grouping import sales_rows, sales_series
from dashboard.sales import (
    THROUGH_KINDS,
    c,
    check_group_by,
    ci,
    fen,
    get_campaign,
    in_scope,
    line_measures,
    o,
    ol,
    p,
    pooled_allocations,
    s,
    sold_lines_from,
    sold_lines_where,
    whole,
)
from delivery.outcomes import completed_by_producer, outcome_totals
from errors import NotFound
from extensions import db
from measures import kg_decimal
from shop.lifecycle import POOLED, visible_to_buyers
from shop.models import Campaign

REACH_FIGURES = (
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


def sales_totals(campaign_id=None, reach=None) -> dict:
    """Revenue, weight, orders, buyers, reached producers and poverty households, for one campaign or all.

    :param campaign_id: None for every campaign.
    :param reach: :func:`poverty_reach` for the same campaign, if the caller has it already.
    """
    not_pooled = c.c.status.not_in(POOLED)
    row = (
        db.session.execute(
            sa.select(
                *line_measures(),
                sa.func.count(ol.c.id).label("lines"),
                sa.func.sum(sa.case((not_pooled, fen(ol.c.quantity, ol.c.price_fen)), else_=0)).label("unallocated_fen"),
            )
            .select_from(sold_lines_from())
            .where(*sold_lines_where(campaign_id))
        )
        .mappings()
        .one()
    )
    reach = reach if reach is not None else poverty_reach(campaign_id)
    sums = {column: whole(row[column]) for column in ("revenue_fen", "weight_g", "unweighed", "orders", "buyers", "lines")}
    sums["unallocated_fen"] = whole(row["unallocated_fen"])
    return totals_figures({**sums, **outcome_totals(campaign_id)}, reach)


def totals_figures(sums, reach) -> dict:
    """The totals' shape from their sums (revenue_fen, weight_g, unweighed, orders, buyers, lines, unallocated_fen,
    delivered_fen, refunded_fen, completed_fen) and the reach: the live sums here, or kept ones."""
    return {
        "revenue_fen": sums["revenue_fen"],
        "pledged_fen": sums["revenue_fen"],
        "delivered_fen": sums["delivered_fen"],
        "refunded_fen": sums["refunded_fen"],
        "completed_fen": sums["completed_fen"],
        "completed_households": reach["completed_households"],
        "orders": sums["orders"],
        "buyers": sums["buyers"],
        "lines": sums["lines"],
        "producers": reach["producers"],
        "poverty_households": reach["poverty_households"],
        "poverty_households_direct": reach["direct_households"],
        "poverty_households_through": reach["linked_households"],
        "weight_g": sums["weight_g"],
        "weight_kg": kg_decimal(sums["weight_g"]),
        "units_without_weight": sums["unweighed"],
        "unallocated_revenue_fen": sums["unallocated_fen"],
    }


# What reach needs of a producer (reach_figures), beside its income and whether it was pooled.
REACHED_COLUMNS = (p.c.id, p.c.kind, p.c.poverty_household, p.c.linked_households)


def reached_producers(campaign_id):
    """Each reached producer once: its kind, registration, linked households, pooled income and whether pooled."""
    pooled = pooled_allocations(campaign_id).subquery()
    by_pooled = (
        sa.select(
            pooled.c.producer_id,
            sa.func.sum(fen(pooled.c.quantity, ci.c.price_fen)).label("revenue_fen"),
            sa.literal(1).label("pooled"),
        )
        .select_from(pooled.join(ci, ci.c.id == pooled.c.item_id))
        .group_by(pooled.c.producer_id)
    )
    has_sales = sa.exists().where(
        ol.c.item_id == ci.c.id, sa.not_(ol.c.cancelled), o.c.id == ol.c.order_id, o.c.status != "cancelled"
    )
    by_supply = (
        sa.select(s.c.producer_id, sa.literal(0).label("revenue_fen"), sa.literal(0).label("pooled"))
        .select_from(s.join(ci, ci.c.id == s.c.item_id).join(c, c.c.id == ci.c.campaign_id))
        .where(visible_to_buyers(c.c.status), c.c.status.not_in(POOLED), has_sales)
    )
    if campaign_id is not None:
        by_supply = by_supply.where(in_scope(ci.c.campaign_id, campaign_id))
    reached = sa.union_all(by_pooled, by_supply).subquery()
    return db.session.execute(
        sa.select(
            *REACHED_COLUMNS,
            sa.func.sum(reached.c.revenue_fen).label("revenue_fen"),
            sa.func.max(reached.c.pooled).label("pooled"),
        )
        .select_from(reached.join(p, p.c.id == reached.c.producer_id))
        .group_by(*REACHED_COLUMNS)
    ).all()


def poverty_reach(campaign_id=None) -> dict:
    """Producers and poverty households reached, and the income that reached them, direct and through cooperatives.

    Direct: registered poverty households (建档立卡户) that sold themselves. Through cooperatives and enterprises:
    the households they report as linked (``linked_households``). Income comes from pooled allocations only
    (allocated quantity × item price); before pooling the money is not yet anyone's.
    """
    return reach_figures(reached_producers(campaign_id), completed_by_producer(campaign_id))


def reach_figures(reached, completed) -> dict:
    """:func:`poverty_reach` from its parts: the :func:`reached_producers` rows and the completed fen per producer
    (delivery.outcomes.completed_by_producer), whether recomputed now or kept."""
    figures = defaultdict(int)
    for row in reached:
        revenue = whole(row.revenue_fen)
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
    result = {key: figures[key] for key in REACH_FIGURES}
    result["poverty_households"] = result["direct_households"] + result["linked_households"]
    result.update(completed_reach(completed=completed))
    # Whole fen per household, rounded down: an average must never promise more than was earned.
    result["income_per_direct_household_fen"] = (
        result["direct_revenue_fen"] // result["direct_paid_households"] if result["direct_paid_households"] else None
    )
    result["sales_per_linked_household_fen"] = (
        result["through_revenue_fen"] // result["through_paid_households"] if result["through_paid_households"] else None
    )
    return result


def completed_reach(campaign_id=None, completed=None) -> dict:
    """Poverty households reached by COMPLETED sales (delivery.outcomes): the default figures of the pages.

    A registered poverty household counts when its completed income is above 0; a cooperative or enterprise with
    completed sales counts its linked households. Income per household: completed fen ÷ those households, rounded
    down.

    :param completed: {producer id: completed fen} when the caller has it already.
    """
    completed = completed if completed is not None else completed_by_producer(campaign_id)
    rows = db.session.execute(
        sa.select(p.c.id, p.c.kind, p.c.poverty_household, p.c.linked_households).where(p.c.id.in_(sorted(completed)))
    ).all()
    figures = defaultdict(int)
    for row in rows:
        value = completed[row.id]
        if row.poverty_household:
            figures["direct"] += 1
            figures["direct_fen"] += value
        elif row.kind in THROUGH_KINDS:
            figures["linked"] += row.linked_households
            figures["through_fen"] += value
    return {
        "completed_households": figures["direct"] + figures["linked"],
        "completed_direct_households": figures["direct"],
        "completed_direct_fen": figures["direct_fen"],
        "completed_linked_households": figures["linked"],
        "completed_through_fen": figures["through_fen"],
        "completed_income_per_direct_household_fen": figures["direct_fen"] // figures["direct"] if figures["direct"] else None,
        "completed_sales_per_linked_household_fen": figures["through_fen"] // figures["linked"] if figures["linked"] else None,
    }


def sales_summary(campaign_id=None, group_by="product") -> dict:
    """The figures of GET /stats/summary: totals and one row per group.

    :param campaign_id: one campaign, or None for all campaigns whose sales count.
    :param group_by: product, producer, town, unit, day (local calendar day of the order) or campaign.
    :raises NotFound: no such campaign.
    :raises ValidationFailed: an unknown grouping.
    """
    check_group_by(group_by)
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


def public_results(slug) -> dict:
    """A campaign's shareable results: totals, products and households helped; no person is named.

    :raises NotFound: no such campaign, or a draft.
    """
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.slug == slug))
    if campaign is None or not visible_to_buyers(campaign.status):
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
        "units": whole(units),
    }
