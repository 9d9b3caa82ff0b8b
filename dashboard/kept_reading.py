"""What the pages, the stats API and the exports read: the kept figures of kept campaigns (dashboard.kept_figures),
the open figures of the campaigns not yet pooled (dashboard.open_reading), and the live functions over the pooled
campaigns whose figures are pending, merged, in the very shapes dashboard.totals and dashboard.grouping give.

Every figure adds up across campaigns but three: buyers, reached producers and poverty households. The platform's
buyers are an exact distinct count over the kept buyer sets, the open campaigns' buyers and the live campaigns'
buyers; reach is rebuilt from each producer's kept income and completed fen (dashboard.totals.reach_figures). A
grouped row's ``buyers`` across several campaigns is the sum of each campaign's distinct buyers (someone buying eggs
in two campaigns counts twice); one campaign's rows, and every ``orders`` (an order is in one campaign), are exact.
"""

from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import gettext as _

from dashboard.grouping import product_breakdown, sales_rows, sales_series
from dashboard.kept_figures import (
    OUTCOME_COLUMNS,
    REACH,
    TOTAL,
    breakdown_grouping,
    buyer_t,
    campaign_buyers,
    figure_t,
    kept_campaigns,
    kept_t,
)
from dashboard.open_reading import open_breakdown, open_buyers, open_reached, open_rows, open_series, open_sums, open_totals
from dashboard.sales import UNALLOCATED, c, check_group_by, figures_row, get_campaign, p, u, whole
from dashboard.totals import public_results, reach_figures, reached_producers, sales_totals, totals_figures
from delivery.outcomes import completed_by_producer
from errors import NotFound
from extensions import db
from shop.lifecycle import POOLED, visible_to_buyers
from shop.models import Campaign

SUMMED = ("revenue_fen", "weight_g", "unweighed", "orders", "buyers", "lines", "unallocated_fen", *OUTCOME_COLUMNS)


def _scope(campaign_id):
    """(read kept rows?, the pooled campaigns to compute live because their figures are pending: None, an id or a
    tuple of ids, the campaigns not yet pooled to read from their open figures: None or a tuple of ids)."""
    if campaign_id is not None:
        kept = db.session.scalar(kept_campaigns().where(kept_t.c.campaign_id == campaign_id))
        if kept is not None:
            return True, None, None
        status = db.session.scalar(sa.select(c.c.status).where(c.c.id == campaign_id))
        return (False, campaign_id, None) if status in POOLED else (False, None, (campaign_id,))
    live, open_ids = [], []
    for cid, status in db.session.execute(
        sa.select(c.c.id, c.c.status).where(visible_to_buyers(c.c.status), c.c.id.not_in(kept_campaigns())).order_by(c.c.id)
    ):
        (live if status in POOLED else open_ids).append(cid)
    return True, tuple(live) or None, tuple(open_ids) or None


def _kept(campaign_id, grouping, *columns):
    """The kept rows of ``grouping`` for one kept campaign (or every kept one), summed over campaigns."""
    query = (
        sa.select(*columns)
        .select_from(figure_t)
        .where(figure_t.c.grouping == grouping, figure_t.c.campaign_id.in_(kept_campaigns()))
    )
    if campaign_id is not None:
        query = query.where(figure_t.c.campaign_id == campaign_id)
    return query


def _kept_rows(campaign_id, grouping):
    """Kept sales rows as {(within, key): part}; a part is single-unit only if every campaign's row is, in one unit."""
    f = figure_t.c
    query = _kept(
        campaign_id,
        grouping,
        f.within,
        f.key,
        sa.func.max(f.label).label("label"),
        sa.func.sum(f.quantity).label("quantity"),
        sa.func.min(f.unit).label("unit_min"),
        sa.func.max(f.unit).label("unit_max"),
        (sa.func.count(f.unit) == sa.func.count()).label("all_single"),
        *[
            sa.func.sum(getattr(f, column)).label(column)
            for column in ("revenue_fen", "weight_g", "unweighed", "orders", "buyers")
        ],
    ).group_by(f.within, f.key)
    parts = {}
    for m in db.session.execute(query).mappings():
        single = bool(m["all_single"]) and m["unit_min"] == m["unit_max"]
        parts[(m["within"], m["key"])] = {
            "key": m["key"],
            "label": m["label"],
            "quantity": whole(m["quantity"]) if single else None,
            "unit": m["unit_min"] if single else None,
            **{column: whole(m[column]) for column in ("revenue_fen", "weight_g", "unweighed", "orders", "buyers")},
        }
    return parts


