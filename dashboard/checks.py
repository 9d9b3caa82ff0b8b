"""Recompute every total from the raw rows, independently of the SQL aggregates, and list what disagrees.

The dashboard's figures (totals.py, grouping.py) are SQL aggregates; here the same figures are rebuilt in Python by
streaming the raw order lines twice (ordered by order, then by buyer phone, so distinct counts need no big
sets), and compared with them. Stored counters the other areas keep are checked too: each item's
``ordered`` and ``capacity``, each order's ``total_fen``, allocations against demand, pick lines against
allocations, supplies' ``allocated``, and payouts against what is due.
"""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from dashboard.figure_checks import check_kept_figures
from dashboard.grouping import sales_rows, sales_series
from dashboard.models import Delivery, Payout
from dashboard.outcome_checks import check_earnings, check_outcomes
from dashboard.sales import GROUPINGS, THROUGH_KINDS, UNALLOCATED, a, c, ci, o, ol, p, s
from dashboard.settlement import producer_statements
from dashboard.totals import sales_totals
from database import local_zone
from delivery.checks import check_ledger
from extensions import db
from fulfilment.models import PickLine
from shop.lifecycle import POOLED, visible_to_buyers

LINE_GROUPINGS = ("product", "unit", "day", "campaign")
ALL = "all"


@dataclass
class Mismatch:
    check: str
    scope: str
    key: str
    field: str
    expected: object
    found: object

    def __str__(self):
        return f"MISMATCH {self.check} [{self.scope}] {self.key} {self.field}: recomputed {self.expected}, found {self.found}"


class Checker:
    def __init__(self):
        self.mismatches = []
        self.checked = 0

    def compare(self, check, scope, key, field, expected, found):
        self.checked += 1
        if expected != found:
            self.mismatches.append(Mismatch(check, str(scope), str(key), field, expected, found))


def _new_group():
    return {"quantity": 0, "revenue_fen": 0, "weight_g": 0, "orders": 0, "buyers": 0}


def _line_rows(order_by):
    query = (
        sa.select(
            ol.c.quantity,
            ol.c.price_fen,
            ol.c.cancelled,
            ol.c.item_id,
            o.c.id.label("order_id"),
            o.c.status.label("order_status"),
            o.c.buyer_phone,
            o.c.unit_id,
            o.c.created_at,
            o.c.campaign_id,
            o.c.total_fen,
            c.c.status.label("campaign_status"),
        )
        .select_from(ol.join(o, o.c.id == ol.c.order_id).join(c, c.c.id == o.c.campaign_id))
        .order_by(order_by, ol.c.id)
    )
    return db.session.execute(query.execution_options(yield_per=20_000))


