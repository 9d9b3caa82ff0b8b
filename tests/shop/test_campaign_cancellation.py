"""Cancelling a campaign for real (issue 17.1): orders cancelled and not charged, stock back with the producers,
buyers, coordinators and producers told why; refused once the campaign has closed; through the API and the pages."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from orders.models import Order, OrderLine
from producers.models import Listing
from shop.models import Campaign, CampaignItem
from worker.tasks import RENDERERS


@pytest.fixture
def operator(api_as):
    return api_as(make_user(role="operator"))


@pytest.fixture
def ordered():
    """An open campaign: honey all sold (its listing sold out), eggs; Wang's own order, a colleague without an account
    ordered by Chen, the coordinator, and Zhang's order he cancelled himself."""
    unit = make_unit()
    campaign = make_campaign(title="春季消费扶贫")
    honey_listing = make_listing(producer=make_producer(name="百花蜜农户"), quantity=5, name="百花蜜", unit="瓶")
    honey = make_item(campaign, [(honey_listing, 5)], title="百花蜜")
    honey_listing.status = "sold_out"
    eggs_listing = make_listing(producer=make_producer(name="周光明鸡蛋户"), quantity=100, name="土鸡蛋")
    eggs = make_item(campaign, [(eggs_listing, 50)], title="土鸡蛋")
    wang = make_user(unit=unit, name="王芳")
    chen = make_user(unit=unit, name="陈静", coordinator=True)
    zhang = make_user(unit=unit, name="张伟")
    make_order(campaign, [(honey, 5), (eggs, 10)], user=wang)
    make_order(campaign, [(eggs, 6)], user=chen, buyer_name="李明", buyer_phone="13700000011", placed_by_id=chen.id)
    db.session.execute(sa.update(Order).where(Order.buyer_name == "李明").values(user_id=None, source="coordinator"))
    make_order(campaign, [(eggs, 3, "order_cancelled")], user=zhang, status="cancelled")
    db.session.commit()
    return campaign, (honey_listing, eggs_listing), (wang, chen, zhang)


def test_cancelling_cancels_every_order_gives_the_stock_back_and_tells_everyone_why(operator, ordered):
    campaign, (honey_listing, eggs_listing), (wang, chen, zhang) = ordered
    response = operator.post(f"/campaigns/{campaign.id}/cancel", json={"reason": "冷链车辆故障，无法按时配送"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "cancelled"

    db.session.expire_all()
    orders = db.session.scalars(sa.select(Order).where(Order.campaign_id == campaign.id)).all()
    assert {(o.status, o.total_fen) for o in orders} == {("cancelled", 0)}
    assert db.session.scalar(sa.select(sa.func.count()).where(OrderLine.cancelled.is_(False))) == 0
    assert set(db.session.scalars(sa.select(CampaignItem.ordered).where(CampaignItem.campaign_id == campaign.id))) == {0}
    honey, eggs = db.session.get(Listing, honey_listing.id), db.session.get(Listing, eggs_listing.id)
    assert (honey.quantity_committed, honey.status) == (0, "approved")
    assert eggs.quantity_committed == 0
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "campaign.cancel")).one()
    assert audit.details == {"reason": "冷链车辆故障，无法按时配送", "lines": 3}

    expand_fanouts(RENDERERS)
    told = db.session.scalars(
        sa.select(Notification).where(Notification.kind == "campaign_cancelled", Notification.channel == "inapp")
    ).all()
    buyers = {n.user_id for n in told if n.user_id}
    assert buyers == {wang.id, chen.id}  # Zhang had cancelled already: nothing to tell him
    producers = {n.producer_id for n in told if n.producer_id}
    assert producers == {honey_listing.producer_id, eggs_listing.producer_id}
    assert all("冷链车辆故障，无法按时配送" in n.body for n in told)
    assert any("不会收取任何费用" in n.body for n in told if n.user_id)
    assert expand_fanouts(RENDERERS) == 0


def test_a_cancelled_campaign_takes_no_orders_and_a_repeat_changes_nothing(operator, api_as, ordered):
    campaign, _listings, (wang, _chen, _zhang) = ordered
    assert operator.post(f"/campaigns/{campaign.id}/cancel", json={"reason": "天气原因"}).status_code == 200
    again = operator.post(f"/campaigns/{campaign.id}/cancel", json={"reason": "另一个原因"})
    assert again.status_code == 200
    assert db.session.get(Campaign, campaign.id).cancel_reason == "天气原因"
    item = campaign.items[1]
    refused = api_as(wang).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": 1}]})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "campaign_not_open"
    assert "此活动已取消" in refused.get_json()["error"]["message"]


def test_a_closed_campaign_or_no_reason_is_refused_and_changes_nothing(operator, ordered):
    campaign = ordered[0]
    assert operator.post(f"/campaigns/{campaign.id}/cancel", json={"reason": ""}).status_code == 422
    closed = make_campaign(status="closed", closes_in=timedelta(minutes=-5))
    assert operator.post(f"/campaigns/{closed.id}/cancel", json={"reason": "太晚了"}).status_code == 409
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "published"
    assert db.session.get(Campaign, closed.id).status == "closed"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_the_operator_cancels_from_the_campaign_page_after_saying_why(client, auth, ordered):
    campaign = ordered[0]
    auth.login(make_user(role="operator").phone)
    assert "取消活动…" in client.get(f"/campaigns/{campaign.id}/manage").get_data(as_text=True)
    question = client.get(f"/campaigns/{campaign.id}/cancel").get_data(as_text=True)
    assert "无法撤销" in question
    unexplained = client.post(f"/campaigns/{campaign.id}/cancel", data={"reason": ""})
    assert unexplained.status_code == 422 and db.session.get(Campaign, campaign.id).status == "published"
    done = client.post(f"/campaigns/{campaign.id}/cancel", data={"reason": "暴雨封路"}, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "活动已取消" in page and "此活动已取消：暴雨封路" in page
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).status == "cancelled"
