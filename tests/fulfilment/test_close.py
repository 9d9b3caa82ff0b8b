"""Closing a campaign: below-minimum cancellation, the fair split in the database, notifications once, crash safety."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from database import local_today, utcnow
from errors import Conflict, NotFound
from extensions import db
from factories import make_campaign, make_pooling_campaign, make_pooling_people, make_user, pooling_state
from fulfilment import closing, picklists
from fulfilment.models import Allocation
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from orders.models import Order, OrderLine
from racing import run_at_once
from shop.models import Campaign, Supply


def _notifications(campaign_id, **where):
    query = sa.select(Notification).where(Notification.subject == f"campaign:{campaign_id}")
    for key, value in where.items():
        query = query.where(getattr(Notification, key) == value)
    return db.session.scalars(query.order_by(Notification.id)).all()


@pytest.fixture
def people(app):
    return make_pooling_people()


def test_close_splits_demand_fairly_and_delivers_with_few_trips(people):
    s = make_pooling_campaign(people)
    union, women, _ = people.units

    assert closing.close_campaign(s.campaign.id) == "allocated"

    state = pooling_state(s.campaign.id)
    assert state["campaign"] == ("allocated", True, True)
    # 67 chickens over 100 + 30: 51.5 and 15.5 → the cooperative's larger remainder (.54 vs .46) takes the last one.
    assert state["allocations"] == sorted(
        [
            ("雪毛鸡", people.coop.id, 52, ((union.id, 40), (women.id, 12))),
            ("雪毛鸡", people.poor.id, 15, ((women.id, 15),)),
            # poor_first: the poor household's 10 bottles go first, the cooperative gets the other 2.
            ("蜂蜜", people.coop.id, 2, ((union.id, 2),)),
            ("蜂蜜", people.poor.id, 10, ((union.id, 2), (women.id, 8))),
        ]
    )
    assert ("鸡蛋", people.eggs.id, 1000, 0) in state["supplies"]
    assert ("雪毛鸡", people.coop.id, 100, 52) in state["supplies"]


def test_items_below_minimum_are_cancelled_and_their_buyers_told_once(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    db.session.expire_all()

    assert (s.eggs.ordered, s.eggs.cancelled_below_minimum) == (0, True)
    egg_lines = db.session.scalars(sa.select(OrderLine).where(OrderLine.item_id == s.eggs.id)).all()
    assert {(line.cancelled, line.cancel_reason) for line in egg_lines} == {(True, "below_minimum")}
    orders = {(o.user_id, o.status): o for o in db.session.scalars(sa.select(Order).where(Order.campaign_id == s.campaign.id))}
    # Liu ordered only eggs: the whole order is cancelled. Wang keeps the rest, and pays only for it.
    assert (people.liu.id, "cancelled") in orders
    assert orders[(people.liu.id, "cancelled")].cancelled_at is not None
    assert orders[(people.wang.id, "allocated")].cancelled_at is None
    assert orders[(people.wang.id, "allocated")].total_fen == 30 * 9800 + 4 * 6800

    # Their notices are rendered by the worker right after the close commits, from the lines it cancelled.
    assert _notifications(s.campaign.id, kind="below_minimum") == []
    expand_fanouts(RENDERERS)
    told = _notifications(s.campaign.id, kind="below_minimum", channel="inapp")
    assert [n.recipient for n in told] == [f"user:{people.wang.id}", f"user:{people.liu.id}"]
    assert told[0].body == "“春季消费扶贫”中以下商品订购量未达成团数量，无法成团：鸡蛋 × 60个。这些订购已取消，不会收费。"


def test_orders_are_allocated_and_cancelled_ones_never_count(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    orders = db.session.scalars(sa.select(Order).where(Order.campaign_id == s.campaign.id).order_by(Order.id)).all()
    assert [o.status for o in orders] == ["allocated", "allocated", "cancelled", "cancelled", "allocated", "allocated"]
    # The same in queries: "allocated" is a placed order of a pooled campaign, never a rewritten row.
    allocated = sa.select(Order.id).where(Order.campaign_id == s.campaign.id, Order.status == "allocated").order_by(Order.id)
    assert db.session.scalars(allocated).all() == [o.id for o in orders if o.status == "allocated"]
    assert db.session.scalars(sa.select(Order.id).where(Order.campaign_id == s.campaign.id, Order.status == "placed")).all() == []
    # Zhang's cancelled line of 2 honey and Liu's cancelled order of 50 chickens are not in the split.
    assert db.session.scalar(sa.select(sa.func.sum(Allocation.quantity)).where(Allocation.item_id == s.honey.id)) == 12
    assert db.session.scalar(sa.select(sa.func.sum(Allocation.quantity)).where(Allocation.item_id == s.chicken.id)) == 67


def test_every_producer_hears_exactly_once_through_each_channel(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    # The close queues the producers' notices as fan-out rows; the worker renders them right after it commits.
    assert _notifications(s.campaign.id, kind="picklist") == []
    expand_fanouts(RENDERERS)
    assert expand_fanouts(RENDERERS) == 0

    coop = _notifications(s.campaign.id, recipient=f"producer:{people.coop.id}")
    assert sorted(n.channel for n in coop) == ["email", "inapp", "sms"]
    assert {n.kind for n in coop} == {"picklist"}
    inapp = next(n for n in coop if n.channel == "inapp")
    date = f"{s.campaign.delivery_on.year}年{s.campaign.delivery_on.month}月{s.campaign.delivery_on.day}日"
    union, women, _ = people.units
    assert inapp.title == "备货通知：春季消费扶贫"
    assert inapp.body == (
        f"秀水镇雪毛鸡合作社：“春季消费扶贫”活动已截止，请于{date}前备好：雪毛鸡 × 52只，送往：{union.name} 40只（{union.address}），"
        f"{women.name} 12只（{women.address}）；蜂蜜 × 2瓶，送往：{union.name} 2瓶（{union.address}）。"
    )
    assert [n.channel for n in _notifications(s.campaign.id, recipient=f"producer:{people.poor.id}")] == ["inapp", "sms"]
    nothing = _notifications(s.campaign.id, recipient=f"producer:{people.eggs.id}")
    assert {(n.kind, n.channel) for n in nothing} == {("no_allocation", "inapp"), ("no_allocation", "sms")}
    assert "本次您供应的鸡蛋暂未分到订单" in nothing[0].body


def test_buyers_hear_their_order_is_on_its_way_and_a_coordinator_hears_for_a_colleague(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    # The close queues one fan-out row; the worker expands it into each buyer's messages right after.
    assert _notifications(s.campaign.id, kind="order_allocated") == []
    assert expand_fanouts(RENDERERS) == 3 + 2 + 3  # and the two below-minimum notices, and the three producers
    assert expand_fanouts(RENDERERS) == 0
    told = _notifications(s.campaign.id, kind="order_allocated")
    assert sorted((n.recipient, n.channel) for n in told) == sorted(
        [
            (f"user:{people.wang.id}", "inapp"),
            (f"user:{people.wang.id}", "email"),
            (f"user:{people.zhang.id}", "inapp"),
            (f"user:{people.chen.id}", "inapp"),
        ]
    )
    assert told[0].title == "您在“春季消费扶贫”的订购已成团"


def test_closing_again_changes_nothing_and_sends_nothing_twice(people):
    s = make_pooling_campaign(people)
    assert closing.close_campaign(s.campaign.id) == "allocated"
    first = pooling_state(s.campaign.id)
    assert closing.close_campaign(s.campaign.id) == "already_done"
    assert pooling_state(s.campaign.id) == first


def test_a_campaign_not_yet_due_is_left_open(people):
    s = make_pooling_campaign(people, closes_in=timedelta(hours=1))
    assert closing.close_campaign(s.campaign.id) == "not_due"
    assert pooling_state(s.campaign.id)["campaign"] == ("published", False, False)
    assert closing.campaigns_to_close() == []


@pytest.mark.parametrize("killed_after", closing.STEPS)
def test_a_run_that_dies_half_way_and_runs_again_ends_like_one_clean_run(people, killed_after):
    clean = make_pooling_campaign(people)
    crashed = make_pooling_campaign(people)
    closing.close_campaign(clean.campaign.id)
    before = pooling_state(crashed.campaign.id)

    def die(_app, campaign_id, step):
        if step == killed_after:
            raise RuntimeError(f"killed after {step}")

    with closing.close_step_done.connected_to(die), pytest.raises(RuntimeError):
        closing.close_campaign(crashed.campaign.id)
    # Either nothing happened yet, or only the close itself: orders stop, nothing else is written.
    half = pooling_state(crashed.campaign.id)
    assert half["campaign"] == ("closed", True, False)
    assert {k: v for k, v in half.items() if k != "campaign"} == {k: v for k, v in before.items() if k != "campaign"}
    assert closing.campaigns_to_close() == [crashed.campaign.id]

    assert closing.close_campaign(crashed.campaign.id) == "allocated"
    assert pooling_state(crashed.campaign.id) == pooling_state(clean.campaign.id)
    # And so do the notices rendered after the commit.
    expand_fanouts(RENDERERS)
    assert pooling_state(crashed.campaign.id) == pooling_state(clean.campaign.id)


def test_two_close_jobs_at_once_pool_the_campaign_once(app, people):
    s = make_pooling_campaign(people)
    campaign_id = s.campaign.id
    outcomes, errors = run_at_once(app, lambda: closing.close_campaign(campaign_id))
    assert errors == []
    assert sorted(outcomes)[0] == "allocated" and outcomes.count("allocated") == 1
    results, errors = run_at_once(app, lambda: expand_fanouts(RENDERERS))  # two workers expanding the fan-outs at once
    assert errors == [] and sum(results) == 3 + 2 + 3
    assert len(_notifications(campaign_id, recipient=f"producer:{people.coop.id}")) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Allocation).where(Allocation.campaign_id == campaign_id)) == 4


def test_an_operator_closes_early_and_orders_stop_at_once(app, people):
    operator = make_user(role="operator")
    s = make_pooling_campaign(people, closes_in=timedelta(days=1))
    campaign = closing.request_close(operator, s.campaign.id)
    db.session.expire_all()
    campaign = db.session.get(Campaign, s.campaign.id)
    assert campaign.status == "closed"
    assert campaign.closes_at <= utcnow()
    assert closing.campaigns_to_close() == [campaign.id]
    # Again: nothing changes and no error.
    assert closing.request_close(operator, s.campaign.id).status == "closed"


def test_only_a_published_campaign_that_has_opened_can_be_closed(app):
    operator = make_user(role="operator")
    draft = make_campaign(status="draft")
    later = make_campaign(opens_in=timedelta(hours=2), closes_in=timedelta(days=2))
    with pytest.raises(Conflict):
        closing.request_close(operator, draft.id)
    with pytest.raises(Conflict):
        closing.request_close(operator, later.id)
    with pytest.raises(NotFound):
        closing.request_close(operator, 999_999)
    assert db.session.get(Campaign, later.id).status == "published"


def test_a_campaign_without_orders_tells_its_producers_there_is_nothing_this_time(people):
    campaign = make_campaign(closes_in=timedelta(minutes=-5))
    from factories import make_item, make_listing

    make_item(campaign, [(make_listing(people.coop, name="大米", unit="袋"), 50)])
    assert closing.close_campaign(campaign.id) == "allocated"
    expand_fanouts(RENDERERS)
    kinds = {(n.recipient, n.kind) for n in _notifications(campaign.id)}
    assert kinds == {(f"producer:{people.coop.id}", "no_allocation")}
    assert db.session.scalars(
        sa.select(Supply.allocated).join(Supply.item).where(Supply.item.has(campaign_id=campaign.id))
    ).all() == [0]


def test_delivery_reminders_go_the_day_before_and_only_once(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    campaign = db.session.get(Campaign, s.campaign.id)
    # Pooled days ago, delivering tomorrow (Shanghai time).
    campaign.allocated_at = utcnow() - timedelta(days=3)
    campaign.delivery_on = local_today() + timedelta(days=1)
    db.session.commit()

    assert picklists.send_delivery_reminders() == 2
    assert picklists.send_delivery_reminders() == 0
    reminders = _notifications(s.campaign.id, kind="delivery_reminder", channel="inapp")
    assert [n.recipient for n in reminders] == [f"producer:{people.coop.id}", f"producer:{people.poor.id}"]
    assert reminders[0].body.startswith("秀水镇雪毛鸡合作社：提醒您，“春季消费扶贫”明天")
    assert "雪毛鸡 × 52只；蜂蜜 × 2瓶。" in reminders[0].body


def test_no_reminder_for_a_delivery_that_is_not_tomorrow(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    campaign = db.session.get(Campaign, s.campaign.id)
    campaign.allocated_at = utcnow() - timedelta(days=3)
    campaign.delivery_on = local_today() + timedelta(days=2)
    db.session.commit()
    assert picklists.send_delivery_reminders() == 0


def test_what_no_one_ordered_goes_back_to_the_listings_for_the_next_campaign(people):
    from producers.models import Listing

    s = make_pooling_campaign(people)
    listings = {
        (supply.item.title, supply.producer_id): supply.listing
        for item in (s.chicken, s.eggs, s.honey)
        for supply in item.supplies
    }
    # The poor household's chickens were all offered to this campaign: sold out until the close.
    poor_chickens = listings[("雪毛鸡", people.poor.id)]
    poor_chickens.quantity, poor_chickens.status = poor_chickens.quantity_committed, "sold_out"
    db.session.commit()

    closing.close_campaign(s.campaign.id)

    def committed():
        db.session.expire_all()
        return {
            key: (db.session.get(Listing, listing.id).quantity_committed, db.session.get(Listing, listing.id).status)
            for key, listing in listings.items()
        }

    after = committed()
    assert after == {
        ("雪毛鸡", people.coop.id): (52, "approved"),
        ("雪毛鸡", people.poor.id): (15, "approved"),  # 15 of its 30 back: it can offer them again
        ("鸡蛋", people.eggs.id): (0, "approved"),  # below minimum: everything back
        ("蜂蜜", people.coop.id): (2, "approved"),
        ("蜂蜜", people.poor.id): (10, "approved"),
    }
    assert closing.close_campaign(s.campaign.id) == "already_done"
    assert committed() == after


def test_notices_keep_tabs_newlines_and_backslashes_exactly(people):
    # Rendered after the close and written in bulk (arrays on PostgreSQL): nothing may be escaped twice or lost.
    people.coop.name = "秀水镇\\雪毛鸡\t合作社\n二队"
    db.session.commit()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)
    body = _notifications(s.campaign.id, recipient=f"producer:{people.coop.id}", channel="inapp")[0].body
    assert body.startswith("秀水镇\\雪毛鸡\t合作社\n二队：“春季消费扶贫”活动已截止")
