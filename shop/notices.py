"""The campaign's own notices, rendered per recipient after the commit; the worker hands RENDERERS to the fan-out.

Each renderer takes (campaign_id, after, limit) and returns (message dicts for notifications.services.outbox_rows,
the last recipient's id), or ([], None) when no recipient is left after ``after``; the texts are in
notifications.messages.
"""

import sqlalchemy as sa

from accounts.models import User
from extensions import db
from notifications import running_campaigns
from orders.models import Order, OrderLine
from shop.cancellation import CANCEL_REASON
from shop.models import Campaign

order_t = Order.__table__
line_t = OrderLine.__table__


def cancelled_campaign_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To the buyer of every order the campaign's cancellation took (a colleague without an account: the coordinator
    who ordered), once each, in recipient id order after ``after``."""
    recipient = sa.func.coalesce(order_t.c.user_id, order_t.c.placed_by_id)
    took = sa.exists().where(line_t.c.order_id == order_t.c.id, line_t.c.cancel_reason == CANCEL_REASON)
    ids = db.session.scalars(
        sa.select(recipient)
        .where(order_t.c.campaign_id == campaign_id, took, recipient > after)
        .distinct()
        .order_by(recipient)
        .limit(limit)
    ).all()
    if not ids:
        return [], None
    campaign = db.session.get(Campaign, campaign_id)
    title, body, sms = running_campaigns.campaign_cancelled_to_buyer(campaign)
    users = db.session.scalars(sa.select(User).where(User.id.in_(ids)).order_by(User.id)).all()
    return [{"user": user, "title": title, "body": body, "sms_body": sms} for user in users], ids[-1]


RENDERERS = {"campaign_cancelled": cancelled_campaign_notices}
