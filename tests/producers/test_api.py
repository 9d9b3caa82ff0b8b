"""The producer and listing endpoints of the API: the workflow, filters, photos, and bad input as 422 field errors in
the caller's language with nothing saved."""

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from errors import InsufficientStock
from extensions import db
from factories import make_listing, make_producer, make_user
from producers.models import Listing, Producer
from producers.stock import commit_listing_quantity


def listing_body(**overrides):
    body = {
        "name": "马蹄",
        "category": "蔬果",
        "variety": "乐昌马蹄",
        "unit": "斤",
        "unit_weight_kg": 0.5,
        "price_fen": 450,
        "quantity": 20000,
        "ready_on": (date.today() + timedelta(days=2)).isoformat(),
        "description": "新鲜马蹄",
    }
    body.update(overrides)
    return body


def producer_body(**overrides):
    body = {
        "name": "邓志强马蹄种植户",
        "kind": "household",
        "town": "北乡镇",
        "village": "新岩村",
        "phone": "13800000108",
        "poverty_household": True,
        "poverty_id": "GD-LC-2017-00562",
    }
    body.update(overrides)
    return body


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_whole_workflow_through_the_api(api_as):
    operator = api_as(make_user(role="operator"))
    created = operator.post("/producers", json=producer_body())
    assert created.status_code == 201
    producer = created.get_json()
    assert (producer["status"], producer["poverty_id"], producer["linked_households"]) == ("pending", "GD-LC-2017-00562", 0)
    user = make_user(role="producer", producer=db.session.get(Producer, producer["id"]))
    farmer = api_as(user)

    listed = farmer.post("/listings", json=listing_body())
    assert listed.status_code == 201
    listing = listed.get_json()
    assert (listing["status"], listing["producer_id"], listing["unit_weight_kg"], listing["quantity_left"]) == (
        "pending",
        producer["id"],
        0.5,
        20000,
    )

    too_early = operator.post(f"/listings/{listing['id']}/approve")
    assert too_early.status_code == 409 and "邓志强马蹄种植户" in too_early.get_json()["error"]["message"]
    assert operator.post(f"/producers/{producer['id']}/approve").get_json()["status"] == "approved"

    rejected = operator.post(f"/listings/{listing['id']}/reject", json={"reason": "价格请与市场价一致"})
    assert rejected.status_code == 200 and rejected.get_json()["reject_reason"] == "价格请与市场价一致"
    assert farmer.get(f"/listings/{listing['id']}").get_json()["reject_reason"] == "价格请与市场价一致"
    resubmitted = farmer.patch(f"/listings/{listing['id']}", json={"price_fen": 400})
    assert resubmitted.get_json()["status"] == "pending"
    approved = operator.post(f"/listings/{listing['id']}/approve")
    assert approved.get_json()["status"] == "approved"
    assert operator.get("/listings?status=approved").get_json()["total"] == 1
    assert operator.get("/listings?status=pending").get_json()["total"] == 0


def test_operator_lists_for_a_household_and_must_name_it(api_as):
    operator = api_as(make_user(role="operator"))
    household = make_producer()
    missing = operator.post("/listings", json=listing_body())
    assert missing.status_code == 422 and "producer_id" in missing.get_json()["error"]["details"]["fields"]
    created = operator.post("/listings", json=listing_body(producer_id=household.id))
    assert created.status_code == 201 and created.get_json()["producer_id"] == household.id


def test_lists_filter_and_page(api_as):
    operator = api_as(make_user(role="operator"))
    a = make_producer(town="秀水镇", poverty=True)
    b = make_producer(town="北乡镇", kind="cooperative", linked_households=4)
    make_listing(producer=a, status="pending")
    make_listing(producer=a, status="approved")
    make_listing(producer=b, status="approved")
    assert operator.get(f"/listings?producer_id={a.id}").get_json()["total"] == 2
    assert operator.get(f"/listings?producer_id={a.id}&status=approved").get_json()["total"] == 1
    assert [p["id"] for p in operator.get("/producers?town=秀水镇").get_json()["items"]] == [a.id]
    assert [p["id"] for p in operator.get("/producers?poverty=true").get_json()["items"]] == [a.id]
    assert [p["id"] for p in operator.get("/producers?kind=cooperative").get_json()["items"]] == [b.id]
    page = operator.get("/producers?per_page=1&page=2").get_json()
    assert (page["total"], page["page"], len(page["items"])) == (2, 2, 1)
    bad = operator.get("/listings?status=lost")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["details"]["fields"]