class Recomputed:
    """Every figure the dashboard shows, rebuilt from raw rows in Python."""

    def __init__(self):
        self.zone = local_zone()
        self.items = {
            row.id: row
            for row in db.session.execute(
                sa.select(
                    ci.c.id,
                    ci.c.campaign_id,
                    ci.c.title,
                    ci.c.unit,
                    ci.c.unit_weight_g,
                    ci.c.price_fen,
                    ci.c.ordered,
                    ci.c.capacity,
                )
            )
        }
        self.campaign_status = dict(db.session.execute(sa.select(c.c.id, c.c.status)).all())
        self.producers = {
            row.id: row
            for row in db.session.execute(sa.select(p.c.id, p.c.town, p.c.kind, p.c.poverty_household, p.c.linked_households))
        }
        self.supplies = db.session.execute(sa.select(s.c.item_id, s.c.producer_id)).all()
        self.allocations = db.session.execute(
            sa.select(a.c.id, a.c.item_id, a.c.producer_id, a.c.quantity, a.c.campaign_id)
        ).all()
        # Producers a sold line of an item is attributed to: positive allocations in pooled campaigns.
        self.attributed = defaultdict(list)
        for row in self.allocations:
            if self.campaign_status[row.campaign_id] in POOLED and row.quantity > 0:
                self.attributed[row.item_id].append(row.producer_id)
        self.totals = defaultdict(
            lambda: {"revenue_fen": 0, "weight_g": 0, "orders": 0, "buyers": 0, "lines": 0, "unallocated_fen": 0}
        )
        self.groups = defaultdict(_new_group)  # (scope, grouping, key) → figures
        self.live_quantity = defaultdict(int)  # item → quantity on live lines, whatever the campaign's status
        self.sold_quantity = defaultdict(int)  # item → quantity on sold lines
        self.order_totals = {}  # non-cancelled order → (campaign, stored total_fen, recomputed)
        self.items_with_sales = set()
        self._pass_by_order()
        self._pass_by_buyer()
        self._attributed_quantities()

    def _keys(self, row):
        """(grouping, key) pairs a sold line belongs to."""
        item = self.items[row.item_id]
        day = row.created_at.astimezone(self.zone).date().isoformat()
        keys = [
            ("product", f"{item.title}/{item.unit}"),
            ("unit", str(row.unit_id)),
            ("day", day),
            ("campaign", str(row.campaign_id)),
        ]
        producers = self.attributed.get(row.item_id) if self.campaign_status[row.campaign_id] in POOLED else None
        if producers:
            keys += [("producer", str(pid)) for pid in producers]
            keys += [("town", town) for town in {self.producers[pid].town for pid in producers}]
        else:
            keys += [("producer", UNALLOCATED), ("town", UNALLOCATED)]
        return keys

    @staticmethod
    def _sold(row):
        return not row.cancelled and row.order_status != "cancelled" and visible_to_buyers(row.campaign_status)

    def _close(self, seen, field):
        counted = set()
        for campaign_id, grouping, key in seen:
            for scope in (ALL, campaign_id):
                if (scope, grouping, key) in counted:
                    continue
                counted.add((scope, grouping, key))
                if grouping == "total":
                    self.totals[scope][field] += 1
                else:
                    self.groups[(scope, grouping, key)][field] += 1

    def _pass_by_order(self):
        def on_line(row):
            item = self.items[row.item_id]
            amount = row.quantity * row.price_fen
            grams = row.quantity * (item.unit_weight_g or 0)
            self.sold_quantity[row.item_id] += row.quantity
            self.items_with_sales.add(row.item_id)
            for scope in (ALL, row.campaign_id):
                totals = self.totals[scope]
                totals["revenue_fen"] += amount
                totals["weight_g"] += grams
                totals["lines"] += 1
                if row.campaign_status not in POOLED:
                    totals["unallocated_fen"] += amount
                for grouping, key in self._keys(row):
                    if grouping in LINE_GROUPINGS or key == UNALLOCATED:
                        group = self.groups[(scope, grouping, key)]
                        group["quantity"] += row.quantity
                        group["revenue_fen"] += amount
                        group["weight_g"] += grams

        def on_any_line(row):
            if not row.cancelled and row.order_status != "cancelled":
                self.live_quantity[row.item_id] += row.quantity
                campaign, stored, recomputed = self.order_totals.get(row.order_id, (row.campaign_id, row.total_fen, 0))
                self.order_totals[row.order_id] = (campaign, stored, recomputed + row.quantity * row.price_fen)
            elif row.order_status != "cancelled":
                self.order_totals.setdefault(row.order_id, (row.campaign_id, row.total_fen, 0))
            if self._sold(row):
                on_line(row)

        self._stream_all(o.c.id, "order_id", "orders", on_any_line)

    def _stream_all(self, order_by, attribute, field, on_row):
        """Walk every line sorted by ``order_by``; count each group once per distinct ``attribute`` (an order, a phone)."""
        current, seen = object(), set()
        for row in _line_rows(order_by):
            value = getattr(row, attribute)
            if value != current:
                self._close(seen, field)
                current, seen = value, set()
            on_row(row)
            if self._sold(row):
                for grouping, key in self._keys(row):
                    seen.add((row.campaign_id, grouping, key))
                seen.add((row.campaign_id, "total", ""))
        self._close(seen, field)

    def _pass_by_buyer(self):
        self._stream_all(o.c.buyer_phone, "buyer_phone", "buyers", lambda row: None)

    def _attributed_quantities(self):
        for row in self.allocations:
            if self.campaign_status[row.campaign_id] not in POOLED or row.quantity <= 0:
                continue
            item = self.items[row.item_id]
            producer = self.producers[row.producer_id]
            for scope in (ALL, row.campaign_id):
                for grouping, key in (("producer", str(row.producer_id)), ("town", producer.town)):
                    group = self.groups[(scope, grouping, key)]
                    group["quantity"] += row.quantity
                    group["revenue_fen"] += row.quantity * item.price_fen
                    group["weight_g"] += row.quantity * (item.unit_weight_g or 0)

    def reached(self, scope):
        """Producers reached in a scope: positive pooled allocations, or supplies of sold items before pooling."""
        producers = set()
        for row in self.allocations:
            if (
                (scope == ALL or row.campaign_id == scope)
                and self.campaign_status[row.campaign_id] in POOLED
                and row.quantity > 0
            ):
                producers.add(row.producer_id)
        for item_id, producer_id in self.supplies:
            item = self.items[item_id]
            in_scope = scope == ALL or item.campaign_id == scope
            if in_scope and self.campaign_status[item.campaign_id] not in POOLED and item_id in self.items_with_sales:
                producers.add(producer_id)
        return producers


