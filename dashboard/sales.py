"""What counts as a sale, and the SQL pieces every dashboard figure is built from.

What counts as a sale: a non-cancelled order line of a non-cancelled order in a campaign buyers can see (not a
draft). Lines dropped at close because their item missed its minimum total are cancelled lines
(``cancel_reason = "below_minimum"``) and so never count.

Attribution to producers (and so to towns and to poverty households): once a campaign is pooled
(status allocated, delivered or settled) a sale belongs to the producers its item was allocated to,
in the allocated quantities; before that it is shown apart as "not yet allocated", never guessed.
A producer is *reached* when it has a positive allocation in a pooled campaign, or, before pooling,
when it supplies an item that has sales.
"""

from datetime import UTC, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from database import local_zone, utcnow
from errors import NotFound, ValidationFailed
from extensions import db
from fulfilment.models import Allocation
from measures import kg_decimal
from orders.models import Order, OrderLine
from producers.models import Producer
from shop.lifecycle import POOLED, visible_to_buyers
from shop.models import Campaign, CampaignItem, Supply

GROUPINGS = ("product", "producer", "town", "unit", "day", "campaign")
UNALLOCATED = "unallocated"
THROUGH_KINDS = ("cooperative", "enterprise")

ol = OrderLine.__table__
o = Order.__table__
c = Campaign.__table__
ci = CampaignItem.__table__
a = Allocation.__table__
s = Supply.__table__
p = Producer.__table__
u = Unit.__table__


def fen(quantity, price):
    # quantity × price can pass 2^31 fen on one line; multiply in 64 bits.
    return sa.cast(quantity, sa.BigInteger) * price


def grams(quantity, unit_weight):
    return sa.cast(quantity, sa.BigInteger) * sa.func.coalesce(unit_weight, 0)


def whole(value) -> int:
    """A sum SQL returned (None when nothing was summed) as an int."""
    return int(value or 0)


def sold_lines_from():
    return ol.join(o, o.c.id == ol.c.order_id).join(c, c.c.id == o.c.campaign_id).join(ci, ci.c.id == ol.c.item_id)


def in_scope(column, campaign_id):
    """A campaign id column restricted to one campaign (an id) or several (a tuple of ids, for the campaigns whose
    figures are not kept, see dashboard.kept_reading); None when every campaign counts."""
    if campaign_id is None:
        return None
    return column.in_(campaign_id) if isinstance(campaign_id, tuple) else column == campaign_id


def sold_lines_where(campaign_id=None):
    """The conditions that make an order line a sale (see the module docstring)."""
    conditions = [sa.not_(ol.c.cancelled), o.c.status != "cancelled", visible_to_buyers(c.c.status)]
    if campaign_id is not None:
        conditions.append(in_scope(o.c.campaign_id, campaign_id))
    return conditions


def pooled_allocations(campaign_id=None):
    """Allocation rows that attribute sales: positive quantities in pooled campaigns."""
    query = (
        sa.select(a.c.item_id, a.c.producer_id, a.c.quantity, a.c.campaign_id)
        .select_from(a.join(c, c.c.id == a.c.campaign_id))
        .where(c.c.status.in_(POOLED), a.c.quantity > 0)
    )
    if campaign_id is not None:
        query = query.where(in_scope(a.c.campaign_id, campaign_id))
    return query


def local_day(column):
    """The local calendar day (database.local_zone()) of a UTC timestamp column, as SQL.

    The column is shifted by the zone's offset from UTC now. Asia/Shanghai has kept UTC+8 with no daylight saving
    since 1991, so that is its calendar day; in a zone with daylight saving, orders placed on the other side of a
    change would land an hour off.
    """
    minutes = _offset_minutes()
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(column + sa.literal_column(f"INTERVAL '{minutes} minutes'", sa.Interval), sa.Date)
    return sa.func.date(column, sa.literal_column(f"'{minutes:+d} minutes'"))


def _offset_minutes() -> int:
    return int(utcnow().astimezone(local_zone()).utcoffset().total_seconds() // 60)


def local_day_of(moment) -> str:
    """:func:`local_day` of one UTC time, in Python, as YYYY-MM-DD (the same shift, so the same day)."""
    return (moment.astimezone(UTC).replace(tzinfo=None) + timedelta(minutes=_offset_minutes())).date().isoformat()


def iso_day(value) -> str:
    """A day from SQL (a date on PostgreSQL, text on SQLite) as YYYY-MM-DD."""
    return value if isinstance(value, str) else value.isoformat()


def line_measures():
    """Quantity, revenue, weight, orders and buyers of the sold lines in a group."""
    return [
        sa.func.sum(ol.c.quantity).label("quantity"),
        sa.func.sum(fen(ol.c.quantity, ol.c.price_fen)).label("revenue_fen"),
        sa.func.sum(grams(ol.c.quantity, ci.c.unit_weight_g)).label("weight_g"),
        sa.func.sum(sa.case((ci.c.unit_weight_g.is_(None), ol.c.quantity), else_=0)).label("unweighed"),
        sa.func.count(sa.distinct(o.c.id)).label("orders"),
        sa.func.count(sa.distinct(o.c.buyer_phone)).label("buyers"),
        sa.func.min(ci.c.unit).label("unit_min"),
        sa.func.max(ci.c.unit).label("unit_max"),
    ]


def figures_row(key, label, measures, **extra):
    """One row of a table: the measures of :func:`line_measures` (or the same names) as plain values."""
    single_unit = measures["unit_min"] is not None and measures["unit_min"] == measures["unit_max"]
    weight = whole(measures["weight_g"])
    return {
        "key": str(key),
        "label": label,
        # Quantities in different sale units (只 and 个) do not add up: only a single-unit row has one.
        "quantity": whole(measures["quantity"]) if single_unit else None,
        "unit": measures["unit_min"] if single_unit else None,
        "weight_g": weight,
        "weight_kg": kg_decimal(weight),
        "units_without_weight": whole(measures["unweighed"]),
        "revenue_fen": whole(measures["revenue_fen"]),
        "orders": whole(measures["orders"]),
        "buyers": whole(measures["buyers"]),
        **extra,
    }


def check_group_by(group_by):
    """:raises ValidationFailed: not one of GROUPINGS."""
    if group_by not in GROUPINGS:
        raise ValidationFailed(
            _("Please correct the marked fields."), {"group_by": [_("Choose one of: %(choices)s.", choices=", ".join(GROUPINGS))]}
        )


def get_campaign(campaign_id) -> Campaign:
    """:raises NotFound: no such campaign."""
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def reported_campaigns():
    """Campaigns whose sales count, newest first (for choosers and the per-campaign table)."""
    return db.session.scalars(
        sa.select(Campaign).where(visible_to_buyers(Campaign.status)).order_by(Campaign.opens_at.desc(), Campaign.id.desc())
    ).all()
