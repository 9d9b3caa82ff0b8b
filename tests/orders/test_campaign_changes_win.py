"""Whatever changes in a campaign between two orders (price, title, withdrawal, close, units, limit, stock), the next
order sees the database as it is now: nothing of the first order's campaign is carried over to the second."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_campaign, make_item, make_listing, make_unit, make_user
from notifications.models import Notification
from orders.models import Order, OrderLine
from shop.models import CampaignItem, campaign_unit


@pytest.fixture
def ordered_once(api_as):
    """An open campaign with eggs, and a buyer who has already ordered one."""
    campaign = make_campaign(title="春季消费扶贫")
    eggs = make_item(campaign, [(make_listing(quantity=100), 10)], title="土鸡蛋", price_fen=150)
    buyer = make_user()
    client = api_as(buyer)
    first = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    assert first.status_code == 201, first.get_json()
    return campaign, eggs, buyer, client


def order(client, campaign, item, quantity=1):
    return client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": quantity}]})


def saved():
    db.session.expire_all()
    orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
    lines = db.session.scalar(sa.select(sa.func.count()).select_from(OrderLine))
    return orders, lines, db.session.scalar(sa.select(sa.func.sum(CampaignItem.ordered)))


def test_a_changed_price_and_title_are_what_the_next_order_snapshots_and_confirms(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    eggs.price_fen, eggs.title = 180, "散养土鸡蛋"
    campaign.title = "秋季消费扶贫"
    db.session.commit()
    response = order(client, campaign, eggs, 2)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["total_fen"] == 360 and body["lines"][0]["price_fen"] == 180
    confirmation = db.session.scalars(
        sa.select(Notification).where(Notification.subject == f"order:{body['id']}:placed", Notification.channel == "inapp")
    ).one()
    assert confirmation.title == f"预订单 {body['number']} 已确认"
    assert confirmation.body.startswith("秋季消费扶贫：散养土鸡蛋 × 2个。合计 ¥3.60")


def test_an_item_withdrawn_since_is_refused(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    eggs.cancelled_below_minimum = True
    db.session.commit()
    before = saved()
    response = order(client, campaign, eggs)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_error"
    assert "土鸡蛋" in response.get_json()["error"]["details"]["fields"]["lines"][0]
    assert saved() == before


def test_a_campaign_closed_or_moved_since_takes_no_order(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    before = saved()
    campaign.closes_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert order(client, campaign, eggs).get_json()["error"]["code"] == "campaign_not_open"
    campaign.closes_at, campaign.status = utcnow() + timedelta(days=1), "closed"
    db.session.commit()
    assert order(client, campaign, eggs).get_json()["error"]["code"] == "campaign_not_open"
    assert saved() == before


def test_a_campaign_restricted_since_to_another_unit_refuses_the_buyer(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    before = saved()
    db.session.execute(sa.insert(campaign_unit).values(campaign_id=campaign.id, unit_id=make_unit().id))
    db.session.commit()
    response = order(client, campaign, eggs)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert saved() == before


def test_a_per_buyer_limit_set_since_is_enforced(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    eggs.per_buyer_limit = 2
    db.session.commit()
    assert order(client, campaign, eggs).status_code == 201
    refused = order(client, campaign, eggs)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "limit_exceeded"
    assert refused.get_json()["error"]["details"]["may_order"] == 0
    assert saved()[0] == 2


def test_what_is_left_is_counted_at_the_moment_of_the_order(ordered_once):
    campaign, eggs, _buyer, client = ordered_once
    assert order(client, campaign, eggs, 8).status_code == 201
    refused = order(client, campaign, eggs, 2)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "insufficient_stock"
    assert refused.get_json()["error"]["details"] == {"item_id": eggs.id, "remaining": 1}
    assert refused.get_json()["error"]["message"] == "土鸡蛋只剩 1 个。"
    assert order(client, campaign, eggs, 1).status_code == 201
    sold_out = order(client, campaign, eggs, 1)
    assert sold_out.get_json()["error"]["details"] == {"item_id": eggs.id, "remaining": 0}
    assert sold_out.get_json()["error"]["message"] == "土鸡蛋已售罄。"
    assert saved() == (3, 3, 10)
