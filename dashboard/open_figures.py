"""Open figures: what the sales of a campaign not yet pooled add up to, kept by the orders themselves, so the pages
over all campaigns need not read the lines of the campaigns still taking orders.

Every order, change and cancellation adds its difference (:func:`count_order`) in its own transaction, after it
took its items' capacity locks. The rows are keyed by item (per unit and per day), by buyer (per unit and day) and
by item and buyer, so an order writes only rows that orders of other items and other buyers never touch: no row is
shared by every order of a campaign, and a sought-after item's rows wait on nothing its capacity row did not.

A campaign has open figures from its first order until the pooling (then dashboard.kept_figures takes over) or its
cancellation drops them (:func:`drop_open_figures`). `flask check-totals` compares them with
:func:`open_figures_from_lines`; `flask rebuild-figures` rewrites them from it.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.models import OpenBuyer, OpenItemBuyer, OpenSale
from dashboard.sales import c, fen, iso_day, local_day, local_day_of, o, ol, sold_lines_from, sold_lines_where
from extensions import db
from shop.lifecycle import POOLED, visible_to_buyers

sale_t = OpenSale.__table__
buyer_t = OpenBuyer.__table__
item_buyer_t = OpenItemBuyer.__table__
TABLES = (sale_t, buyer_t, item_buyer_t)


def sold_part(order) -> dict[int, tuple[int, int]]:
    """{item id: (quantity, revenue fen)} of the order's lines that count as sales: its share of the figures."""
    if order.stored_status == "cancelled":
        return {}
    return {line.item_id: (line.quantity, line.quantity * line.price_fen) for line in order.lines if not line.cancelled}


def count_order(order, before) -> None:
    """Add to the order's campaign's open figures what its sales changed by since ``before`` (its :func:`sold_part`
    then; {} for a new order), in the caller's transaction. Call it after the order's capacity moved, so its items'
    rows are locked already. A pooled campaign's figures are dashboard.kept_figures' business, and a draft's sales do
    not count, so for those it writes nothing."""
    after = sold_part(order)
    if after == before:
        return
    status = order.campaign.status
    if status in POOLED or not visible_to_buyers(status):
        return
    day = local_day_of(order.created_at)
    sales, item_buyers = [], []
    for item_id in sorted(set(before) | set(after)):
        quantity, revenue = (a - b for a, b in zip(after.get(item_id, (0, 0)), before.get(item_id, (0, 0)), strict=True))
        lines = (item_id in after) - (item_id in before)
        if quantity or revenue or lines:
            for grouping, key in (("unit", str(order.unit_id)), ("day", day)):
                sales.append(
                    _row(order, item_id=item_id, grouping=grouping, key=key, quantity=quantity, revenue_fen=revenue, lines=lines)
                )
        if lines:
            item_buyers.append(_row(order, item_id=item_id, phone=order.buyer_phone, lines=lines))
    _add(sale_t, sales)
    _add(item_buyer_t, item_buyers)
    orders = bool(after) - bool(before)
    if orders:
        _add(buyer_t, [_row(order, unit_id=order.unit_id, day=day, phone=order.buyer_phone, orders=orders)])


def _columns(table) -> tuple[list[str], list[str]]:
    """(the primary key's column names, the counts' column names)."""
    return [column.name for column in table.primary_key], [column.name for column in table.columns if not column.primary_key]


def _row(order, **values) -> dict:
    return {"campaign_id": order.campaign_id, **values}


def _add(table, rows) -> None:
    """Upsert ``rows`` (in key order), adding their counts to the rows there."""
    if rows:
        db.session.execute(_upsert(table, db.session.get_bind().dialect.name), rows)


_UPSERTS = {}


def _upsert(table, dialect):
    """The table's upsert, built once per dialect (an order runs three; building one costs more than running it)."""
    if (table.name, dialect) not in _UPSERTS:
        insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        keys, counts = _columns(table)
        _UPSERTS[table.name, dialect] = insert.on_conflict_do_update(
            index_elements=keys, set_={name: table.c[name] + insert.excluded[name] for name in counts}
        )
    return _UPSERTS[table.name, dialect]


def drop_open_figures(campaign_id) -> None:
    """Forget a campaign's open figures, in the caller's transaction: the pooling (its figures are kept from then
    on) and the cancellation (nothing of it counts any more)."""
    for table in TABLES:
        db.session.execute(table.delete().where(table.c.campaign_id == campaign_id))


def open_figures_from_lines(campaign_id) -> dict:
    """One campaign's open figures recomputed from its lines: {table name: {primary key: counts}}, rows that count
    nothing left out (for the check, and for rebuilding)."""
    lines = sa.select().select_from(sold_lines_from()).where(*sold_lines_where(campaign_id))
    day = local_day(o.c.created_at)
    figures = {}
    for grouping, key in (("unit", sa.cast(o.c.unit_id, sa.String)), ("day", day)):
        query = lines.add_columns(
            ol.c.item_id, key, sa.func.sum(ol.c.quantity), sa.func.sum(fen(ol.c.quantity, ol.c.price_fen)), sa.func.count()
        ).group_by(ol.c.item_id, key)
        for item_id, group, quantity, revenue, count in db.session.execute(query):
            figures.setdefault("open_sale", {})[(campaign_id, item_id, grouping, iso_day(group))] = (
                int(quantity),
                int(revenue),
                count,
            )
    query = lines.add_columns(o.c.unit_id, day, o.c.buyer_phone, sa.func.count(sa.distinct(o.c.id))).group_by(
        o.c.unit_id, day, o.c.buyer_phone
    )
    for unit_id, group, phone, count in db.session.execute(query):
        figures.setdefault("open_buyer", {})[(campaign_id, unit_id, iso_day(group), phone)] = (count,)
    query = lines.add_columns(ol.c.item_id, o.c.buyer_phone, sa.func.count()).group_by(ol.c.item_id, o.c.buyer_phone)
    for item_id, phone, count in db.session.execute(query):
        figures.setdefault("open_item_buyer", {})[(campaign_id, item_id, phone)] = (count,)
    return figures


def kept_open_figures(campaign_id) -> dict:
    """One campaign's open figures as kept, in the shape of :func:`open_figures_from_lines` (rows counting nothing,
    which cancellations leave behind, left out)."""
    figures = {}
    for table in TABLES:
        keys, counts = _columns(table)
        query = sa.select(*(table.c[name] for name in keys + counts)).where(table.c.campaign_id == campaign_id)
        for row in db.session.execute(query):
            values = tuple(int(value) for value in row[len(keys) :])
            if any(values):
                figures.setdefault(table.name, {})[tuple(row[: len(keys)])] = values
    return figures


def rebuild_open_figures(campaign_id) -> None:
    """Rewrite one campaign's open figures from its lines, in the caller's transaction (nothing for a pooled one)."""
    drop_open_figures(campaign_id)
    status = db.session.scalar(sa.select(c.c.status).where(c.c.id == campaign_id))
    if status in POOLED:
        return
    tables = {table.name: table for table in TABLES}
    for name, rows in open_figures_from_lines(campaign_id).items():
        table = tables[name]
        keys, counts = _columns(table)
        db.session.execute(
            table.insert(),
            [{**dict(zip(keys, key, strict=True)), **dict(zip(counts, values, strict=True))} for key, values in rows.items()],
        )