def test_a_producer_sees_only_itself_and_its_listings(api_as):
    mine = make_listing(status="approved")
    theirs = make_listing(status="approved")
    farmer = api_as(make_user(role="producer", producer=mine.producer))
    assert [p["id"] for p in farmer.get("/producers").get_json()["items"]] == [mine.producer_id]
    assert [item["id"] for item in farmer.get("/listings").get_json()["items"]] == [mine.id]
    assert farmer.get(f"/listings?producer_id={theirs.producer_id}").status_code == 404
    assert farmer.get(f"/producers/{mine.producer_id}").status_code == 200


def test_producer_patches_its_contact_details_not_its_poverty_status(api_as):
    producer = make_producer(poverty=True)
    farmer = api_as(make_user(role="producer", producer=producer))
    ok = farmer.patch(f"/producers/{producer.id}", json={"phone": "13800007777", "village": "新村"})
    assert ok.status_code == 200 and ok.get_json()["phone"] == "13800007777"
    refused = farmer.patch(f"/producers/{producer.id}", json={"poverty_household": False})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"]["fields"] == {"poverty_household": ["只有运营人员可以修改此项。"]}


def test_photo_upload_endpoint(api_as, jpeg, stored_files, app):
    listing = make_listing(status="pending")
    farmer = api_as(make_user(role="producer", producer=listing.producer))
    uploaded = farmer.post(
        f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data"
    )
    assert uploaded.status_code == 201
    photo = uploaded.get_json()
    # Named by a random token, not by its id: photo URLs cannot be enumerated.
    assert re.fullmatch(r"/producers/photos/[0-9a-f]{32}", photo["url"]) and photo["thumbnail_url"] == photo["url"] + "/thumb"
    assert farmer.get(f"/listings/{listing.id}").get_json()["photos"] == [photo]

    fake = farmer.post(
        f"/listings/{listing.id}/photos",
        data={"photo": (io.BytesIO(b"%PDF-1.4 fake"), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422 and "photo" in fake.get_json()["error"]["details"]["fields"]
    missing = farmer.post(f"/listings/{listing.id}/photos", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and missing.get_json()["error"]["details"]["fields"]["photo"] == ["此项为必填项。"]
    app.config["MAX_PHOTO_BYTES"] = 1000
    big = farmer.post(
        f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data"
    )
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    assert len(stored_files()) == 2

    assert farmer.delete(f"/listings/{listing.id}/photos/{photo['id']}").status_code == 204
    assert stored_files() == [] and farmer.get(f"/listings/{listing.id}").get_json()["photos"] == []


def test_withdraw_endpoint(api_as):
    listing = make_listing(status="approved")
    farmer = api_as(make_user(role="producer", producer=listing.producer))
    assert farmer.post(f"/listings/{listing.id}/withdraw").get_json()["status"] == "withdrawn"
    again = farmer.post(f"/listings/{listing.id}/withdraw")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"name": None}, "name"),
        ({"name": 42}, "name"),
        ({"name": "<script>alert(1)</script>"}, "name"),
        ({"price_fen": 100_000_000_000}, "price_fen"),  # ¥10⁹
        ({"price_fen": -150}, "price_fen"),
        ({"price_fen": "150"}, "price_fen"),
        ({"price_fen": 1.5}, "price_fen"),
        ({"price_fen": True}, "price_fen"),
        ({"quantity": 10**12}, "quantity"),
        ({"quantity": 4.4e-163}, "quantity"),
        ({"quantity": 10**40}, "quantity"),
        ({"unit_weight_kg": -1}, "unit_weight_kg"),
        ({"unit_weight_kg": 0}, "unit_weight_kg"),
        ({"unit_weight_kg": 1.2345}, "unit_weight_kg"),
        ({"unit_weight_kg": 1e9}, "unit_weight_kg"),
        ({"unit_weight_kg": "1.5"}, "unit_weight_kg"),
        ({"ready_on": "tomorrow"}, "ready_on"),
        ({"ready_on": "2020-02-30"}, "ready_on"),
        ({"category": ""}, "category"),
        ({"unit": "x" * 9}, "unit"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_listing_bodies_are_422_with_the_field_named_and_nothing_saved(api_as, changes, field):
    farmer = api_as(make_user(role="producer"))
    response = farmer.post("/listings", json=listing_body(**changes))
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert count(Listing) == 0


def test_missing_fields_are_all_named_in_chinese(api_as):
    farmer = api_as(make_user(role="producer"))
    response = farmer.post("/listings", json={})
    fields = response.get_json()["error"]["details"]["fields"]
    assert set(fields) == {"name", "category", "unit", "price_fen", "quantity", "ready_on"}
    assert fields["price_fen"] == ["此项为必填项。"]
    wrong_type = farmer.post("/listings", json=listing_body(quantity="十个"))
    assert wrong_type.get_json()["error"]["details"]["fields"]["quantity"] == ["请输入整数。"]
    english = farmer.post("/listings", json=listing_body(quantity="ten"), headers={"Accept-Language": "en"})
    assert english.get_json()["error"]["details"]["fields"]["quantity"] == ["Enter a whole number."]


def test_absurd_numbers_get_messages_that_say_the_limit(api_as):
    farmer = api_as(make_user(role="producer"))
    fields = farmer.post("/listings", json=listing_body(price_fen=10**11, quantity=10**12, unit_weight_kg=5000)).get_json()[
        "error"
    ]["details"]["fields"]
    assert (
        "100,000" in fields["price_fen"][0] and "10,000,000" in fields["quantity"][0] and "1,000" in fields["unit_weight_kg"][0]
    )


def test_not_json_and_not_an_object(api_as):
    farmer = api_as(make_user(role="producer"))
    garbage = farmer.post("/listings", data="{nope", content_type="application/json")
    assert garbage.status_code in (400, 422) and "error" in garbage.get_json()
    a_list = farmer.post("/listings", json=[listing_body()])
    assert a_list.status_code == 422
    assert count(Listing) == 0


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"kind": "farm"}, "kind"),
        ({"town": "广州"}, "town"),
        ({"phone": "110"}, "phone"),
        ({"poverty_household": "yes"}, "poverty_household"),
        ({"poverty_id": None}, "poverty_id"),
        (
            {"linked_households": 10**9, "kind": "cooperative", "poverty_household": False, "poverty_id": None},
            "linked_households",
        ),
        ({"name": "<b>户</b>"}, "name"),
        ({"village": ""}, "village"),
    ],
)
def test_bad_producer_bodies(api_as, changes, field):
    operator = api_as(make_user(role="operator"))
    response = operator.post("/producers", json=producer_body(**changes))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["fields"]
    assert count(Producer) == 0


