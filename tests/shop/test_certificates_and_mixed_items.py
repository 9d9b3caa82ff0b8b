"""Campaign items and honest sellers (issue 17.4, 17.5): a listing whose certificate or producer admission expired
cannot be added to an item or top one up; pooling listings of different names or prices needs an explicit
confirmation that shows the difference, and is audited — on the service, the API and the operator's pages."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from database import local_today
from errors import MixedListings, ValidationFailed
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_producer, make_user
from producers.models import Certificate, Listing
from shop import editing, running
from shop.models import CampaignItem, Supply


def page(response):
    return response.get_data(as_text=True)


@pytest.fixture
def people(app):
    return make_user(role="operator")


@pytest.fixture
def ginger(app):
    """The issue's example: 马蹄 at ¥4.50 and 天堂姜 at ¥8.00, both by the 斤."""
    water_chestnut = make_listing(make_producer(name="黄屋村农户"), name="马蹄", unit="斤", price_fen=450, quantity=200)
    tiantang = make_listing(make_producer(name="天堂姜合作社"), name="天堂姜", unit="斤", price_fen=800, quantity=200)
    return water_chestnut, tiantang


def expire(listing, *, admission=False):
    """An expired certificate on the listing (or an expired admission of its producer)."""
    db.session.add(
        Certificate(
            producer_id=listing.producer_id,
            listing_id=None if admission else listing.id,
            kind="admission" if admission else "animal_quarantine",
            number="Q-OLD",
            issuer="乐昌市",
            valid_until=local_today() - timedelta(days=1),
        )
    )
    db.session.commit()
    db.session.expire_all()


def nothing_taken(*listings):
    db.session.expire_all()
    return all(db.session.get(Listing, listing.id).quantity_committed == 0 for listing in listings)


def items_of(campaign):
    return db.session.scalar(sa.select(sa.func.count()).select_from(CampaignItem).where(CampaignItem.campaign_id == campaign.id))


# ---------------------------------------------------------------- expired certificates


@pytest.mark.parametrize("admission", [False, True], ids=["listing certificate", "producer admission"])
def test_an_expired_certificate_keeps_a_listing_out_of_a_new_item(people, admission):
    campaign = make_campaign(status="draft")
    chickens = make_listing(name="雪毛鸡", unit="只", price_fen=6800)
    expire(chickens, admission=admission)
    with pytest.raises(ValidationFailed) as refused:
        editing.add_item(people, campaign.id, supplies=[(chickens.id, 10)])
    assert "雪毛鸡" in refused.value.fields["supplies"][0] and "Q-OLD" in refused.value.fields["supplies"][0]
    assert items_of(campaign) == 0 and nothing_taken(chickens)


def test_an_expired_certificate_stops_a_top_up_but_not_giving_back(people):
    campaign = make_campaign()
    chickens = make_listing(name="雪毛鸡", unit="只", quantity=100)
    item = make_item(campaign, [(chickens, 10)])
    expire(chickens)
    with pytest.raises(ValidationFailed) as refused:
        running.set_supply(people, item.id, chickens.id, 20, reason="加量")
    assert "雪毛鸡" in refused.value.fields["listing_id"][0]
    db.session.expire_all()
    assert db.session.get(CampaignItem, item.id).capacity == 10 and db.session.get(Listing, chickens.id).quantity_committed == 10
    running.set_supply(people, item.id, chickens.id, 5, reason="证书过期，减量")
    db.session.expire_all()
    assert db.session.get(CampaignItem, item.id).capacity == 5


def test_api_refuses_an_expired_listing_for_items_and_top_ups(api_as, people):
    operator = api_as(people)
    campaign = make_campaign()
    chickens = make_listing(name="雪毛鸡", unit="只", quantity=100)
    fresh = make_listing(name="雪毛鸡", unit="只", quantity=100, price_fen=chickens.price_fen)
    item = make_item(campaign, [(fresh, 10)])
    expire(chickens)
    added = operator.post(f"/campaigns/{campaign.id}/items", json={"supplies": [{"listing_id": chickens.id, "quantity": 5}]})
    assert added.status_code == 422
    assert "雪毛鸡" in added.get_json()["error"]["details"]["fields"]["supplies"][0]
    topped = operator.put(f"/items/{item.id}/supplies/{chickens.id}", json={"quantity": 5, "reason": "加量"})
    assert topped.status_code == 422 and "listing_id" in topped.get_json()["error"]["details"]["fields"]
    assert nothing_taken(chickens) and items_of(campaign) == 1


def test_the_item_page_shows_and_refuses_an_expired_listing(client, auth, people):
    auth.login(people.phone)
    campaign = make_campaign(status="draft")
    chickens = make_listing(name="雪毛鸡", unit="只")
    expire(chickens)
    assert "certificate-problem" in page(client.get(f"/campaigns/{campaign.id}/items/new"))
    response = client.post(f"/campaigns/{campaign.id}/items/new", data={"policy": "proportional", f"supply-{chickens.id}": "5"})
    assert response.status_code == 422 and "Q-OLD" in page(response)
    assert items_of(campaign) == 0 and nothing_taken(chickens)


# ---------------------------------------------------------------- mixed listings


