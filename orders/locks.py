"""Every lock an order transaction takes, and the order they are taken in, so that none can deadlock another.

The order, for a single order, a change, a cancellation, a unit's sheet or grid alike:

1. the campaign row, shared (:func:`lock_open_campaign`): a close, an UPDATE of that row, waits for the orders in
   flight, and an order that comes after the close sees it closed;
2. the unit's sheet (:func:`lock_unit_sheet`), sheets and grids only;
3. buyers (:func:`lock_buyer`, :func:`lock_buyers`), in key order: one buyer's orders, changes and cancellations
   in one campaign take turns, so a per-buyer limit is checked against what that buyer already has;
4. items, in ascending id order: a single order locks each by its guarded capacity UPDATE
   (``orders.capacity.reserve``); a sheet locks all of its items first (:func:`lock_items`), with the same lock.

An operator's change to a running campaign (its times, items, supplies) takes the campaign row first too, for
update (:func:`lock_campaign_for_change`), then items and listings.

PostgreSQL takes row locks and transaction-scoped advisory locks (``pg_advisory_xact_lock(namespace, key)``, both
int4, the namespace one of :class:`LockNamespace`). SQLite has neither: there every one of these takes the
database's write lock (BEGIN IMMEDIATE, see database.begin_write) before anything it depends on is read.
"""

import enum
import zlib

import sqlalchemy as sa
from flask_babel import gettext as _

from database import begin_write, utcnow
from errors import CampaignNotOpen, Forbidden, NotFound
from extensions import db
from orders.lines import is_valid_id
from presentation import local_datetime
from shop.lifecycle import open_to_unit_clause, visible_to_buyers
from shop.models import Campaign, CampaignItem, CampaignStatus


class LockNamespace(enum.IntEnum):
    """The first int of every advisory lock Pinbang takes, one per kind of lock.

    Values are never reused or renumbered: a lock released by old code and taken by new code must mean the same.
    """

    BUYER = 1  # key: campaign and buyer phone
    UNIT_SHEET = 2  # key: campaign and unit
    SMS_CODES = 16  # key: a phone, then the client address (accounts.codes); never held with an order's locks


def _is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _int4(text) -> int:
    """A stable int4 for ``text``; two texts sharing one only make their holders take turns needlessly."""
    return zlib.crc32(text.encode()) - 2**31


def _advisory_lock(session, namespace: LockNamespace, key: int) -> None:
    session.execute(sa.select(sa.func.pg_advisory_xact_lock(int(namespace), key)))


# Built once, as the hot statements of an order are: SQLAlchemy then reuses its cache key and compiled form, where a
# statement built anew for every order has them derived again (costing more than running it).
_OPEN_CAMPAIGN = (
    sa.select(Campaign, open_to_unit_clause(sa.bindparam("unit_id")).label("open_to_unit"))
    .where(Campaign.id == sa.bindparam("campaign_id"))
    .with_for_update(read=True, of=Campaign)
    .execution_options(populate_existing=True)
)


def lock_open_campaign(campaign_id, unit_id=None) -> Campaign:
    """Start an order transaction: lock out a concurrent close, and check the campaign takes orders (from this unit).

    PostgreSQL: the campaign row is share-locked until the transaction ends (a close's UPDATE waits); SQLite: the
    write lock is taken first. The campaign is read afresh, whatever the session held.
    :param unit_id: the buyer's unit; None skips the unit check.
    :raises NotFound: no such campaign, or a draft.
    :raises CampaignNotOpen: before its opening time, after its closing time, or closed.
    :raises Forbidden: ``unit_id`` is not one of the campaign's units.
    """
    if not is_valid_id(campaign_id):
        raise NotFound(_("No such campaign."))
    session = db.session
    begin_write(session)
    row = session.execute(_OPEN_CAMPAIGN, {"campaign_id": campaign_id, "unit_id": unit_id or 0}).first()
    campaign = row[0] if row else None
    if campaign is None or not visible_to_buyers(campaign.status):
        raise NotFound(_("No such campaign."))
    now = utcnow()
    if campaign.status == CampaignStatus.CANCELLED:
        raise CampaignNotOpen(_("This campaign was cancelled: %(reason)s.", reason=campaign.cancel_reason))
    if campaign.status != CampaignStatus.PUBLISHED or now >= campaign.closes_at:
        raise CampaignNotOpen(_("Orders for this campaign closed at %(time)s.", time=local_datetime(campaign.closes_at)))
    if now < campaign.opens_at:
        raise CampaignNotOpen(_("Orders for this campaign open at %(time)s.", time=local_datetime(campaign.opens_at)))
    if unit_id is not None and not row.open_to_unit:
        raise Forbidden(_("This campaign is not open to your work unit."))
    return campaign


