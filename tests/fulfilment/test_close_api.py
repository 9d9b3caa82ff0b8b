"""The API after close: close → 202, allocations, the producer's pick list and its confirmation."""

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from producers.models import PicklistAck
from shop.models import Campaign


def test_an_operator_closes_a_campaign_and_gets_202(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(days=1))
    operator = api_as(make_user(role="operator"))

    response = operator.post(f"/campaigns/{s.campaign.id}/close")
    assert response.status_code == 202
    assert response.get_json()["status"] == "closed"
    assert db.session.get(Campaign, s.campaign.id).status == "closed"
    # Closing again is harmless.
    assert operator.post(f"/campaigns/{s.campaign.id}/close").status_code == 202


def test_only_operators_close_and_unknown_campaigns_are_404(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(days=1))
    buyer = api_as(people.wang)
    response = buyer.post(f"/campaigns/{s.campaign.id}/close")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert api_as(make_user(role="operator")).post("/campaigns/999999/close").status_code == 404
    assert db.session.get(Campaign, s.campaign.id).status == "published"


def test_allocations_show_who_supplies_how_much_to_whom(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    union, women, _ = people.units

    body = api_as(make_user(role="operator")).get(f"/campaigns/{s.campaign.id}/allocations").get_json()
    assert body["status"] == "allocated"
    chicken = next(item for item in body["items"] if item["item_id"] == s.chicken.id)
    assert [
        (p["producer_id"], p["quantity"], [(u["unit_id"], u["quantity"]) for u in p["units"]]) for p in chicken["producers"]
    ] == [
        (people.coop.id, 52, [(union.id, 40), (women.id, 12)]),
        (people.poor.id, 15, [(women.id, 15)]),
    ]
    eggs = next(item for item in body["items"] if item["item_id"] == s.eggs.id)
    assert eggs["cancelled_below_minimum"] is True and eggs["producers"] == []
    assert {c["producer_id"]: c["acked_at"] for c in body["confirmations"]} == {people.coop.id: None, people.poor.id: None}


def test_allocations_are_for_operators_only(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    producer_user = make_user(role="producer", producer=people.coop)
    assert api_as(producer_user).get(f"/campaigns/{s.campaign.id}/allocations").status_code == 403


def test_a_producer_reads_its_pick_list_and_confirms_it(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    union, women, _ = people.units
    client = api_as(make_user(role="producer", producer=people.poor))

    body = client.get(f"/producers/{people.poor.id}/picklist?campaign_id={s.campaign.id}").get_json()
    assert body["delivery_on"] == s.campaign.delivery_on.isoformat()
    assert body["acked_at"] is None
    assert [(line["title"], line["unit"], line["quantity"]) for line in body["lines"]] == [
        ("雪毛鸡", "只", 15),
        ("蜂蜜", "瓶", 10),
    ]
    assert body["lines"][0]["units"] == [
        {
            "unit_id": women.id,
            "unit_name": women.name,
            "address": women.address,
            "contact_phone": None,
            "contacts": [{"name": "陈静", "phone": people.chen.phone}],  # the unit's coordinator, whom to call
            "quantity": 15,
            "received": None,  # nothing received before delivery day
            "received_weight_g": None,
        }
    ]
    assert body["lines"][0]["unit_weight_kg"] == 1.5

    ack = client.post(f"/producers/{people.poor.id}/picklist/ack", json={"campaign_id": s.campaign.id})
    assert ack.status_code == 200
    first = ack.get_json()["acked_at"]
    again = client.post(f"/producers/{people.poor.id}/picklist/ack", json={"campaign_id": s.campaign.id})
    assert again.get_json()["acked_at"] == first
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PicklistAck)) == 1
    overview = api_as(make_user(role="operator")).get(f"/campaigns/{s.campaign.id}/allocations").get_json()
    assert {c["producer_id"]: c["acked_at"] is not None for c in overview["confirmations"]} == {
        people.coop.id: False,
        people.poor.id: True,
    }


def test_a_producer_never_sees_another_producers_pick_list(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    client = api_as(make_user(role="producer", producer=people.poor))
    response = client.get(f"/producers/{people.coop.id}/picklist?campaign_id={s.campaign.id}")
    assert response.status_code == 404
    assert client.post(f"/producers/{people.coop.id}/picklist/ack", json={"campaign_id": s.campaign.id}).status_code == 404
    assert api_as(people.wang).get(f"/producers/{people.coop.id}/picklist?campaign_id={s.campaign.id}").status_code == 403
    # Operators see any producer's.
    operator = api_as(make_user(role="operator"))
    assert (
        operator.get(f"/producers/{people.coop.id}/picklist?campaign_id={s.campaign.id}").get_json()["lines"][0]["quantity"] == 52
    )


def test_confirming_before_the_pooling_is_409_and_bad_bodies_are_422(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(days=1))
    client = api_as(make_user(role="producer", producer=people.coop))
    early = client.post(f"/producers/{people.coop.id}/picklist/ack", json={"campaign_id": s.campaign.id})
    assert early.status_code == 409
    assert early.get_json()["error"]["message"] == "备货单尚未生成：活动还未完成拼单分配。"
    assert client.post(f"/producers/{people.coop.id}/picklist/ack", json={"campaign_id": "1"}).status_code == 422
    assert client.get(f"/producers/{people.coop.id}/picklist").status_code == 422


def test_a_producer_with_nothing_this_time_gets_an_empty_pick_list(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    client = api_as(make_user(role="producer", producer=people.eggs))
    assert client.get(f"/producers/{people.eggs.id}/picklist?campaign_id={s.campaign.id}").get_json()["lines"] == []
    assert client.post(f"/producers/{people.eggs.id}/picklist/ack", json={"campaign_id": s.campaign.id}).status_code == 404


def test_notifications_lists_only_the_callers_own_in_app_messages(api_as):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)

    body = api_as(people.wang).get("/notifications").get_json()
    assert body["total"] == 2
    assert {n["kind"] for n in body["items"]} == {"below_minimum", "order_allocated"}
    assert body["items"][0]["title"] == "您在“春季消费扶贫”的订购已成团"

    producer_inbox = api_as(make_user(role="producer", producer=people.coop)).get("/notifications?per_page=1").get_json()
    assert producer_inbox["total"] == 1 and producer_inbox["items"][0]["kind"] == "picklist"
    assert api_as(make_user(role="operator")).get("/notifications").get_json()["total"] == 0


def test_after_the_close_buyers_see_their_orders_allocated_in_the_api_and_on_their_page(api_as, client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    wang = api_as(people.wang)
    assert {o["status"] for o in wang.get("/orders").get_json()["items"]} == {"placed"}

    closing.close_campaign(s.campaign.id)

    orders = wang.get("/orders").get_json()["items"]
    assert {o["status"] for o in orders} == {"allocated"}
    assert wang.get(f"/orders/{orders[0]['id']}").get_json()["status"] == "allocated"
    # Liu's only order held eggs, cancelled below minimum: cancelled, not allocated.
    assert {o["status"] for o in api_as(people.liu).get("/orders").get_json()["items"]} == {"cancelled"}
    auth.login(people.wang.phone)
    assert "备货中" in client.get("/orders/").get_data(as_text=True)