def _live_part(row) -> dict:
    return {
        "key": row.get("key", f"{row['label']}/{row['unit']}"),
        "label": row["label"],
        "quantity": row["quantity"],
        "unit": row["unit"],
        "revenue_fen": row["revenue_fen"],
        "weight_g": row["weight_g"],
        "unweighed": row.get("units_without_weight", 0),
        "orders": row.get("orders", 0),
        "buyers": row.get("buyers", 0),
    }


def _merge(parts, more):
    """Add the live campaigns' parts to the kept ones: sums, and one unit only while every part has that one."""
    for place, part in more.items():
        mine = parts.get(place)
        if mine is None:
            parts[place] = part
            continue
        single = mine["unit"] is not None and mine["unit"] == part["unit"]
        mine["quantity"] = mine["quantity"] + part["quantity"] if single else None
        mine["unit"] = mine["unit"] if single else None
        for column in ("revenue_fen", "weight_g", "unweighed", "orders", "buyers"):
            mine[column] += part[column]
    return parts


def _as_measures(part) -> dict:
    """A merged part as the measures figures_row reads (its single-unit rule: unit_min == unit_max)."""
    return {
        **part,
        "unit_min": part["unit"],
        "unit_max": part["unit"],
        "quantity": part["quantity"] or 0,
    }


def figures_rows(campaign_id=None, group_by="product") -> list[dict]:
    """:func:`dashboard.grouping.sales_rows`, read from the kept figures where there are some.

    :raises ValidationFailed: an unknown grouping.
    """
    check_group_by(group_by)
    read_kept, live, open_ids = _scope(campaign_id)
    if not read_kept:
        return sales_rows(live, group_by) if live is not None else open_rows(open_ids, group_by)
    parts = _kept_rows(campaign_id, group_by)
    for rows in _not_kept(live, open_ids, sales_rows, open_rows, group_by):
        _merge(parts, {("", row["key"]): _live_part(row) for row in rows})
    labels, extras = _labels(group_by, [part["key"] for part in parts.values()])
    rows, unallocated = [], None
    for part in parts.values():
        key = part["key"]
        if key == UNALLOCATED and group_by in ("producer", "town"):
            unallocated = figures_row(key, _("Not yet allocated"), _as_measures(part), unallocated=True)
            continue
        rows.append(figures_row(key, labels.get(key, part["label"]), _as_measures(part), **extras.get(key, {})))
    if group_by == "day":
        return sorted(rows, key=lambda row: row["key"])
    rows.sort(key=lambda row: (-row["revenue_fen"], row["label"]))
    return rows + ([unallocated] if unallocated else [])


def _labels(group_by, keys):
    """Today's names of producers, units and campaigns (kept rows hold ids), and a producer row's extra fields."""
    ids = [int(key) for key in keys if key.isdigit()]
    if group_by == "producer":
        found = db.session.execute(
            sa.select(p.c.id, p.c.name, p.c.town, p.c.kind, p.c.poverty_household).where(p.c.id.in_(ids))
        ).all()
        labels = {str(row.id): row.name for row in found}
        extras = {
            str(row.id): {"town": row.town, "kind": row.kind, "poverty_household": bool(row.poverty_household)} for row in found
        }
        return labels, extras
    table = {"unit": u, "campaign": c}.get(group_by)
    if table is None:
        return {}, {}
    name = table.c.name if table is u else table.c.title
    names = {str(i): label for i, label in db.session.execute(sa.select(table.c.id, name).where(table.c.id.in_(ids)))}
    return {key: names.get(key, "?") for key in keys}, {}