def test_reject_needs_a_reason(api_as):
    listing = make_listing(status="pending")
    operator = api_as(make_user(role="operator"))
    assert operator.post(f"/listings/{listing.id}/reject", json={}).status_code == 422
    blank = operator.post(f"/listings/{listing.id}/reject", json={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.get_json()["error"]["details"]["fields"]
    db.session.refresh(listing)
    assert listing.status == "pending"


def test_openapi_documents_the_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/producers",
        "/api/v1/producers/{producer_id}",
        "/api/v1/listings",
        "/api/v1/listings/{listing_id}/approve",
        "/api/v1/listings/{listing_id}/reject",
        "/api/v1/listings/{listing_id}/photos",
    ):
        assert path in paths


def test_operator_edits_and_suspends_a_producer_then_its_goods_cannot_go_into_campaigns(api_as):
    listing = make_listing(status="approved", quantity=50)
    operator = api_as(make_user(role="operator"))
    edited = operator.patch(f"/producers/{listing.producer_id}", json={"kind": "cooperative", "linked_households": 12})
    assert edited.status_code == 200 and (edited.get_json()["kind"], edited.get_json()["linked_households"]) == (
        "cooperative",
        12,
    )
    assert operator.post(f"/producers/{listing.producer_id}/suspend").get_json()["status"] == "suspended"
    with pytest.raises(InsufficientStock) as refused:
        commit_listing_quantity(listing.id, 1)
    assert "暂停" in refused.value.message
    db.session.rollback()
    farmer = api_as(make_user(role="producer", producer=listing.producer))
    blocked = farmer.patch(f"/listings/{listing.id}", json={"quantity": 60})
    assert blocked.status_code == 403 and "暂停" in blocked.get_json()["error"]["message"]
    assert operator.post(f"/producers/{listing.producer_id}/approve").get_json()["status"] == "approved"
    commit_listing_quantity(listing.id, 1)
    db.session.commit()
    assert operator.get(f"/listings/{listing.id}").get_json()["quantity_left"] == 49
