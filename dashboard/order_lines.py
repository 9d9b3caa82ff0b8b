"""Every sold order line as a table (the biggest export: a year of a province's lines), read in chunks by id."""

import sqlalchemy as sa
from flask_babel import gettext as _

from dashboard.sales import c, ci, fen, o, ol, sold_lines_from, sold_lines_where, u
from extensions import db
from presentation import local_datetime

# Lines fetched per query: each chunk is one short query on the primary key, so progress can be saved between them.
CHUNK = 2000


def _lines_query(campaign_id):
    return (
        sa.select(
            ol.c.id,
            c.c.title.label("campaign"),
            o.c.id.label("order_id"),
            o.c.created_at,
            u.c.name.label("unit_name"),
            o.c.buyer_name,
            o.c.buyer_phone,
            ci.c.title.label("item"),
            ol.c.quantity,
            ci.c.unit.label("sale_unit"),
            ol.c.price_fen,
            fen(ol.c.quantity, ol.c.price_fen).label("amount_fen"),
            o.c.payment_status,
        )
        .select_from(sold_lines_from().join(u, u.c.id == o.c.unit_id))
        .where(*sold_lines_where(campaign_id))
        .order_by(ol.c.id)
    )


def count_lines(campaign_id=None) -> int:
    """How many sold lines the table has (one campaign's, or every campaign's when None)."""
    query = sa.select(sa.func.count()).select_from(sold_lines_from()).where(*sold_lines_where(campaign_id))
    return int(db.session.scalar(query) or 0)


def _rows(campaign_id, progress):
    total = count_lines(campaign_id) if progress else None
    query, last_id, done = _lines_query(campaign_id), 0, 0
    paid, unpaid = _("paid"), _("unpaid")
    while True:
        chunk = db.session.execute(query.where(ol.c.id > last_id).limit(CHUNK)).all()
        for row in chunk:
            yield {
                **row._mapping,
                "created_at": local_datetime(row.created_at),
                "payment": paid if row.payment_status == "paid" else unpaid,
            }
        if len(chunk) < CHUNK:
            return
        last_id, done = chunk[-1].id, done + len(chunk)
        if progress:
            progress(done, total)


def order_lines(args):
    """The export table of sold order lines (see dashboard.exports.TABLES).

    :param args: campaign_id (None: every campaign); ``progress``, if given, is called with (lines done, lines in all)
        between chunks, by a background export.
    """
    columns = [
        ("campaign", _("Campaign"), "text"),
        ("order_id", _("Order"), "int"),
        ("created_at", _("Ordered at"), "text"),
        ("unit_name", _("Work unit"), "text"),
        ("buyer_name", _("Full name"), "text"),
        ("buyer_phone", _("Phone"), "text"),
        ("item", _("Item"), "text"),
        ("quantity", _("Quantity"), "int"),
        ("sale_unit", _("Sale unit"), "text"),
        ("price_fen", _("Unit price (yuan)"), "yuan"),
        ("amount_fen", _("Amount (yuan)"), "yuan"),
        ("payment", _("Payment"), "text"),
    ]
    return _("Order lines"), columns, _rows(args.get("campaign_id"), args.get("progress"))
