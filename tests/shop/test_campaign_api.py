"""Operators build campaigns through the API; buyers see the ones open to their unit, in the shape API.md fixes."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from producers.models import Listing
from shop.models import Campaign, CampaignItem


@pytest.fixture
def operator(api_as):
    return api_as(make_user(role="operator"))


def new_campaign(operator, **fields):
    body = {
        "title": "春节消费扶贫专场",
        "description": "乐昌农产品",
        "opens_at": "2030-01-10T09:00:00+08:00",
        "closes_at": "2030-01-20T18:00",
        "delivery_on": "2030-01-25",
        **fields,
    }
    return operator.post("/campaigns", json=body)


def test_an_operator_creates_a_draft_with_times_in_shanghai(operator):
    union = make_unit(name="总工会")
    response = new_campaign(operator, unit_ids=[union.id])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft" and body["phase"] == "draft"
    # A time without an offset is Shanghai time; times come back with +08:00.
    assert body["opens_at"] == "2030-01-10T09:00:00+08:00" and body["closes_at"] == "2030-01-20T18:00:00+08:00"
    assert body["unit_ids"] == [union.id] and body["delivery_on"] == "2030-01-25"
    assert body["short_url"] == f"http://127.0.0.1:5000/c/{body['slug']}" and len(body["slug"]) == 8
    campaign = db.session.get(Campaign, body["id"])
    assert campaign.closes_at.hour == 10 and campaign.closes_at.utcoffset() == timedelta(0)  # stored as UTC


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"title": ""}, "title"),
        ({"closes_at": "2030-01-09T09:00:00+08:00"}, "closes_at"),
        ({"delivery_on": "2030-01-19"}, "delivery_on"),
        ({"unit_ids": [987654]}, "unit_ids"),
        ({"opens_at": "next tuesday"}, "opens_at"),
        ({"unit_ids": ["1"]}, "unit_ids"),
    ],
)
def test_bad_campaign_fields_are_named(operator, fields, field):
    response = new_campaign(operator, **fields)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_only_operators_create_campaigns(api_as):
    assert new_campaign(api_as(make_user())).status_code == 403


def test_items_pool_several_producers_and_take_from_their_listings(operator):
    campaign_id = new_campaign(operator).get_json()["id"]
    household = make_producer(name="李桂英蛋鸡户", town="两江镇", poverty=True)
    coop = make_producer(name="周光明鸡蛋户", town="廊田镇")
    first, second = make_listing(household, quantity=1000), make_listing(coop, quantity=800)
    response = operator.post(
        f"/campaigns/{campaign_id}/items",
        json={
            "title": "土鸡蛋",
            "price_fen": 150,
            "unit": "个",
            "per_buyer_limit": 60,
            "min_total": 100,
            "policy": "poor_first",
            "supplies": [{"listing_id": first.id, "quantity": 600}, {"listing_id": second.id, "quantity": 400}],
        },
    )
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert (item["capacity"], item["remaining"], item["ordered"]) == (1000, 1000, 0)
    assert item["producers"] == [
        {"id": household.id, "name": "李桂英蛋鸡户", "town": "两江镇"},
        {"id": coop.id, "name": "周光明鸡蛋户", "town": "廊田镇"},
    ]
    assert (item["per_buyer_limit"], item["min_total"], item["policy"]) == (60, 100, "poor_first")
    assert item["unit_weight_kg"] == 0.05 and item["price_per_kg_fen"] == 3000
    db.session.expire_all()
    assert (first.quantity_committed, second.quantity_committed) == (600, 400)
    # What is left of a listing bounds the next item built from it.
    more = operator.post(f"/campaigns/{campaign_id}/items", json={"supplies": [{"listing_id": first.id, "quantity": 401}]})
    assert more.status_code == 422
    assert more.get_json()["error"]["details"]["fields"]["supplies"]


@pytest.mark.parametrize("problem", ["pending", "other_unit", "unknown", "zero", "twice", "min_total"])
def test_bad_items_are_refused_and_take_nothing(operator, problem):
    campaign_id = new_campaign(operator).get_json()["id"]
    good = make_listing(quantity=100)
    supplies = [{"listing_id": good.id, "quantity": 10}]
    extra = {}
    if problem == "pending":
        supplies.append({"listing_id": make_listing(status="pending").id, "quantity": 5})
    elif problem == "other_unit":
        supplies.append({"listing_id": make_listing(unit="斤").id, "quantity": 5})
    elif problem == "unknown":
        supplies.append({"listing_id": 424242, "quantity": 5})
    elif problem == "zero":
        supplies[0]["quantity"] = 0
    elif problem == "twice":
        supplies.append({"listing_id": good.id, "quantity": 5})
    else:
        extra["min_total"] = 11
    response = operator.post(f"/campaigns/{campaign_id}/items", json={"supplies": supplies, **extra})
    assert response.status_code == 422, response.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignItem)) == 0
    assert db.session.scalar(sa.select(sa.func.sum(Listing.quantity_committed))) == 0


def test_publish_needs_items_and_then_buyers_see_it(operator, api_as):
    union, federation = make_unit(name="总工会"), make_unit(name="妇联")
    now = utcnow()
    campaign_id = new_campaign(
        operator,
        opens_at=(now - timedelta(hours=1)).isoformat(),
        closes_at=(now + timedelta(days=1)).isoformat(),
        delivery_on=str(date.today() + timedelta(days=3)),
        unit_ids=[union.id],
    ).get_json()["id"]
    empty = operator.post(f"/campaigns/{campaign_id}/publish")
    assert empty.status_code == 409 and empty.get_json()["error"]["code"] == "conflict"
    member, outsider = api_as(make_user(unit=union)), api_as(make_user(unit=federation))
    assert member.get(f"/campaigns/{campaign_id}").status_code == 404  # a draft is invisible
    operator.post(f"/campaigns/{campaign_id}/items", json={"supplies": [{"listing_id": make_listing().id, "quantity": 10}]})
    published = operator.post(f"/campaigns/{campaign_id}/publish")
    assert (
        published.status_code == 200 and published.get_json()["status"] == "published" and published.get_json()["phase"] == "open"
    )
    assert [c["id"] for c in member.get("/campaigns").get_json()["items"]] == [campaign_id]
    assert outsider.get("/campaigns").get_json()["total"] == 0
    assert outsider.get(f"/campaigns/{campaign_id}").status_code == 404
    # Publishing twice is harmless.
    assert operator.post(f"/campaigns/{campaign_id}/publish").status_code == 200


def test_campaign_detail_has_the_documented_shape(api_as):
    campaign = make_campaign(title="乐昌好物")
    chicken = make_listing(
        make_producer(name="陈华养鸡户", town="秀水镇"), name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500
    )
    item = make_item(campaign, [(chicken, 30)], per_buyer_limit=2)
    item.ordered = 12
    db.session.commit()
    body = api_as(make_user()).get(f"/campaigns/{campaign.id}").get_json()
    expected_keys = {"id", "title", "status", "opens_at", "closes_at", "delivery_on", "items"}
    assert expected_keys <= set(body)
    assert (body["title"], body["status"], body["phase"]) == ("乐昌好物", "published", "open")
    [entry] = body["items"]
    assert {"id", "title", "price_fen", "unit", "per_buyer_limit", "remaining", "ordered", "producers"} <= set(entry)
    assert (entry["id"], entry["title"], entry["price_fen"], entry["unit"]) == (item.id, "雪毛鸡", 9800, "只")
    assert (entry["per_buyer_limit"], entry["remaining"], entry["ordered"]) == (2, 18, 12)
    assert entry["producers"] == [{"id": chicken.producer_id, "name": "陈华养鸡户", "town": "秀水镇"}]
    assert entry["price_per_kg_fen"] == 6533 and entry["ready_on"] == str(chicken.ready_on)


def test_items_cannot_be_added_once_orders_end(operator):
    campaign = make_campaign(closes_in=timedelta(minutes=-1))
    response = operator.post(
        f"/campaigns/{campaign.id}/items", json={"supplies": [{"listing_id": make_listing().id, "quantity": 1}]}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"opens_at": "0001-01-01T00:00:00+08:00"}, "opens_at"),
        ({"closes_at": "9999-12-31T23:59:59+14:00"}, "closes_at"),
        ({"delivery_on": "9999-12-31"}, "delivery_on"),
        ({"unit_ids": [2**63]}, "unit_ids"),
    ],
)
def test_absurd_times_and_ids_are_field_errors_not_crashes(operator, fields, field):
    response = new_campaign(operator, **fields)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["fields"]


def test_absurd_listing_ids_are_field_errors(operator):
    campaign_id = new_campaign(operator).get_json()["id"]
    response = operator.post(f"/campaigns/{campaign_id}/items", json={"supplies": [{"listing_id": 2**63, "quantity": 1}]})
    assert response.status_code == 422
    assert operator.post(f"/campaigns/{2**63}/publish").status_code == 404
