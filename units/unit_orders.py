"""A unit's orders per person: who ordered what, the totals per item, and the money due against what was collected."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from accounts.models import Unit
from delivery.ledger import line_figures
from extensions import db
from orders.models import GroupSheet, Order, OrderLine
from paging import page_of
from shop import catalogue as shop_catalogue
from shop.models import Campaign, CampaignItem
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
    pagination: object = None  # when paged: the page of people (paging.page_of), else None

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


def unit_orders(user, unit_id, campaign_id=None, unpaid_only=False, paged=False, page=None, per_page=None) -> UnitOrders:
    """The unit's live orders grouped per person, totals per item, and money due against collected.

    :param campaign_id: one campaign (None: every campaign, people then per campaign).
    :param unpaid_only: only people who still owe something.
    :param paged: only one page of people (``page``, ``per_page``; see paging.page_of), paged in SQL; the totals
        stay the whole unit's.
    :raises Forbidden, NotFound: see units.access.visible_unit; NotFound also for a campaign the unit may not see.
    """
    unit = visible_unit(user, unit_id)
    campaign = shop_catalogue.get_visible_campaign(user, campaign_id) if campaign_id is not None else None
    if paged:
        return _page_of_people(unit, campaign, unpaid_only, page, per_page)
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
    orders = list(orders)  # read twice: the lines' figures first, in one query
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


def _live_amounts():
    amount = sa.cast(OrderLine.quantity, sa.BigInteger) * OrderLine.price_fen
    return (
        sa.select(OrderLine.order_id, sa.func.sum(amount).label("amount"))
        .where(sa.not_(OrderLine.cancelled))
        .group_by(OrderLine.order_id)
        .subquery()
    )


def _people_query(unit_id, campaign_id, unpaid_only):
    """One row per person (campaign, phone) with live lines: name, due and paid, in the order the page lists them."""
    live = _live_amounts()
    name = sa.func.min(Order.buyer_name)
    due = sa.func.sum(live.c.amount)
    paid = sa.func.sum(sa.case((Order.payment_status == "paid", live.c.amount), else_=0))
    query = (
        sa.select(Order.campaign_id, Order.buyer_phone, name.label("name"), due.label("due_fen"), paid.label("paid_fen"))
        .join(live, live.c.order_id == Order.id)
        .where(Order.unit_id == unit_id, Order.status != "cancelled")
        .group_by(Order.campaign_id, Order.buyer_phone)
        .order_by(Order.campaign_id, name, Order.buyer_phone)
    )
    if campaign_id is not None:
        query = query.where(Order.campaign_id == campaign_id)
    return query.having(due > paid) if unpaid_only else query


def _page_of_people(unit, campaign, unpaid_only, page, per_page) -> UnitOrders:
    campaign_id = campaign.id if campaign is not None else None
    people_page = page_of(_people_query(unit.id, campaign_id, unpaid_only), page, per_page, rows=True)
    pairs = [(row.campaign_id, row.buyer_phone) for row in people_page.items]
    people = {}
    if pairs:
        orders = db.session.scalars(
            sa.select(Order)
            .where(
                Order.unit_id == unit.id,
                Order.status != "cancelled",
                sa.tuple_(Order.campaign_id, Order.buyer_phone).in_(pairs),
            )
            .options(selectinload(Order.lines).selectinload(OrderLine.item))
            .order_by(Order.campaign_id, Order.buyer_name, Order.buyer_phone, Order.id)
        )
        people, _per_item = _per_person(orders)
    listed = [people[pair] for pair in pairs if pair in people]
    everyone = _people_query(unit.id, campaign_id, False).order_by(None).subquery()
    due, collected = db.session.execute(sa.select(sa.func.sum(everyone.c.due_fen), sa.func.sum(everyone.c.paid_fen))).one()
    item_totals = _item_totals(unit.id, campaign)
    items = campaign_items(campaign.id) if campaign is not None else [item for item, _q, _a in item_totals]
    sheet = current_sheet(campaign.id, unit.id) if campaign is not None else None
    return UnitOrders(unit, campaign, items, listed, item_totals, int(due or 0), int(collected or 0), sheet, people_page)


def _item_totals(unit_id, campaign):
    """[(item, quantity, amount)] of the unit's live lines, in the campaign's item order."""
    amount = sa.cast(OrderLine.quantity, sa.BigInteger) * OrderLine.price_fen
    query = (
        sa.select(OrderLine.item_id, sa.func.sum(OrderLine.quantity), sa.func.sum(amount))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.unit_id == unit_id, Order.status != "cancelled", sa.not_(OrderLine.cancelled))
        .group_by(OrderLine.item_id)
    )
    if campaign is not None:
        query = query.where(Order.campaign_id == campaign.id)
    sums = {item_id: (int(quantity), int(total)) for item_id, quantity, total in db.session.execute(query)}
    if not sums:
        return []
    found = db.session.scalars(sa.select(CampaignItem).where(CampaignItem.id.in_(sums))).all()
    ordered = sorted(found, key=lambda item: (item.campaign_id, item.position, item.id))
    return [(item, *sums[item.id]) for item in ordered]
