"""Which buyers a unit's sheet or grid locks before it writes; the locks themselves and their order are orders.locks'."""

import sqlalchemy as sa

from extensions import db
from orders import locks as orders_locks
from shop.models import CampaignItem


def lock_buyers(campaign_id, rows, item_ids) -> None:
    """Take the per-buyer locks the building block will ask for, all now and in key order, before any item lock.

    A single order takes its buyer's lock, then its items; a sheet that took items first and a buyer's lock
    later could wait on that order while it waits on the sheet. Re-taking a lock already held is immediate.
    Only buyers of items with a per-buyer limit are locked: the others' orders take no buyer lock either.
    """
    if not item_ids:
        return
    limited = set(
        db.session.scalars(
            sa.select(CampaignItem.id).where(CampaignItem.id.in_(sorted(item_ids)), CampaignItem.per_buyer_limit.is_not(None))
        )
    )
    orders_locks.lock_buyers(campaign_id, {row.phone for row in rows if limited & set(row.quantities)})
