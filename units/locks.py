"""The locks a unit's sheet or grid takes before it writes, all up front and in a fixed order (PostgreSQL).

SQLite writers already take turns (database.begin_write), so on SQLite these return at once.
"""

import hashlib
import zlib

import sqlalchemy as sa

from extensions import db
from orders.services import lock_buyer
from shop.models import CampaignItem

_item_table = CampaignItem.__table__


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock_unit_sheet(campaign_id, unit_id) -> None:
    """One sheet import per unit and campaign at a time."""
    if not _postgresql():
        return
    digest = hashlib.sha256(f"pinbang:group-sheet:{campaign_id}:{unit_id}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lock_buyers(campaign_id, rows, item_ids) -> None:
    """Take the per-buyer locks the building block will ask for, all now and in key order, before any item lock.

    A single order takes its buyer's lock, then its items; a sheet that took items first and a buyer's lock
    later could wait on that order while it waits on the sheet. Re-taking a lock already held is immediate.
    """
    if not item_ids or not _postgresql():
        return
    limited = set(
        db.session.scalars(
            sa.select(CampaignItem.id).where(CampaignItem.id.in_(sorted(item_ids)), CampaignItem.per_buyer_limit.is_not(None))
        )
    )
    phones = {row.phone for row in rows if limited & set(row.quantities)}
    for phone in sorted(phones, key=lambda p: zlib.crc32(p.encode())):
        lock_buyer(campaign_id, phone)


def lock_items(item_ids) -> None:
    """Lock every item the sheet reserves or releases, in ascending id order, before touching any.

    The placement building block updates one order's items in ascending order, but a sheet's rows taken one
    after another would lock them in any order (row 1 wants item 3, row 2 item 1) and could deadlock with a
    single order; taking them all up front, in the same order single orders use, cannot. It also keeps what
    is left of each item as checked until the sheet commits.

    FOR NO KEY UPDATE, the lock the capacity UPDATE itself takes: a plain FOR UPDATE would also wait for the
    key-share locks a single order's lines take on their items (foreign key checks) before that order waits
    for a buyer lock this sheet already holds, a deadlock.
    """
    if not item_ids or not _postgresql():
        return
    query = sa.select(_item_table.c.id).where(_item_table.c.id.in_(sorted(item_ids))).order_by(_item_table.c.id)
    db.session.execute(query.with_for_update(key_share=True))
