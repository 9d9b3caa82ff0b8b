"""A published campaign changed while it runs (issue 17.1): texts and a later closing time, buyers told; items added
and supplies topped up, never below what is ordered; through the API and the operator's pages."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from database import local_zone
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_user
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from producers.models import Listing
from shop.models import Campaign, CampaignItem, Supply


@pytest.fixture
def operator(api_as):
    return api_as(make_user(role="operator"))


@pytest.fixture
def running():
    """An open campaign whose eggs (10 from one listing of 100) a buyer has ordered 6 of."""
    campaign = make_campaign(title="春季消费扶贫")
    listing = make_listing(quantity=100, name="土鸡蛋")
    eggs = make_item(campaign, [(listing, 10)], title="土鸡蛋")
    buyer = make_user(name="王芳")
    make_order(campaign, [(eggs, 6)], user=buyer)
    return campaign, eggs, listing, buyer


def state(item_id, listing_id):
    db.session.expire_all()
    item = db.session.get(CampaignItem, item_id)
    listing = db.session.get(Listing, listing_id)
    supplies = db.session.scalar(sa.select(sa.func.sum(Supply.quantity)).where(Supply.item_id == item_id))
    return item.capacity, item.ordered, supplies, listing.quantity_committed


def test_a_later_closing_time_is_saved_audited_and_told_to_everyone_who_ordered(operator, running):
    campaign, _eggs, _listing, buyer = running
    later = (campaign.closes_at + timedelta(days=1)).isoformat()
    response = operator.patch(f"/campaigns/{campaign.id}", json={"closes_at": later, "reason": "各单位要求延长"})
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).closes_at.isoformat() == later
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "campaign.change")).one()
    assert audit.details["reason"] == "各单位要求延长" and "closes_at" in audit.details["changes"]

    expand_fanouts(RENDERERS)
    told = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == buyer.id, Notification.kind == "campaign_rescheduled")
    ).all()
    assert {n.channel for n in told} >= {"inapp"}
    assert all("现在预订截止到" in n.body and "您的订单保持不变" in n.body for n in told)


def test_a_published_campaign_cannot_close_earlier_and_an_empty_change_is_refused(operator, running):
    campaign = running[0]
    before = db.session.get(Campaign, campaign.id).closes_at
    earlier = operator.patch(f"/campaigns/{campaign.id}", json={"closes_at": (before - timedelta(hours=1)).isoformat()})
    assert earlier.status_code == 422
    assert earlier.get_json()["error"]["details"]["fields"]["closes_at"] == ["已发布活动的截止时间只能推迟。"]
    empty = operator.patch(f"/campaigns/{campaign.id}", json={})
    assert empty.status_code == 422
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).closes_at == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_a_campaign_whose_orders_ended_cannot_be_changed(operator):
    ended = make_campaign(closes_in=timedelta(minutes=-5))
    response = operator.patch(f"/campaigns/{ended.id}", json={"title": "新标题"})
    assert response.status_code == 409
    assert db.session.get(Campaign, ended.id).title == "春季消费扶贫"


def test_a_drafts_title_changes_without_telling_anyone(operator):
    draft = make_campaign(status="draft")
    response = operator.patch(f"/campaigns/{draft.id}", json={"title": "秋季消费扶贫"})
    assert response.status_code == 200 and response.get_json()["title"] == "秋季消费扶贫"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0


def test_supplies_top_up_and_go_down_but_never_below_what_is_ordered(operator, running):
    _campaign, eggs, listing, _buyer = running
    path = f"/items/{eggs.id}/supplies/{listing.id}"
    up = operator.put(path, json={"quantity": 30, "reason": "蛋鸡户加供"})
    assert up.status_code == 200, up.get_json()
    assert up.get_json()["remaining"] == 24
    assert state(eggs.id, listing.id) == (30, 6, 30, 30)

    down = operator.put(path, json={"quantity": 8, "reason": "破损"})
    assert down.status_code == 200 and state(eggs.id, listing.id) == (8, 6, 8, 8)

    below = operator.put(path, json={"quantity": 5, "reason": "破损"})
    assert below.status_code == 409
    assert below.get_json()["error"]["message"] == "买家已订土鸡蛋 6个，供应量不能再少于此数。"
    assert state(eggs.id, listing.id) == (8, 6, 8, 8)

    too_much = operator.put(path, json={"quantity": 200, "reason": "加供"})
    assert too_much.status_code == 409 and too_much.get_json()["error"]["code"] == "insufficient_stock"
    assert operator.put(path, json={"quantity": 9}).status_code == 422
    assert state(eggs.id, listing.id) == (8, 6, 8, 8)


def test_a_new_listing_joins_a_running_item_only_if_sold_by_the_same_unit(operator, running):
    _campaign, eggs, listing, _buyer = running
    other = make_listing(quantity=50, name="农家鸡蛋")
    # Another name (土鸡蛋 / 农家鸡蛋) needs the operator's confirmation (issue 17.5).
    joined = operator.put(
        f"/items/{eggs.id}/supplies/{other.id}", json={"quantity": 20, "reason": "新增蛋鸡户", "confirm_mixed": True}
    )
    assert joined.status_code == 200, joined.get_json()
    assert {p["id"] for p in joined.get_json()["producers"]} == {listing.producer_id, other.producer_id}
    assert state(eggs.id, other.id)[:3] == (30, 6, 30)

    by_the_jin = make_listing(quantity=50, name="马蹄", unit="斤")
    refused = operator.put(f"/items/{eggs.id}/supplies/{by_the_jin.id}", json={"quantity": 5, "reason": "加供"})
    assert refused.status_code == 422
    assert db.session.get(Listing, by_the_jin.id).quantity_committed == 0


def test_items_are_added_while_open_but_not_once_orders_end(operator, running):
    campaign = running[0]
    ginger = make_listing(quantity=100, name="天堂姜", unit="斤")
    added = operator.post(f"/campaigns/{campaign.id}/items", json={"supplies": [{"listing_id": ginger.id, "quantity": 40}]})
    assert added.status_code == 201, added.get_json()
    assert db.session.get(Listing, ginger.id).quantity_committed == 40

    ended = make_campaign(closes_in=timedelta(minutes=-1))
    late = operator.post(f"/campaigns/{ended.id}/items", json={"supplies": [{"listing_id": ginger.id, "quantity": 1}]})
    assert late.status_code == 409
    db.session.expire_all()
    assert db.session.get(Listing, ginger.id).quantity_committed == 40


def test_the_operator_extends_and_tops_up_from_the_campaign_page(client, auth, running):
    campaign, eggs, listing, _buyer = running
    auth.login(make_user(role="operator").phone)
    manage = client.get(f"/campaigns/{campaign.id}/manage").get_data(as_text=True)
    assert "修改文字或时间" in manage and "设定供应量" in manage and "立即截止…" in manage

    topped = client.post(
        f"/campaigns/{campaign.id}/items/{eggs.id}/supply",
        data={"listing_id": listing.id, "quantity": 25, "reason": "加供"},
        follow_redirects=True,
    )
    assert "供应量已设为 25。" in topped.get_data(as_text=True)
    assert state(eggs.id, listing.id)[0] == 25
    refused = client.post(
        f"/campaigns/{campaign.id}/items/{eggs.id}/supply",
        data={"listing_id": listing.id, "quantity": 2, "reason": "破损"},
        follow_redirects=True,
    )
    assert "供应量不能再少于此数" in refused.get_data(as_text=True) and state(eggs.id, listing.id)[0] == 25

    form = client.get(f"/campaigns/{campaign.id}/change").get_data(as_text=True)
    assert "截止时间只能推迟" in form
    later = campaign.closes_at + timedelta(days=2)
    typed = later.astimezone(local_zone()).strftime("%Y-%m-%dT%H:%M")
    saved = client.post(
        f"/campaigns/{campaign.id}/change",
        data={
            "title": "春季消费扶贫（延长）",
            "description": "",
            "closes_at": typed,
            "delivery_on": str(later.astimezone(local_zone()).date() + timedelta(days=1)),
            "reason": "延长两天",
        },
        follow_redirects=True,
    )
    assert "活动已修改" in saved.get_data(as_text=True)
    db.session.expire_all()
    changed = db.session.get(Campaign, campaign.id)
    assert changed.title == "春季消费扶贫（延长）"
    assert changed.closes_at.astimezone(local_zone()).strftime("%Y-%m-%dT%H:%M") == typed
