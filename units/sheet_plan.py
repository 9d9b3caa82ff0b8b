"""What a sheet or grid would do to the unit's orders, checked under the locks in the transaction that writes it.

Per-buyer limits and what is left of each item are checked counting every row at once, against the database as
of the locks; every problem is reported together. A sheet is compared with the unit's previous sheet: who is
added, changed, removed or unchanged.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from errors import InvalidSheet
from extensions import db
from orders import people
from orders.locks import lock_items, lock_open_campaign, lock_unit_sheet
from orders.models import GroupSheet, Order, OrderLine
from orders.people import in_chunks
from orders.reading import visible_orders_clause
from shop.models import Campaign
from units import sheet_rows
from units.campaigns import campaign_items, item_columns
from units.locks import lock_buyers
from units.sheets import problem

_order_table = Order.__table__
_line_table = OrderLine.__table__


@dataclass
class PersonChange:
    """What a sheet does to one person's order: added, changed, removed or unchanged."""

    kind: str
    name: str
    phone: str
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    before_fen: int = 0
    after_fen: int = 0
    was_paid: bool = False
    order_id: int | None = None


@dataclass
class Plan:
    """A checked sheet, ready to be written in the transaction that checked it."""

    campaign: Campaign
    items: list
    rows: list
    skipped: int
    previous: GroupSheet | None
    previous_orders: dict  # phone → Order of the previous sheet
    changes: list
    filename: str = ""
    members: dict = field(default_factory=dict)  # phone → User: the people of the sheet registered in the unit

    def _of_kind(self, kind):
        return [c for c in self.changes if c.kind == kind]

    @property
    def added(self):
        return self._of_kind("added")

    @property
    def changed(self):
        return self._of_kind("changed")

    @property
    def removed(self):
        return self._of_kind("removed")

    @property
    def unchanged(self):
        return self._of_kind("unchanged")

    @property
    def total_fen(self):
        return sum(c.after_fen for c in self.changes)

    @property
    def line_count(self):
        return sum(len(row.quantities) for row in self.rows)

    @property
    def paid_affected(self):
        return [c for c in self.changes if c.was_paid and c.kind in ("changed", "removed")]

    def item_totals(self):
        """[(item, quantity before, quantity after)] for the items this sheet orders or ordered."""
        before, after = defaultdict(int), defaultdict(int)
        for change in self.changes:
            for item_id, quantity in change.before.items():
                before[item_id] += quantity
            for item_id, quantity in change.after.items():
                after[item_id] += quantity
        return [(item, before[item.id], after[item.id]) for item in self.items if before[item.id] or after[item.id]]


def invalid(problems) -> InvalidSheet:
    """The error that names every problem, whole-file ones first, then by row and column."""
    problems = sorted(problems, key=lambda p: (p["row"] is not None, p["row"] or 0, p.get("cell") or ""))
    return InvalidSheet(
        _(
            "The sheet was not imported: %(n)d problem(s) found. Nothing was saved; correct them and upload again.",
            n=len(problems),
        ),
        problems,
    )


def column_positions(columns, headers) -> dict:
    """{item_id: (heading, index)} for naming an item's column in a problem."""
    return {role[1]: (headers[index], index) for index, role in columns.items() if isinstance(role, tuple)}


def plan_orders(coordinator, campaign, rows, skipped, problems, positions, *, replace, filename="") -> Plan:
    """Inside the write transaction: lock, check limits and capacity against the database, diff with the previous sheet.

    Refused rows: a phone registered to someone outside the unit; a person who already has an order of the unit in
    the campaign outside the sheet being replaced (their own, a grid's, a coordinator's: never a second order).
    :param replace: True for a sheet (replaces the unit's previous sheet); False for grid rows (only adds orders).
    :param positions: {"items": {item_id: (heading, index)}, "phone": (heading, index)} to name columns in problems.
    :raises CampaignNotOpen, Forbidden, NotFound: see orders.locks.lock_open_campaign.
    :raises InvalidSheet: every problem found, parsing included.
    """
    unit_id = coordinator.unit_id
    lock_open_campaign(campaign.id, unit_id)
    lock_unit_sheet(campaign.id, unit_id)
    previous, previous_orders = _previous_sheet(campaign.id, unit_id) if replace else (None, {})
    touched = {item_id for row in rows for item_id in row.quantities}
    touched |= {line.item_id for order in previous_orders.values() for line in order.lines}
    lock_buyers(campaign.id, rows, touched)
    lock_items(touched)
    items = campaign_items(campaign.id)  # re-read under the locks: capacity and ordered as of now
    problems = list(problems)
    found = people.registered(unit_id, {row.phone for row in rows})
    problems += _whose_phones(rows, found, previous.id if previous else None, campaign.id, unit_id, positions)
    # Another unit's people are refused by their phone alone: counting their limits would tell of their orders.
    ours = [row for row in rows if row.phone not in found.outsiders]
    problems += _over_limits_or_capacity(coordinator, campaign.id, items, ours, previous, previous_orders, positions)
    if problems:
        raise invalid(problems)
    if not rows and not previous_orders:
        raise invalid([problem(None, None, _("The sheet lists nobody with a quantity above zero."))])
    changes = _changes(rows, previous_orders, {item.id: item.price_fen for item in items})
    return Plan(campaign, items, rows, skipped, previous, previous_orders, changes, filename, found.members)