def test_pooling_different_names_or_prices_needs_a_confirmation(people, ginger):
    water_chestnut, tiantang = ginger
    campaign = make_campaign(status="draft")
    with pytest.raises(MixedListings) as refused:
        editing.add_item(people, campaign.id, title="天堂姜", supplies=[(tiantang.id, 50), (water_chestnut.id, 50)])
    details = refused.value.details
    assert [(f["name"], f["price_fen"]) for f in details["listings"]] == [("马蹄", 450), ("天堂姜", 800)]
    assert details["price_difference_fen"] == 350 and "¥4.50" in refused.value.message and "¥8.00" in refused.value.message
    assert items_of(campaign) == 0 and nothing_taken(water_chestnut, tiantang)

    item = editing.add_item(
        people, campaign.id, title="天堂姜", supplies=[(tiantang.id, 50), (water_chestnut.id, 50)], confirm_mixed=True
    )
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "campaign.item.add")).one()
    assert audit.actor_id == people.id and audit.object_id == item.id
    assert audit.details["mixed_confirmed"] is True and audit.details["mixed_listings"]["names"] == ["天堂姜", "马蹄"]


def test_the_same_product_at_one_price_pools_without_asking(people):
    campaign = make_campaign(status="draft")
    eggs = [make_listing(name="鸡蛋", price_fen=150) for _n in range(3)]
    item = editing.add_item(people, campaign.id, supplies=[(listing.id, 10) for listing in eggs])
    assert item.capacity == 30
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "campaign.item.add")).one()
    assert "mixed_listings" not in audit.details


def test_a_different_listing_joining_a_running_item_needs_a_confirmation(people, ginger):
    water_chestnut, tiantang = ginger
    campaign = make_campaign()
    item = make_item(campaign, [(tiantang, 20)], title="天堂姜")
    make_order(campaign, [(item, 2)])
    with pytest.raises(MixedListings) as refused:
        running.set_supply(people, item.id, water_chestnut.id, 30, reason="补货")
    assert {f["name"] for f in refused.value.details["listings"]} == {"马蹄", "天堂姜"}
    assert nothing_taken(water_chestnut) and db.session.scalar(sa.select(sa.func.count()).select_from(Supply)) == 1
    running.set_supply(people, item.id, water_chestnut.id, 30, reason="补货，同为姜类", confirm_mixed=True)
    db.session.expire_all()
    assert db.session.get(CampaignItem, item.id).capacity == 50
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "campaign.supply.set")).one()
    assert audit.details["reason"] == "补货，同为姜类" and audit.details["mixed_confirmed"] is True
    # Topping up a listing already in the item asks nothing again.
    running.set_supply(people, item.id, water_chestnut.id, 40, reason="再加")


def test_api_answers_409_mixed_listings_then_accepts_the_confirmation(api_as, people, ginger):
    water_chestnut, tiantang = ginger
    operator = api_as(people)
    campaign = make_campaign(status="draft")
    body = {
        "title": "天堂姜",
        "supplies": [{"listing_id": tiantang.id, "quantity": 20}, {"listing_id": water_chestnut.id, "quantity": 20}],
    }
    refused = operator.post(f"/campaigns/{campaign.id}/items", json=body)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "mixed_listings"
    assert [(f["name"], f["price_fen"]) for f in error["details"]["listings"]] == [("马蹄", 450), ("天堂姜", 800)]
    assert items_of(campaign) == 0 and nothing_taken(water_chestnut, tiantang)
    accepted = operator.post(f"/campaigns/{campaign.id}/items", json={**body, "confirm_mixed": True})
    assert accepted.status_code == 201, accepted.get_json()

    running_campaign = make_campaign()
    item = make_item(running_campaign, [(make_listing(name="天堂姜", unit="斤", price_fen=800), 10)])
    joined = operator.put(f"/items/{item.id}/supplies/{water_chestnut.id}", json={"quantity": 5, "reason": "补货"})
    assert joined.status_code == 409 and joined.get_json()["error"]["code"] == "mixed_listings"
    joined = operator.put(
        f"/items/{item.id}/supplies/{water_chestnut.id}", json={"quantity": 5, "reason": "补货", "confirm_mixed": True}
    )
    assert joined.status_code == 200 and joined.get_json()["capacity"] == 15


def test_the_item_page_asks_for_the_confirmation_and_shows_the_difference(client, auth, people, ginger):
    water_chestnut, tiantang = ginger
    auth.login(people.phone)
    campaign = make_campaign(status="draft")
    form = {"title": "天堂姜", "policy": "proportional", f"supply-{tiantang.id}": "20", f"supply-{water_chestnut.id}": "20"}
    asked = client.post(f"/campaigns/{campaign.id}/items/new", data=form)
    shown = page(asked)
    assert asked.status_code == 409 and "mixed-listings" in shown
    assert "马蹄" in shown and "¥4.50" in shown and "¥8.00" in shown and "¥3.50" in shown and 'name="confirm_mixed"' in shown
    assert 'value="20"' in shown  # what was typed stays
    assert items_of(campaign) == 0
    done = client.post(f"/campaigns/{campaign.id}/items/new", data={**form, "confirm_mixed": "y"})
    assert done.status_code == 302 and items_of(campaign) == 1


def test_the_supply_page_asks_before_a_different_listing_joins(client, auth, people, ginger):
    water_chestnut, tiantang = ginger
    auth.login(people.phone)
    campaign = make_campaign()
    item = make_item(campaign, [(tiantang, 20)], title="天堂姜")
    manage = page(client.get(f"/campaigns/{campaign.id}/manage"))
    assert "join-listing" in manage and f'<option value="{water_chestnut.id}">马蹄' in manage
    form = {"listing_id": str(water_chestnut.id), "quantity": "30", "reason": "补货"}
    asked = client.post(f"/campaigns/{campaign.id}/items/{item.id}/supply", data=form)
    shown = page(asked)
    assert asked.status_code == 409 and "马蹄" in shown and "¥3.50" in shown and 'name="confirm_mixed"' in shown
    assert nothing_taken(water_chestnut)
    done = client.post(f"/campaigns/{campaign.id}/items/{item.id}/supply", data={**form, "confirm_mixed": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(CampaignItem, item.id).capacity == 50
