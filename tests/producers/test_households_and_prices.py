"""A cooperative's linked poor households by registry number, so income is attributed per household (issue 17.4), and a
listing's reference market price, flagged in review when the price is above it by more than the set share (17.5)."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from errors import Conflict, Forbidden, ValidationFailed
from extensions import db
from factories import make_listing, make_producer, make_user
from producers import households, listings, profiles
from producers.models import LinkedHousehold, Listing, Producer
from producers.pricing import price_check


def page(response):
    return response.get_data(as_text=True)


@pytest.fixture
def cooperative(app):
    return make_producer(name="乐昌市雪毛鸡合作社", kind="cooperative", linked_households=12)


@pytest.fixture
def operator(app):
    return make_user(role="operator")


def household(actor, producer, number, **kw):
    values = dict(name="李四", town="秀水镇", village="秀水村", registry_number=number, links=["wages"])
    values.update(kw)
    return households.add_household(actor, producer.id, **values)


def count_of(producer):
    db.session.expire_all()
    return db.session.get(Producer, producer.id).linked_households


# ---------------------------------------------------------------- households


def test_listed_households_replace_the_recorded_count_and_carry_their_income_shares(operator, cooperative):
    assert count_of(cooperative) == 12  # a number only, until households are listed
    first = household(operator, cooperative, "GD-440281-001", share_pct=50, links=["wages", "dividend"], reason="入股分红")
    second = household(operator, cooperative, "GD-440281-002")
    third = household(operator, cooperative, "GD-440281-003")
    assert count_of(cooperative) == 3
    listed = db.session.get(Producer, cooperative.id).households
    assert [h.registry_number for h in listed] == ["GD-440281-001", "GD-440281-002", "GD-440281-003"]
    # 50 % agreed; the other 50 % split equally, to the basis point, adding up to the whole.
    assert households.income_shares(listed) == {first.id: 5000, second.id: 2500, third.id: 2500}
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "producer.household.add")).first()
    assert audit.actor_id == operator.id and audit.details["reason"] == "入股分红" and audit.details["links"] == "wages,dividend"

    households.remove_household(operator, cooperative.id, third.id, reason="已脱贫不再合作")
    assert count_of(cooperative) == 2
    removed = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "producer.household.remove")).one()
    assert removed.details == {"reason": "已脱贫不再合作", "household_id": third.id, "registry_number": "GD-440281-003"}


def test_bad_households_are_refused_and_nothing_changes(operator, cooperative):
    household(operator, cooperative, "GD-440281-001", share_pct=80)
    for number, kw, field in [
        ("GD-440281-001", {}, "registry_number"),
        ("bad number!", {}, "registry_number"),
        ("GD-440281-009", {"share_pct": 30}, "share_pct"),
        ("GD-440281-009", {"links": []}, "links"),
        ("GD-440281-009", {"name": ""}, "name"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            household(operator, cooperative, number, **kw)
        assert field in refused.value.fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LinkedHousehold)) == 1
    assert count_of(cooperative) == 1
    with pytest.raises(Conflict):
        household(operator, make_producer(kind="household"), "GD-440281-010")
    with pytest.raises(Forbidden):
        household(make_user(role="producer", producer=cooperative), cooperative, "GD-440281-011")
    with pytest.raises(ValidationFailed):
        households.remove_household(operator, cooperative.id, 1, reason="")


def test_the_count_cannot_be_typed_over_a_list(operator, cooperative):
    household(operator, cooperative, "GD-440281-001")
    with pytest.raises(ValidationFailed) as refused:
        profiles.update_producer(operator, db.session.get(Producer, cooperative.id), linked_households=40)
    assert "linked_households" in refused.value.fields
    profiles.update_producer(operator, db.session.get(Producer, cooperative.id), linked_households=1, name="新名字")
    assert count_of(cooperative) == 1


def test_api_lists_households_on_the_producer(api_as, cooperative):
    operator = api_as(make_user(role="operator"))
    body = {"name": "王五", "town": "秀水镇", "village": "秀水村", "registry_number": "GD-1001", "links": ["purchase"]}
    created = operator.post(f"/producers/{cooperative.id}/households", json=body)
    assert created.status_code == 201, created.get_json()
    assert operator.post(f"/producers/{cooperative.id}/households", json=body).status_code == 422  # the same one twice
    shown = operator.get(f"/producers/{cooperative.id}").get_json()
    assert shown["linked_households"] == 1
    assert shown["households"] == [
        {
            "id": created.get_json()["id"],
            "name": "王五",
            "town": "秀水镇",
            "village": "秀水村",
            "registry_number": "GD-1001",
            "links": ["purchase"],
            "share_pct": None,
            "income_share_bp": 10000,
        }
    ]
    own = api_as(make_user(role="producer", producer=cooperative))
    assert own.get(f"/producers/{cooperative.id}/households").get_json()["items"][0]["registry_number"] == "GD-1001"
    assert own.post(f"/producers/{cooperative.id}/households", json=body).status_code == 403
    household_id = created.get_json()["id"]
    assert operator.delete(f"/producers/{cooperative.id}/households/{household_id}", json={}).status_code == 422
    assert operator.delete(f"/producers/{cooperative.id}/households/{household_id}", json={"reason": "录错"}).status_code == 204
    # None listed any more: the count stays as it was last, an operator may change it again.
    assert operator.get(f"/producers/{cooperative.id}").get_json()["households"] == []


def test_the_households_page_lists_registry_numbers_and_adds_one(client, auth, operator, cooperative):
    auth.login(operator.phone)
    assert "GD-440281-777" not in page(client.get(f"/producers/registry/{cooperative.id}/households"))
    refused = client.post(f"/producers/registry/{cooperative.id}/households", data={"name": "赵六"})
    assert refused.status_code == 422
    added = client.post(
        f"/producers/registry/{cooperative.id}/households",
        data={"name": "赵六", "town": "秀水镇", "village": "秀水村", "registry_number": "GD-440281-777", "links": ["dividend"]},
    )
    assert added.status_code == 302
    shown = page(client.get(f"/producers/registry/{cooperative.id}/households"))
    assert "GD-440281-777" in shown and "赵六" in shown and "100.00%" in shown
    hid = db.session.scalar(sa.select(LinkedHousehold.id))
    client.post(f"/producers/registry/{cooperative.id}/households/{hid}/remove", data={"reason": "错误"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LinkedHousehold)) == 0


# ---------------------------------------------------------------- reference prices


def test_the_price_check_flags_only_above_the_set_share(app):
    assert price_check(600, 500).flagged is False  # exactly 20 % above
    check = price_check(601, 500)
    assert check.flagged and check.difference_fen == 101 and check.above_pct == 20.2
    assert price_check(450, 500).difference_fen == -50 and not price_check(450, 500).flagged
    assert price_check(450, None) is None
    app.config["PRICE_ABOVE_REFERENCE_PCT"] = 10
    assert price_check(560, 500).flagged


def test_a_producers_change_of_the_reference_price_goes_back_to_review(app, cooperative):
    own = make_user(role="producer", producer=cooperative)
    listing = listings.create_listing(
        own,
        name="天堂姜",
        category="蔬果",
        unit="斤",
        price_fen=800,
        quantity=100,
        ready_on=date.today() + timedelta(days=1),
        reference_price_fen=600,
        reference_price_note="乐昌农贸市场 12月",
    )
    assert (listing.reference_price_fen, listing.reference_price_note) == (600, "乐昌农贸市场 12月")
    listing.status = "approved"
    db.session.commit()
    listings.update_listing(own, listing, reference_price_fen=900)
    assert db.session.get(Listing, listing.id).status == "pending"
    with pytest.raises(ValidationFailed) as refused:
        listings.update_listing(own, listing, reference_price_fen=0)
    assert "reference_price_fen" in refused.value.fields


def test_api_shows_the_price_check_and_the_review_page_flags_it(api_as, client, auth, operator, cooperative):
    own = api_as(make_user(role="producer", producer=cooperative))
    created = own.post(
        "/listings",
        json={
            "name": "天堂姜",
            "category": "蔬果",
            "unit": "斤",
            "price_fen": 800,
            "quantity": 50,
            "ready_on": (date.today() + timedelta(days=1)).isoformat(),
            "reference_price_fen": 500,
            "reference_price_note": "县农贸市场",
        },
    )
    assert created.status_code == 201, created.get_json()
    check = created.get_json()["price_check"]
    assert check == {"reference_price_fen": 500, "difference_fen": 300, "above_pct": 60.0, "flagged": True}
    make_listing(cooperative, name="鸡蛋", status="pending", price_fen=150, reference_price_fen=140)

    auth.login(operator.phone)
    shown = page(client.get("/producers/review"))
    assert shown.count("price-flag") == 1 and "¥3.00" in shown and "60.0%" in shown and "县农贸市场" in shown


def test_the_listing_form_takes_a_market_price_in_yuan(client, auth, cooperative):
    own = make_user(role="producer", producer=cooperative)
    auth.login(own.phone)
    response = client.post(
        "/producers/listings/new",
        data={
            "name": "马蹄",
            "category": "蔬果",
            "unit": "斤",
            "price_yuan": "4.50",
            "quantity": "80",
            "ready_on": (date.today() + timedelta(days=1)).isoformat(),
            "reference_price_yuan": "4.00",
            "reference_price_note": "市场价",
        },
    )
    assert response.status_code == 302, page(response)
    stored = db.session.scalar(sa.select(Listing).where(Listing.name == "马蹄"))
    assert (stored.reference_price_fen, stored.reference_price_note) == (400, "市场价")
    assert 'value="4.00"' in page(client.get(f"/producers/listings/{stored.id}/edit"))
