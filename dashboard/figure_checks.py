"""`flask check-totals` for the kept figures: every kept row and buyer set recomputed from the raw rows by the live
functions (whose own figures checks.py rebuilds independently), every open campaign's figures recomputed from its
lines (dashboard.open_figures), and what the pages read (dashboard.kept_reading)
compared with the live figures of the same scope. A figure altered by hand, or an event that forgot to refresh,
shows here; `flask rebuild-figures` repairs it."""

import sqlalchemy as sa

from dashboard.grouping import product_breakdown, sales_rows, sales_series
from dashboard.kept_figures import FIGURE_COLUMNS, buyer_t, campaign_buyers, campaign_figures, figure_t, kept_campaigns
from dashboard.kept_reading import figures_breakdown, figures_rows, figures_series, figures_totals
from dashboard.open_figures import kept_open_figures, open_figures_from_lines
from dashboard.sales import GROUPINGS, c
from dashboard.totals import poverty_reach, sales_totals
from extensions import db
from shop.lifecycle import POOLED

ALL = "all"


def check_kept_figures(checker, scopes, campaign_id=None) -> None:
    """Compare the kept rows with their recomputation, then what the pages read with the live figures.

    :param scopes: "all" and the campaign ids to compare the readers in (as check_totals lists them).
    """
    kept = db.session.execute(sa.select(c.c.id, c.c.status).where(c.c.id.in_(kept_campaigns())).order_by(c.c.id)).all()
    for cid, status in kept:
        if campaign_id in (None, cid):
            checker.compare("kept figures", cid, "-", "campaign pooled", True, status in POOLED)
            _check_campaign(checker, cid)
    open_ids = db.session.scalars(sa.select(c.c.id).where(c.c.status.not_in(POOLED)).order_by(c.c.id))
    for cid in open_ids:
        if campaign_id in (None, cid):
            _check_open(checker, cid)
    for scope in scopes:
        _check_readers(checker, scope)


def _check_open(checker, campaign_id):
    """A campaign not pooled: its open figures, row by row, against their recomputation from its lines."""
    kept, fresh = kept_open_figures(campaign_id), open_figures_from_lines(campaign_id)
    for table in sorted(set(kept) | set(fresh)):
        mine, theirs = fresh.get(table, {}), kept.get(table, {})
        for key in sorted(set(mine) | set(theirs), key=str):
            name = f"{table} " + " ".join(str(part) for part in key[1:])
            checker.compare("open figures", campaign_id, name, "counts", mine.get(key), theirs.get(key))


def _check_campaign(checker, campaign_id):
    stored = {
        (row.grouping, row.within, row.key): row._mapping
        for row in db.session.execute(sa.select(figure_t).where(figure_t.c.campaign_id == campaign_id))
    }
    fresh = {(row["grouping"], row["within"], row["key"]): row for row in campaign_figures(campaign_id)}
    for place in sorted(set(stored) | set(fresh)):
        name = " ".join(part for part in place if part)
        mine, theirs = fresh.get(place), stored.get(place)
        if mine is None or theirs is None:
            checker.compare("kept figures", campaign_id, name, "row present", mine is not None, theirs is not None)
            continue
        for column in FIGURE_COLUMNS:
            checker.compare("kept figures", campaign_id, name, column, mine[column], theirs[column])
    phones = set(db.session.scalars(sa.select(buyer_t.c.phone).where(buyer_t.c.campaign_id == campaign_id)))
    recomputed = set(db.session.scalars(campaign_buyers(campaign_id)))
    checker.compare("kept buyers", campaign_id, "-", "buyers", len(recomputed), len(phones))
    checker.compare("kept buyers", campaign_id, "-", "same phones", True, phones == recomputed)


def _check_readers(checker, scope):
    """What the pages read equals the live figures; across campaigns a row's buyers is a sum, so only per campaign."""
    campaign_id = None if scope == ALL else scope
    totals, reach = figures_totals(campaign_id)
    live_reach = poverty_reach(campaign_id)
    live_totals = sales_totals(campaign_id, live_reach)
    for field, value in live_totals.items():
        checker.compare("read totals", scope, "-", field, value, totals[field])
    for field, value in live_reach.items():
        checker.compare("read reach", scope, "-", field, value, reach[field])
    fields = ("label", "quantity", "unit", "weight_g", "units_without_weight", "revenue_fen", "orders")
    fields += ("buyers",) if campaign_id is not None else ()
    for grouping in GROUPINGS:
        read = figures_rows(campaign_id, grouping)
        live = sales_rows(campaign_id, grouping)
        checker.compare(
            f"read rows by {grouping}", scope, "-", "keys", sorted(r["key"] for r in live), sorted(r["key"] for r in read)
        )
        by_key = {row["key"]: row for row in read}
        for row in live:
            for field in fields:
                checker.compare(
                    f"read rows by {grouping}", scope, row["key"], field, row[field], by_key.get(row["key"], {}).get(field)
                )
        if grouping != "product":
            checker.compare(
                f"read products by {grouping}",
                scope,
                "-",
                "breakdown",
                product_breakdown(campaign_id, grouping),
                figures_breakdown(campaign_id, grouping),
            )
    for grouping in ("day", "town"):
        checker.compare(
            f"read chart by {grouping}",
            scope,
            "-",
            "series",
            sales_series(campaign_id, grouping),
            figures_series(campaign_id, grouping),
        )
