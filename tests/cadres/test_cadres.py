"""A village cadre, scoped to one town: lists goods and confirms pick lists (by phone) and deliveries for the town's
households, and nothing else. Operators confirm by phone too, recorded as such."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from dashboard.models import Delivery
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user
from producers.models import Listing, PicklistAck

LISTING = {
    "name": "鸡蛋",
    "category": "蛋类",
    "unit": "个",
    "price_fen": 150,
    "quantity": 300,
    "ready_on": (date.today() + timedelta(days=3)).isoformat(),
}


@pytest.fixture
def town(app):
    unit = make_unit()
    home = make_producer(name="陈华养鸡户", town="秀水镇")
    away = make_producer(name="周光明鸡蛋户", town="廊田镇")
    cadre = make_user(role="cadre", town="秀水镇", name="驻村书记")
    operator = make_user(role="operator")
    campaign = make_campaign(status="allocated", opens_in=timedelta(days=-5), closes_in=timedelta(days=-1))
    item = make_item(campaign, [(make_listing(home), 50), (make_listing(away), 50)])
    make_order(campaign, [(item, 8)], unit=unit, user=make_user(unit=unit))
    make_allocation(item, home, 4, units=[(unit, 4)])
    make_allocation(item, away, 4, units=[(unit, 4)])
    return type("Town", (), dict(unit=unit, home=home, away=away, cadre=cadre, operator=operator, campaign=campaign, item=item))


def test_operators_create_a_cadre_with_a_town(app, api_as):
    operator = api_as(make_user(role="operator"))
    body = {"name": "驻村书记", "phone": "13912345678", "password": "pinbang-2026!", "role": "cadre", "town": "秀水镇"}
    created = operator.post("/users", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["town"] == "秀水镇"
    assert operator.post("/users", json={**body, "phone": "13912345679", "town": None}).status_code == 422
    assert operator.post("/users", json={**body, "phone": "13912345670", "role": "buyer", "unit_id": 1}).status_code == 422


def test_a_cadre_lists_goods_for_its_towns_households_only(town, api_as):
    cadre = api_as(town.cadre)
    listed = cadre.post("/listings", json={**LISTING, "producer_id": town.home.id})
    assert listed.status_code == 201, listed.get_json()
    assert listed.get_json()["status"] == "pending"
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "listing.create"))
    assert audit.actor_id == town.cadre.id and audit.on_behalf_of == town.home.name
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Listing))
    assert cadre.post("/listings", json={**LISTING, "producer_id": town.away.id}).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == before
    seen = {row["producer_id"] for row in cadre.get("/listings").get_json()["items"]}
    assert seen == {town.home.id}
    assert [p["id"] for p in cadre.get("/producers").get_json()["items"]] == [town.home.id]
    assert cadre.get(f"/producers/{town.away.id}").status_code == 404


def test_a_cadre_confirms_a_pick_list_by_phone_recorded_as_such(town, api_as):
    cadre = api_as(town.cadre)
    path = f"/producers/{town.home.id}/picklist/ack"
    assert cadre.post(path, json={"campaign_id": town.campaign.id}).status_code == 403
    response = cadre.post(path, json={"campaign_id": town.campaign.id, "by_phone": True})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["channel"] == "phone" and response.get_json()["acked_by_id"] == town.cadre.id
    assert (
        cadre.post(
            f"/producers/{town.away.id}/picklist/ack", json={"campaign_id": town.campaign.id, "by_phone": True}
        ).status_code
        == 404
    )
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "picklist.ack"))
    assert audit.on_behalf_of == town.home.name and audit.details["channel"] == "phone"
    confirmations = api_as(town.operator).get(f"/campaigns/{town.campaign.id}/allocations").get_json()["confirmations"]
    mine = next(c for c in confirmations if c["producer_id"] == town.home.id)
    assert mine["channel"] == "phone" and mine["acked_by_name"] == "驻村书记"


def test_an_operator_confirms_by_phone_and_a_producer_cannot_claim_a_phone_call(town, api_as, client, auth):
    producer = api_as(make_user(role="producer", producer=town.away))
    path = f"/producers/{town.away.id}/picklist/ack"
    assert producer.post(path, json={"campaign_id": town.campaign.id, "by_phone": True}).status_code == 403
    auth.login(town.operator.phone)
    response = client.post(f"/fulfilment/picklists/{town.campaign.id}/ack-by-phone/{town.away.id}")
    assert response.status_code == 302
    ack = db.session.scalar(sa.select(PicklistAck).where(PicklistAck.producer_id == town.away.id))
    assert ack.channel == "phone" and ack.acked_by_id == town.operator.id
    page = client.get(f"/fulfilment/campaigns/{town.campaign.id}").get_data(as_text=True)
    assert town.operator.name in page


def test_a_cadre_confirms_deliveries_of_its_town_only(town, client, auth):
    auth.login(town.cadre.phone)
    page = client.get("/cadres/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert town.home.name in text and town.away.name not in text
    form = {"campaign_id": town.campaign.id, "unit_id": town.unit.id}
    assert client.post("/cadres/deliveries", data={**form, "producer_id": town.away.id}).status_code == 404
    assert client.post("/cadres/deliveries", data={**form, "producer_id": town.home.id}).status_code == 302
    delivered = db.session.scalars(sa.select(Delivery.producer_id)).all()
    assert delivered == [town.home.id]


def test_a_cadre_touches_nothing_else(town, api_as, client, auth):
    cadre = api_as(town.cadre)
    assert cadre.post("/campaigns", json={"title": "x"}).status_code == 403
    assert cadre.get("/stats/summary").status_code == 403
    assert cadre.get(f"/producers/{town.home.id}/earnings").status_code == 403
    assert cadre.post(f"/campaigns/{town.campaign.id}/orders", json={"lines": []}).status_code == 403
    assert cadre.get(f"/campaigns/{town.campaign.id}/allocations").status_code == 403
    assert cadre.patch(f"/producers/{town.home.id}", json={"village": "别村"}).status_code == 403
    assert cadre.post(f"/producers/{town.home.id}/approve").status_code == 403
    auth.login(town.cadre.phone)
    for path in (
        "/dashboard/",
        f"/dashboard/campaigns/{town.campaign.id}/settlement",
        "/shop/campaigns/new",
        "/producers/review",
        "/claims/",
    ):
        assert client.get(path).status_code in (403, 404), path