def _previous_sheet(campaign_id, unit_id) -> tuple[GroupSheet | None, dict]:
    """The unit's current sheet for the campaign and its live orders by phone."""
    previous = db.session.scalar(
        sa.select(GroupSheet)
        .where(GroupSheet.campaign_id == campaign_id, GroupSheet.unit_id == unit_id, GroupSheet.replaced_at.is_(None))
        .order_by(GroupSheet.id.desc())
        .execution_options(populate_existing=True)
    )
    if previous is None:
        return None, {}
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.group_sheet_id == previous.id, Order.status != "cancelled")
        .options(selectinload(Order.lines))
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    return previous, {order.buyer_phone: order for order in orders}


def _over_limits_or_capacity(coordinator, campaign_id, items, rows, previous, previous_orders, positions) -> list:
    """Problems with per-buyer limits or what is left, the previous sheet's quantities given back first."""
    released = defaultdict(int)
    for order in previous_orders.values():
        for item_id, quantity in live_lines(order).items():
            released[item_id] += quantity
    remaining = {item.id: item.capacity - item.ordered + released[item.id] for item in items}
    limited = {item.id for item in items if item.per_buyer_limit}
    held, unseen = _held_elsewhere(
        coordinator, campaign_id, {row.phone for row in rows}, limited, previous.id if previous else None
    )
    return sheet_rows.check_limits_and_capacity(
        rows, item_columns(items), held, remaining, positions.get("items", {}), unseen=unseen
    )


def _whose_phones(rows, found, previous_sheet_id, campaign_id, unit_id, positions) -> list:
    """Rows for people the coordinator may not order for (registered outside the unit), or not again (they already
    have an order of the unit in the campaign, outside the sheet being replaced)."""
    label, index = positions.get("phone", (None, None))
    existing = people.existing_orders(
        campaign_id, unit_id, {row.phone for row in rows} - found.outsiders, exclude_sheet_id=previous_sheet_id
    )
    problems = []
    for row in rows:
        cell = f"{sheet_rows.column_letter(index)}{row.row}" if index is not None else None
        if row.phone in found.outsiders:
            problems.append(problem(row.row, label, people.outsider_message(row.phone), cell))
        elif row.phone in existing:
            problems.append(problem(row.row, label, people.already_ordered_message(row.name, existing[row.phone]), cell))
    return problems


def _changes(rows, previous_orders, prices) -> list[PersonChange]:
    changes = []
    for row in rows:
        old = previous_orders.get(row.phone)
        if old is None:
            changes.append(
                PersonChange("added", row.name, row.phone, after=row.quantities, after_fen=_amount(row.quantities, prices))
            )
            continue
        before = live_lines(old)
        same = before == row.quantities and old.buyer_name == row.name and (old.note or None) == (row.note or None)
        changes.append(
            PersonChange(
                "unchanged" if same else "changed",
                row.name,
                row.phone,
                before=before,
                after=row.quantities,
                before_fen=old.total_fen,
                after_fen=old.total_fen if same else _amount(row.quantities, prices),
                was_paid=old.payment_status == "paid",
                order_id=old.id,
            )
        )
    listed = {row.phone for row in rows}
    for phone, old in previous_orders.items():
        if phone not in listed:
            changes.append(
                PersonChange(
                    "removed",
                    old.buyer_name,
                    phone,
                    before=live_lines(old),
                    before_fen=old.total_fen,
                    was_paid=old.payment_status == "paid",
                    order_id=old.id,
                )
            )
    return changes


def live_lines(order) -> dict:
    return {line.item_id: line.quantity for line in order.lines if not line.cancelled}


def _amount(quantities, prices) -> int:
    return sum(prices[item_id] * quantity for item_id, quantity in quantities.items())


def _held_elsewhere(coordinator, campaign_id, phones, item_ids, exclude_sheet_id=None) -> tuple[dict, dict]:
    """What each person has of ``item_ids`` in live orders outside the sheet being replaced, and how much of that is in
    orders the coordinator may not see (another unit's): ({phone: {item_id: quantity}}, the same for the unseen)."""
    held = defaultdict(lambda: defaultdict(int))
    unseen = defaultdict(lambda: defaultdict(int))
    if not phones or not item_ids:
        return held, unseen
    hidden = sa.func.sum(sa.case((visible_orders_clause(coordinator), 0), else_=_line_table.c.quantity))
    for chunk in in_chunks(phones):
        query = (
            sa.select(_order_table.c.buyer_phone, _line_table.c.item_id, sa.func.sum(_line_table.c.quantity), hidden)
            .join(_order_table, _order_table.c.id == _line_table.c.order_id)
            .where(
                _order_table.c.campaign_id == campaign_id,
                _order_table.c.status != "cancelled",
                _order_table.c.buyer_phone.in_(chunk),
                _line_table.c.cancelled.is_(False),
                _line_table.c.item_id.in_(sorted(item_ids)),
            )
            .group_by(_order_table.c.buyer_phone, _line_table.c.item_id)
        )
        if exclude_sheet_id is not None:
            query = query.where(
                sa.or_(_order_table.c.group_sheet_id.is_(None), _order_table.c.group_sheet_id != exclude_sheet_id)
            )
        for phone, item_id, quantity, hidden_quantity in db.session.execute(query):
            held[phone][item_id] += int(quantity)
            if hidden_quantity and phone != coordinator.phone:
                unseen[phone][item_id] += int(hidden_quantity)
    return held, unseen