def check_totals(campaign_id=None) -> Checker:
    """Compare every dashboard figure and stored counter with its recomputation from raw rows.

    :param campaign_id: check only this campaign's scope (the whole-platform scope is always checked).
    :returns: the checker: ``checked`` figures and the ``mismatches``.
    """
    checker = Checker()
    raw = Recomputed()
    scopes = [ALL] + [
        cid for cid, status in sorted(raw.campaign_status.items()) if visible_to_buyers(status) and campaign_id in (None, cid)
    ]
    for scope in scopes:
        _check_scope(checker, raw, scope)
    _check_stored_counters(checker, raw, campaign_id)
    _check_settlement(checker, campaign_id)
    check_ledger(checker, campaign_id)
    check_outcomes(checker, scopes)
    check_earnings(checker, campaign_id)
    check_kept_figures(checker, scopes, campaign_id)
    return checker


def _check_scope(checker, raw, scope):
    service_scope = None if scope == ALL else scope
    totals = sales_totals(service_scope)
    expected = raw.totals[scope]
    for field in ("revenue_fen", "weight_g", "orders", "buyers", "lines"):
        checker.compare("totals", scope, "-", field, expected[field], totals[field])
    checker.compare(
        "totals", scope, "-", "unallocated_revenue_fen", expected["unallocated_fen"], totals["unallocated_revenue_fen"]
    )
    reached = [raw.producers[pid] for pid in raw.reached(scope)]
    direct = sum(1 for row in reached if row.poverty_household)
    linked = sum(row.linked_households for row in reached if not row.poverty_household and row.kind in THROUGH_KINDS)
    checker.compare("totals", scope, "-", "producers", len(reached), totals["producers"])
    checker.compare("totals", scope, "-", "poverty_households_direct", direct, totals["poverty_households_direct"])
    checker.compare("totals", scope, "-", "poverty_households_through", linked, totals["poverty_households_through"])
    for grouping in GROUPINGS:
        check = f"rows by {grouping}"
        reported = {row["key"]: row for row in sales_rows(service_scope, grouping)}
        recomputed = {key: figures for (sc, g, key), figures in raw.groups.items() if sc == scope and g == grouping}
        for key in sorted(set(reported) | set(recomputed)):
            mine, theirs = recomputed.get(key, _new_group()), reported.get(key)
            if theirs is None:
                checker.compare(check, scope, key, "row present", True, False)
                continue
            for field in ("revenue_fen", "weight_g", "orders", "buyers"):
                checker.compare(check, scope, key, field, mine[field], theirs[field])
            if theirs["quantity"] is not None:
                checker.compare(check, scope, key, "quantity", mine["quantity"], theirs["quantity"])
        if grouping in ("day", "town"):
            # The charts' cheaper series must draw the same figures as the table rows.
            for row in sales_series(service_scope, grouping):
                mine = recomputed.get(row["key"], _new_group())
                for field in ("revenue_fen", "weight_g"):
                    checker.compare(f"chart by {grouping}", scope, row["key"], field, mine[field], row[field])
        # Every sale lands in exactly one row of any grouping, so the rows add up to the totals.
        for field in ("weight_g", "revenue_fen"):
            checker.compare(f"{check} add up", scope, "-", field, totals[field], sum(row[field] for row in reported.values()))