def figures_series(campaign_id=None, group_by="day") -> list[dict]:
    """:func:`dashboard.grouping.sales_series` (per day, per town): the kept rows' sums plus the live campaigns'
    cheap sum-only series (the charts need no distinct counts)."""
    read_kept, live, open_ids = _scope(campaign_id)
    if not read_kept:
        return sales_series(live, group_by) if live is not None else open_series(open_ids, group_by)
    if group_by not in ("day", "town"):
        raise ValueError(f"no series by {group_by}")
    sums = {}
    for (_within, key), part in _kept_rows(campaign_id, group_by).items():
        if not (group_by == "town" and key == UNALLOCATED):
            sums[key] = [part["revenue_fen"], part["weight_g"]]
    for rows in _not_kept(live, open_ids, sales_series, open_series, group_by):
        for row in rows:
            mine = sums.setdefault(row["key"], [0, 0])
            mine[0] += row["revenue_fen"]
            mine[1] += row["weight_g"]
    rows = [{"key": key, "label": key, "revenue_fen": revenue, "weight_g": weight} for key, (revenue, weight) in sums.items()]
    if group_by == "day":
        return sorted(rows, key=lambda row: row["key"])
    return sorted(rows, key=lambda row: (-row["weight_g"], row["label"]))


def figures_breakdown(campaign_id=None, group_by="town") -> dict:
    """:func:`dashboard.grouping.product_breakdown`, read from the kept figures where there are some."""
    check_group_by(group_by)
    read_kept, live, open_ids = _scope(campaign_id)
    if not read_kept:
        return product_breakdown(live, group_by) if live is not None else open_breakdown(open_ids, group_by)
    parts = _kept_rows(campaign_id, breakdown_grouping(group_by))
    for breakdown in _not_kept(live, open_ids, product_breakdown, open_breakdown, group_by):
        more = {
            (within, f"{row['label']}/{row['unit']}"): _live_part(row)
            for within, products in breakdown.items()
            for row in products
        }
        _merge(parts, more)
    breakdown = {}
    for (within, _key), part in parts.items():
        breakdown.setdefault(within, []).append(
            {key: part[key] for key in ("label", "unit", "quantity", "revenue_fen", "weight_g")}
        )
    for products in breakdown.values():
        products.sort(key=lambda product: (-product["revenue_fen"], product["label"]))
    return breakdown


def figures_totals(campaign_id=None) -> tuple[dict, dict]:
    """(:func:`dashboard.totals.sales_totals`, :func:`dashboard.totals.poverty_reach`), from the kept figures."""
    read_kept, live, open_ids = _scope(campaign_id)
    if not read_kept and live is not None:
        reach = reach_figures(reached_producers(live), completed_by_producer(live))
        return sales_totals(live, reach), reach
    if not read_kept:
        reach = reach_figures(open_reached(open_ids), {})
        return open_totals(open_ids, reach), reach
    reached, completed = _kept_reach(campaign_id)
    for rows in _not_kept(live, open_ids, reached_producers, open_reached):
        for row in rows:
            mine = reached.setdefault(row.id, SimpleNamespace(**{**row._asdict(), "revenue_fen": 0, "pooled": 0}))
            mine.revenue_fen += int(row.revenue_fen or 0)
            mine.pooled = max(mine.pooled, int(row.pooled))
    for producer_id, value in completed_by_producer(live).items() if live is not None else ():
        completed[producer_id] = completed.get(producer_id, 0) + value
    reach = reach_figures(list(reached.values()), completed)
    f = figure_t.c
    sums = db.session.execute(_kept(campaign_id, TOTAL, *[sa.func.sum(getattr(f, col)).label(col) for col in SUMMED])).one()
    sums = {column: whole(value) for column, value in sums._mapping.items()}
    if live is not None:
        more = sales_totals(live, reach)
        for column in SUMMED:
            sums[column] += more[
                {"unweighed": "units_without_weight", "unallocated_fen": "unallocated_revenue_fen"}.get(column, column)
            ]
    if open_ids is not None:
        for column, value in open_sums(open_ids, with_buyers=False).items():
            sums[column] += value
    if campaign_id is None:
        sums["buyers"] = _all_buyers(live, open_ids)
    return totals_figures(sums, reach), reach


