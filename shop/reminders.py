"""Reminders before a campaign closes: to buyers of an item still short of its minimum total, and once per campaign to
everyone eligible who has not ordered; none to a person who turned reminders off.

Each reminder is recorded (:class:`shop.models.CampaignReminder`, unique per campaign, person and kind) in the
transaction that queues it, and only the rows that insert went in get a message: a rerun, a redelivered task or a
second beat sends nothing twice. Messages are in-app only, and each names what, which goods and what to do.
"""

from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

import after_commit
from accounts.models import User
from database import transaction, utcnow
from extensions import db
from notifications import running_campaigns
from notifications.models import Notification
from notifications.services import outbox_rows
from orders.models import Order, OrderLine
from shop.catalogue import absolute_url, short_url
from shop.lifecycle import takes_orders, taking_orders
from shop.models import Campaign, CampaignItem, CampaignReminder

# Where a person turns reminders off (accounts.reminders): every reminder ends with this link.
SETTINGS_PATH = "/accounts/reminders"
BELOW_MINIMUM, NOT_ORDERED = "below_minimum", "not_ordered"


def settings_url() -> str:
    return absolute_url(SETTINGS_PATH)


def campaigns_to_remind(now=None) -> list[int]:
    """Ids of the campaigns taking orders that close within REMINDER_HOURS_BEFORE_CLOSE of ``now``."""
    now = now or utcnow()
    soon = now + timedelta(hours=current_app.config["REMINDER_HOURS_BEFORE_CLOSE"])
    return list(
        db.session.scalars(sa.select(Campaign.id).where(taking_orders(now), Campaign.closes_at <= soon).order_by(Campaign.id))
    )


def send_campaign_reminders(now=None) -> int:
    """Beat's sweep: remind the buyers of every campaign closing soon (see :func:`remind_campaign`).

    :returns: how many people were newly reminded.
    """
    return sum(remind_campaign(campaign_id, now) for campaign_id in campaigns_to_remind(now))


def remind_campaign(campaign_id, now=None) -> int:
    """Queue the reminders of one campaign still taking orders: to each buyer of an item below its minimum total
    (one message naming those items), and to each eligible person who has not ordered. Each person gets each kind
    once per campaign; safe to run again and from several workers at once.

    :param campaign_id: the campaign's id.
    :returns: how many people were newly reminded (0 for a campaign that no longer takes orders).
    """
    with transaction(write=True):
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None or not takes_orders(campaign, now):
            return 0
        told = _remind_below_minimum(campaign) + _remind_not_ordered(campaign)
        if told:
            after_commit.dispatch_notifications()
    return told


def _wants_reminders(campaign, kind):
    """Active people who keep reminders on and have not had this kind for this campaign."""
    had = sa.exists().where(
        CampaignReminder.campaign_id == campaign.id, CampaignReminder.user_id == User.id, CampaignReminder.kind == kind
    )
    return sa.and_(User.active.is_(True), User.campaign_reminders.is_(True), ~had)


def _remind_below_minimum(campaign) -> int:
    short = db.session.scalars(
        sa.select(CampaignItem).where(
            CampaignItem.campaign_id == campaign.id,
            CampaignItem.min_total.is_not(None),
            CampaignItem.ordered < CampaignItem.min_total,
        )
    ).all()
    if not short:
        return 0
    items = {item.id: item for item in short}
    rows = db.session.execute(
        sa.select(User, OrderLine.item_id)
        .join(Order, Order.user_id == User.id)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.campaign_id == campaign.id,
            Order.stored_status != "cancelled",
            OrderLine.cancelled.is_(False),
            OrderLine.item_id.in_(list(items)),
            _wants_reminders(campaign, BELOW_MINIMUM),
        )
        .order_by(User.id, OrderLine.item_id)
    ).all()
    per_user, users = defaultdict(set), {}
    for user, item_id in rows:
        users[user.id] = user
        per_user[user.id].add(item_id)
    link = settings_url()
    texts = {}
    for user_id in _record(campaign.id, BELOW_MINIMUM, users):
        shown = [items[item_id] for item_id in sorted(per_user[user_id])]
        texts[user_id] = running_campaigns.below_minimum_reminder(
            campaign, [(item.title, item.ordered, item.min_total, item.unit) for item in shown], link
        )
    return _queue("reminder_below_minimum", campaign, users, texts)


def _remind_not_ordered(campaign) -> int:
    ordered = sa.exists().where(
        Order.campaign_id == campaign.id,
        Order.stored_status != "cancelled",
        sa.or_(Order.user_id == User.id, Order.buyer_phone == User.phone),
    )
    query = sa.select(User).where(
        User.role == "buyer", User.unit_id.is_not(None), ~ordered, _wants_reminders(campaign, NOT_ORDERED)
    )
    if campaign.units:
        query = query.where(User.unit_id.in_([unit.id for unit in campaign.units]))
    users = {user.id: user for user in db.session.scalars(query.order_by(User.id))}
    if not users:
        return 0
    titles = [item.title for item in campaign.items if item.remaining > 0] or [item.title for item in campaign.items]
    text = running_campaigns.not_ordered_reminder(campaign, titles, short_url(campaign), settings_url())
    return _queue("reminder_not_ordered", campaign, users, dict.fromkeys(_record(campaign.id, NOT_ORDERED, users), text))


def _record(campaign_id, kind, user_ids) -> list[int]:
    """Record the reminders about to be sent; returns the people whose row went in (a concurrent run's rows win)."""
    if not user_ids:
        return []
    table = CampaignReminder.__table__
    insert = postgresql.insert if db.session.connection().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(table.c.user_id)
    now = utcnow()
    values = [{"campaign_id": campaign_id, "user_id": user_id, "kind": kind, "sent_at": now} for user_id in sorted(user_ids)]
    return sorted(db.session.scalars(statement, values))


def _queue(kind, campaign, users, texts) -> int:
    """The in-app messages of the people just recorded (``texts``: user id → (title, body))."""
    if not texts:
        return 0
    notices = [{"user": users[user_id], "title": title, "body": body} for user_id, (title, body) in sorted(texts.items())]
    rows = outbox_rows(kind=kind, subject=f"campaign:{campaign.id}", messages=notices, inapp_only=True)
    if rows:
        db.session.execute(sa.insert(Notification.__table__), rows)
    return len(texts)