def buyer_key(campaign_id, buyer_phone) -> int:
    """The advisory key of one buyer in one campaign (namespace BUYER); :func:`lock_buyers` takes them in this order."""
    return _int4(f"{campaign_id}:{buyer_phone}")


def lock_buyer(campaign_id, buyer_phone) -> None:
    """Serialize one buyer's orders, changes and cancellations in one campaign until the transaction ends."""
    session = db.session
    if _is_postgresql(session):
        _advisory_lock(session, LockNamespace.BUYER, buyer_key(campaign_id, buyer_phone))
    else:
        begin_write(session)


def lock_buyers(campaign_id, buyer_phones) -> None:
    """Lock many buyers at once (a sheet), in key order: two sheets sharing people take them in the same order."""
    for phone in sorted(set(buyer_phones), key=lambda phone: buyer_key(campaign_id, phone)):
        lock_buyer(campaign_id, phone)


def lock_unit_sheet(campaign_id, unit_id) -> None:
    """One sheet or grid import per unit and campaign at a time."""
    session = db.session
    if _is_postgresql(session):
        _advisory_lock(session, LockNamespace.UNIT_SHEET, _int4(f"{campaign_id}:{unit_id}"))
    else:
        begin_write(session)


def lock_items(item_ids) -> None:
    """Lock items about to be reserved or released, in ascending id order, until the transaction ends.

    For a sheet, whose rows taken one after another would otherwise lock items in any order (row 1 wants item 3,
    row 2 item 1) and could deadlock with a single order. The lock is FOR NO KEY UPDATE, the one the capacity UPDATE
    itself takes: a plain FOR UPDATE would also wait for the key-share locks that other transactions' new order
    lines hold on their items (foreign key checks), while such an order waits for a buyer lock the sheet holds: the
    wait that deadlocked sheets with orders.
    """
    session = db.session
    if not item_ids:
        return
    if not _is_postgresql(session):
        begin_write(session)
        return
    items = CampaignItem.__table__
    query = sa.select(items.c.id).where(items.c.id.in_(sorted(item_ids))).order_by(items.c.id)
    session.execute(query.with_for_update(key_share=True))


def lock_campaign_for_change(campaign_id) -> Campaign | None:
    """An operator changing a running campaign (its times, items, supplies): the campaign row before anything else.

    FOR NO KEY UPDATE, as an UPDATE of the row takes: it waits for the orders in flight (they hold the row shared)
    and the orders after it wait for the change, while the foreign-key checks of new order rows are not blocked.
    The campaign is read afresh; None when there is none.
    """
    if not is_valid_id(campaign_id):
        return None
    session = db.session
    begin_write(session)
    query = sa.select(Campaign).where(Campaign.id == campaign_id).with_for_update(key_share=True)
    return session.scalar(query.execution_options(populate_existing=True))


def lock_campaign_for_delivery(campaign_id) -> Campaign | None:
    """Receipts, corrections and "all arrived" of a campaign take turns on its row (FOR NO KEY UPDATE).

    A receipt re-shares a unit's item over every producer's figures and may move the campaign to delivered, so
    two receipts of one campaign never both read the figures the other is changing. Deliveries are few (units ×
    producers), so the wait is short. The campaign is read afresh; None when there is none.
    """
    return lock_campaign_for_change(campaign_id)


def lock_sms_codes(phone, address) -> None:
    """Serialize asking for SMS codes per phone, then per client address, so the rate limits hold under concurrency.

    Always the phone first: no one holds an address's lock while waiting for a phone's.
    """
    session = db.session
    if _is_postgresql(session):
        _advisory_lock(session, LockNamespace.SMS_CODES, _int4(f"phone:{phone}"))
        if address:
            _advisory_lock(session, LockNamespace.SMS_CODES, _int4(f"address:{address}"))
    else:
        begin_write(session)