def _kept_reach(campaign_id):
    """Each producer's kept income and completed fen, over one kept campaign or all: the parts of reach_figures."""
    f = figure_t.c
    query = (
        _kept(
            campaign_id,
            REACH,
            p.c.id,
            p.c.kind,
            p.c.poverty_household,
            p.c.linked_households,
            sa.func.sum(sa.case((f.reached, f.revenue_fen), else_=0)).label("revenue_fen"),
            sa.func.max(sa.case((f.pooled, 1), else_=0)).label("pooled"),
            sa.func.max(sa.case((f.reached, 1), else_=0)).label("reached"),
            sa.func.sum(f.completed_fen).label("completed_fen"),
        )
        .join(p, sa.cast(p.c.id, sa.String) == f.key)
        .group_by(p.c.id, p.c.kind, p.c.poverty_household, p.c.linked_households)
    )
    reached, completed = {}, {}
    for row in db.session.execute(query):
        if row.reached:
            reached[row.id] = SimpleNamespace(
                id=row.id,
                kind=row.kind,
                poverty_household=row.poverty_household,
                linked_households=row.linked_households,
                revenue_fen=whole(row.revenue_fen),
                pooled=row.pooled,
            )
        if whole(row.completed_fen) > 0:
            completed[row.id] = whole(row.completed_fen)
    return reached, completed


def _all_buyers(live, open_ids) -> int:
    """The platform's distinct buyers: the kept campaigns' buyer sets, the open campaigns' buyers and the pending
    campaigns' live buyers, each once."""
    phones = [sa.select(buyer_t.c.phone).where(buyer_t.c.campaign_id.in_(kept_campaigns()))]
    phones += [campaign_buyers(live)] if live is not None else []
    phones += [open_buyers(open_ids)] if open_ids is not None else []
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(sa.union(*phones).subquery())))


def _not_kept(live, open_ids, live_function, open_function, *args):
    """What ``live_function`` gives for the pending campaigns and ``open_function`` for the open ones, for merging."""
    if live is not None:
        yield live_function(live, *args)
    if open_ids is not None:
        yield open_function(open_ids, *args)


def figures_summary(campaign_id=None, group_by="product") -> dict:
    """:func:`dashboard.totals.sales_summary` from the kept figures: GET /stats/summary, the sales page, exports.

    :raises NotFound: no such campaign.
    :raises ValidationFailed: an unknown grouping.
    """
    check_group_by(group_by)
    if campaign_id is not None:
        get_campaign(campaign_id)
    totals, reach = figures_totals(campaign_id)
    return {
        "group_by": group_by,
        "campaign_id": campaign_id,
        "totals": totals,
        "reach": reach,
        "rows": figures_rows(campaign_id, group_by),
    }


def figures_results(slug) -> dict:
    """:func:`dashboard.totals.public_results` from the kept figures: the public results page.

    :raises NotFound: no such campaign, or a draft.
    """
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.slug == slug))
    if campaign is None or not visible_to_buyers(campaign.status):
        raise NotFound(_("No such campaign."))
    read_kept, live, _open_ids = _scope(campaign.id)
    if not read_kept and live is not None:
        return public_results(slug)
    totals, reach = figures_totals(campaign.id)
    towns = figures_series(campaign.id, "town")
    return {
        "campaign": campaign,
        "totals": totals,
        "reach": reach,
        "products": figures_rows(campaign.id, "product"),
        "towns": [{"label": row["label"], "weight_g": row["weight_g"], "revenue_fen": row["revenue_fen"]} for row in towns],
        "units": len(figures_rows(campaign.id, "unit")),
    }