def _check_stored_counters(checker, raw, campaign_id):
    capacity = defaultdict(int)
    for item_id, quantity in db.session.execute(sa.select(s.c.item_id, s.c.quantity)):
        capacity[item_id] += quantity
    allocated = defaultdict(int)
    for row in raw.allocations:
        allocated[row.item_id] += row.quantity
    for item_id, item in raw.items.items():
        if campaign_id not in (None, item.campaign_id):
            continue
        name = f"item {item_id}"
        checker.compare("item ordered", item.campaign_id, name, "ordered", raw.live_quantity.get(item_id, 0), item.ordered)
        checker.compare("item capacity", item.campaign_id, name, "capacity", capacity.get(item_id, 0), item.capacity)
        if raw.campaign_status[item.campaign_id] in POOLED:
            sold = raw.sold_quantity.get(item_id, 0)
            checker.compare("allocation covers demand", item.campaign_id, name, "quantity", sold, allocated.get(item_id, 0))
    for order_id, (campaign, stored, recomputed) in raw.order_totals.items():
        if campaign_id in (None, campaign):
            checker.compare("order total", campaign, f"order {order_id}", "total_fen", recomputed, stored)
    picked = defaultdict(int)
    for allocation_id, quantity in db.session.execute(sa.select(PickLine.allocation_id, PickLine.quantity)):
        picked[allocation_id] += quantity
    supplied = {}
    for item_id, producer_id, quantity in db.session.execute(
        sa.select(s.c.item_id, s.c.producer_id, s.c.allocated).where(s.c.allocated.is_not(None))
    ):
        supplied[(item_id, producer_id)] = supplied.get((item_id, producer_id), 0) + quantity
    for row in raw.allocations:
        if campaign_id not in (None, row.campaign_id):
            continue
        name = f"allocation {row.id}"
        checker.compare("pick lines", row.campaign_id, name, "quantity", row.quantity, picked.get(row.id, 0))
        if (row.item_id, row.producer_id) in supplied:
            checker.compare(
                "supply allocated", row.campaign_id, name, "quantity", row.quantity, supplied[(row.item_id, row.producer_id)]
            )


def _check_settlement(checker, campaign_id):
    campaigns = {cid for (cid,) in db.session.execute(sa.select(Payout.campaign_id).distinct())}
    campaigns |= {cid for (cid,) in db.session.execute(sa.select(Delivery.campaign_id).distinct())}
    for cid in sorted(campaigns):
        if campaign_id not in (None, cid):
            continue
        for statement in producer_statements(cid):
            # Paid out never exceeds what is due for delivered goods.
            name = f"producer {statement['producer'].id}"
            checker.compare("payouts within due", cid, name, "overpaid", False, statement["paid_fen"] > statement["due_fen"])
        pairs = set(
            db.session.execute(
                sa.select(PickLine.unit_id, a.c.producer_id)
                .join(a, a.c.id == PickLine.allocation_id)
                .where(a.c.campaign_id == cid)
            ).all()
        )
        for unit_id, producer_id in db.session.execute(
            sa.select(Delivery.unit_id, Delivery.producer_id).where(Delivery.campaign_id == cid)
        ):
            name = f"unit {unit_id} producer {producer_id}"
            checker.compare("delivery has goods", cid, name, "allocated", True, (unit_id, producer_id) in pairs)
