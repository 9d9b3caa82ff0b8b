"""A unit's orders per person: who ordered what, the totals per item, and the money due against what was collected."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from accounts.models import Unit
from delivery.ledger import line_figures
from extensions import db
from orders.models import GroupSheet, Order, OrderLine
from shop import catalogue as shop_catalogue
from shop.models import Campaign
from units.access import visible_unit
from units.campaigns import campaign_items
from units.sheet_import import current_sheet


@dataclass
class Person:
    """Everything one person of the unit ordered in a campaign (usually one order; more if they also ordered themselves)."""

    campaign_id: int
    name: str
    phone: str
    orders: list = field(default_factory=list)
    quantities: dict = field(default_factory=dict)
    due_fen: int = 0
    paid_fen: int = 0

    @property
    def outstanding_fen(self):
        return self.due_fen - self.paid_fen

    @property
    def payment_status(self):
        if self.due_fen and self.paid_fen >= self.due_fen:
            return "paid"
        return "partly_paid" if self.paid_fen else "unpaid"


@dataclass
class UnitOrders:
    unit: Unit
    campaign: Campaign | None
    items: list
    people: list
    item_totals: list  # [(item, quantity, amount_fen)]
    due_fen: int
    collected_fen: int
    sheet: GroupSheet | None = None

    @property
    def outstanding_fen(self):
        return self.due_fen - self.collected_fen

    @property
    def orders(self):
        return [order for person in self.people for order in person.orders]

    @property
    def unpaid_people(self):
        return [person for person in self.people if person.outstanding_fen > 0]


def order_amount(order, figures=None) -> int:
    """What an order costs now: what its live lines are charged (``delivery.ledger``): their snapshot prices until
    goods arrive, then what each buyer received (a shortfall shared, a weighed price). Cancelled lines never count.

    :param figures: the lines' ``line_figures``, when the caller read them for many orders at once.
    """
    figures = figures if figures is not None else line_figures([line.id for line in order.lines])
    return sum(figures[line.id].charged_fen for line in order.lines if not line.cancelled)


def unit_orders(user, unit_id, campaign_id=None, unpaid_only=False) -> UnitOrders:
    """The unit's live orders grouped per person, totals per item, and money due against collected.

    :param campaign_id: one campaign (None: every campaign, people then per campaign).
    :param unpaid_only: only people who still owe something.
    :raises Forbidden, NotFound: see units.access.visible_unit; NotFound also for a campaign the unit may not see.
    """
    unit = visible_unit(user, unit_id)
    campaign = shop_catalogue.get_visible_campaign(user, campaign_id) if campaign_id is not None else None
    query = (
        sa.select(Order)
        .where(Order.unit_id == unit.id, Order.status != "cancelled")
        .options(selectinload(Order.lines).selectinload(OrderLine.item))
        .order_by(Order.campaign_id, Order.buyer_name, Order.buyer_phone, Order.id)
    )
    if campaign is not None:
        query = query.where(Order.campaign_id == campaign.id)
    people, per_item = _per_person(db.session.scalars(query))
    if campaign is not None:
        items = campaign_items(campaign.id)
    else:
        items = sorted({entry[0] for entry in per_item.values()}, key=lambda i: (i.campaign_id, i.position, i.id))
    item_totals = [(item, per_item[item.id][1], per_item[item.id][2]) for item in items if item.id in per_item]
    listed = sorted(people.values(), key=lambda p: (p.campaign_id, p.name, p.phone))
    due, collected = sum(p.due_fen for p in listed), sum(p.paid_fen for p in listed)
    if unpaid_only:
        listed = [person for person in listed if person.outstanding_fen > 0]
    sheet = current_sheet(campaign.id, unit.id) if campaign is not None else None
    return UnitOrders(unit, campaign, items, listed, item_totals, due, collected, sheet)


def _per_person(orders) -> tuple[dict, dict]:
    """({(campaign id, phone): Person}, {item id: [item, quantity, amount]}) of orders with live lines."""
    people, per_item = {}, {}
    figures = line_figures([line.id for order in orders for line in order.lines])
    for order in orders:
        lines = [line for line in order.lines if not line.cancelled]
        if not lines:
            continue
        key = (order.campaign_id, order.buyer_phone)
        person = people.get(key)
        if person is None:
            person = people[key] = Person(order.campaign_id, order.buyer_name, order.buyer_phone)
        person.orders.append(order)
        amount = order_amount(order, figures)
        person.due_fen += amount
        if order.payment_status == "paid":
            person.paid_fen += amount
        for line in lines:
            person.quantities[line.item_id] = person.quantities.get(line.item_id, 0) + line.quantity
            entry = per_item.setdefault(line.item_id, [line.item, 0, 0])
            entry[1] += line.quantity
            entry[2] += line.quantity * line.price_fen
    return people, per_item
