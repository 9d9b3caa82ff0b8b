"""The producer and listing services: registry rules, the review workflow, the audit log, and stock taken by campaigns."""

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from database import utcnow
from errors import Conflict, Forbidden, InsufficientStock, NotFound, ValidationFailed
from extensions import db
from factories import make_listing, make_producer, make_user
from notifications.models import Notification
from producers import listings, profiles, review, stock
from producers.models import Listing, Producer
from producers.towns import LECHANG_TOWNS


def producer_fields(**overrides):
    fields = dict(
        name="陈华养鸡户",
        kind="household",
        town="秀水镇",
        village="高山村",
        phone="13800000106",
        poverty_household=True,
        poverty_id="GD-LC-2016-00318",
    )
    fields.update(overrides)
    return fields


def listing_fields(**overrides):
    fields = dict(
        name="鸡蛋",
        category="蛋类",
        variety="土鸡蛋",
        unit="个",
        unit_weight_g=50,
        price_fen=150,
        quantity=1000,
        ready_on=date.today() + timedelta(days=3),
        description="散养土鸡蛋",
    )
    fields.update(overrides)
    return fields


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---------------------------------------------------------------- towns


def test_lechang_has_seventeen_towns_and_the_list_is_configurable(app):
    assert len(LECHANG_TOWNS) == len(set(LECHANG_TOWNS)) == 17
    assert "乐城街道" in LECHANG_TOWNS and "坪石镇" in LECHANG_TOWNS
    operator = make_user(role="operator")
    app.config["PRODUCER_TOWNS"] = ["仁化镇", "丹霞街道"]
    with pytest.raises(ValidationFailed) as refused:
        profiles.create_producer(operator, **producer_fields(town="秀水镇"))
    assert set(refused.value.fields) == {"town"}
    assert profiles.create_producer(operator, **producer_fields(town="丹霞街道")).town == "丹霞街道"


def test_towns_and_photo_limit_come_from_the_environment(monkeypatch):
    from config import load_config

    monkeypatch.setenv("PRODUCER_TOWNS", "仁化镇, 丹霞街道,")
    monkeypatch.setenv("MAX_PHOTO_BYTES", "1048576")
    config = load_config("testing")
    assert (config.PRODUCER_TOWNS, config.MAX_PHOTO_BYTES) == (["仁化镇", "丹霞街道"], 1048576)
    monkeypatch.delenv("PRODUCER_TOWNS")
    assert load_config("testing").PRODUCER_TOWNS == []  # empty: Lechang's 17


# ---------------------------------------------------------------- producers


def test_operator_registers_a_household_pending_until_approved(app):
    operator = make_user(role="operator")
    producer = profiles.create_producer(operator, **producer_fields(phone="+86 138-0000-0106"))
    assert (producer.status, producer.phone, producer.poverty_id) == ("pending", "13800000106", "GD-LC-2016-00318")
    profiles.approve_producer(operator, producer)
    profiles.suspend_producer(operator, producer)
    assert producer.status == "suspended"
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.object_type == "Producer").order_by(AuditEntry.id)
    ).all()
    assert actions == ["producer.create", "producer.approve", "producer.suspend"]


def test_every_wrong_producer_field_at_once_and_nothing_saved(app):
    operator = make_user(role="operator")
    with pytest.raises(ValidationFailed) as refused:
        profiles.create_producer(
            operator,
            name="<script>alert(1)</script>",
            kind="farm",
            town="纽约",
            village="",
            phone="12345",
            email="not-an-email",
            poverty_household=True,
            poverty_id=None,
            linked_households=-3,
        )
    assert set(refused.value.fields) == {"name", "kind", "town", "village", "phone", "email", "poverty_id", "linked_households"}
    assert count(Producer) == 0


def test_poverty_rules_by_kind(app):
    operator = make_user(role="operator")
    with pytest.raises(ValidationFailed) as cooperative_as_poor:
        profiles.create_producer(operator, **producer_fields(kind="cooperative"))
    assert set(cooperative_as_poor.value.fields) == {"poverty_household"}
    with pytest.raises(ValidationFailed) as household_with_links:
        profiles.create_producer(operator, **producer_fields(linked_households=5))
    assert set(household_with_links.value.fields) == {"linked_households"}
    coop = profiles.create_producer(
        operator,
        **producer_fields(
            name="秀水镇雪毛鸡养殖合作社", kind="cooperative", poverty_household=False, poverty_id=None, linked_households=23
        ),
    )
    assert coop.linked_households == 23 and coop.poverty_id is None
    profiles.create_producer(operator, **producer_fields())
    with pytest.raises(ValidationFailed) as same_registry_number:
        profiles.create_producer(operator, **producer_fields(name="另一户", phone="13800000107"))
    assert "poverty_id" in same_registry_number.value.fields


def test_only_operators_register_producers(app):
    with pytest.raises(Forbidden):
        profiles.create_producer(make_user(role="producer"), **producer_fields())


def test_producer_edits_its_contact_details_but_not_its_vetted_facts(app):
    producer = make_producer(poverty=True, town="秀水镇")
    user = make_user(role="producer", producer=producer)
    profiles.update_producer(user, producer, phone="13800009999", village="新村", town="北乡镇")
    assert (producer.phone, producer.village, producer.town) == ("13800009999", "新村", "北乡镇")
    with pytest.raises(ValidationFailed) as refused:
        profiles.update_producer(user, producer, poverty_household=False, linked_households=3)
    assert set(refused.value.fields) == {"poverty_household", "linked_households"}
    db.session.refresh(producer)
    assert producer.poverty_household is True
    with pytest.raises(NotFound):
        profiles.update_producer(user, make_producer(), phone="13800001111")


# ---------------------------------------------------------------- listings: create, validate


def test_producer_lists_goods_pending_review(app):
    producer = make_producer()
    user = make_user(role="producer", producer=producer)
    listing = listings.create_listing(user, **listing_fields())
    assert (listing.producer_id, listing.status, listing.quantity_left, listing.created_by_id) == (
        producer.id,
        "pending",
        1000,
        user.id,
    )
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "listing.create"))
    assert entry.actor_id == user.id and entry.on_behalf_of is None


def test_operator_acting_for_a_household_is_recorded_as_such(app):
    household = make_producer(name="李桂英蛋鸡户", poverty=True)
    operator = make_user(role="operator", name="扶贫办小王")
    listing = listings.create_listing(operator, household.id, **listing_fields())
    listings.update_listing(operator, listing, quantity=800)
    entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.object_type == "Listing").order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor_id, e.on_behalf_of) for e in entries] == [
        ("listing.create", operator.id, "李桂英蛋鸡户"),
        ("listing.update", operator.id, "李桂英蛋鸡户"),
    ]
    assert listing.producer_id == household.id


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"name": ""}, "name"),
        ({"name": "鸡蛋<script>alert(1)</script>"}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"category": None}, "category"),
        ({"unit": "<b>"}, "unit"),
        ({"unit": "一二三四五六七八九"}, "unit"),
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": 100_000_000_000}, "price_fen"),  # ¥10⁹
        ({"price_fen": None}, "price_fen"),
        ({"price_fen": 1.5}, "price_fen"),
        ({"quantity": 10**12}, "quantity"),
        ({"quantity": -5}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"unit_weight_g": 0}, "unit_weight_kg"),
        ({"unit_weight_g": -500}, "unit_weight_kg"),
        ({"unit_weight_g": 1_000_001}, "unit_weight_kg"),
        ({"ready_on": None}, "ready_on"),
        ({"ready_on": "next week"}, "ready_on"),
        ({"ready_on": date.today() + timedelta(days=400)}, "ready_on"),
        ({"ready_on": date.today() - timedelta(days=60)}, "ready_on"),
        ({"description": "x" * 2001}, "description"),
        ({"description": "bad\x00byte"}, "description"),
    ],
)
def test_bad_listing_fields_are_refused_and_nothing_saved(app, changes, field):
    user = make_user(role="producer")
    with pytest.raises(ValidationFailed) as refused:
        listings.create_listing(user, **listing_fields(**changes))
    assert set(refused.value.fields) == {field}
    assert count(Listing) == 0


def test_limits_themselves_are_accepted(app):
    user = make_user(role="producer")
    listing = listings.create_listing(
        user,
        **listing_fields(price_fen=10_000_000, quantity=10_000_000, unit_weight_g=1_000_000, description="<p>多行\n描述</p>"),
    )
    assert (listing.price_fen, listing.quantity, listing.unit_weight_g) == (10_000_000, 10_000_000, 1_000_000)


def test_a_producer_cannot_list_for_another_or_while_suspended(app):
    user = make_user(role="producer")
    with pytest.raises(NotFound):
        listings.create_listing(user, make_producer().id, **listing_fields())
    user.producer.status = "suspended"
    db.session.commit()
    with pytest.raises(Forbidden):
        listings.create_listing(user, **listing_fields())
    assert count(Listing) == 0


# ---------------------------------------------------------------- review


def test_approve_and_reject_with_a_reason_the_producer_is_told(app):
    producer = make_producer(status="approved")
    operator = make_user(role="operator")
    user = make_user(role="producer", producer=producer)
    listing = listings.create_listing(user, **listing_fields())
    with pytest.raises(ValidationFailed):
        review.reject_listing(operator, listing, "  ")
    review.reject_listing(operator, listing, "照片看不清,请补拍")
    assert (listing.status, listing.reject_reason) == ("rejected", "照片看不清,请补拍")
    # The producer fixes it: it goes back to the queue, then is approved.
    listings.update_listing(user, listing, variety="散养土鸡蛋")
    assert (listing.status, listing.reject_reason) == ("pending", None)
    assert listing in review.review_queue()
    review.approve_listing(operator, listing)
    assert listing.status == "approved" and listing not in review.review_queue()
    notes = db.session.scalars(
        sa.select(Notification)
        .where(Notification.producer_id == producer.id, Notification.channel == "inapp")
        .order_by(Notification.id)
    ).all()
    assert len(notes) == 2
    assert "照片看不清" in notes[0].body and "通过" in notes[1].title


def test_only_an_approved_producers_listing_can_be_approved(app):
    operator = make_user(role="operator")
    listing = make_listing(producer=make_producer(status="pending"), status="pending")
    with pytest.raises(Conflict) as refused:
        review.approve_listing(operator, listing)
    assert listing.producer.name in refused.value.message
    assert listing.status == "pending"
    profiles.approve_producer(operator, listing.producer)
    assert review.approve_listing(operator, listing).status == "approved"


def test_review_needs_an_operator(app):
    listing = make_listing(status="pending")
    owner = make_user(role="producer", producer=listing.producer)
    with pytest.raises(Forbidden):
        review.approve_listing(owner, listing)
    with pytest.raises(Forbidden):
        review.reject_listing(owner, listing, "no")


def test_producer_changes_keep_or_lose_approval(app):
    listing = make_listing(status="approved", quantity=100)
    user = make_user(role="producer", producer=listing.producer)
    listings.update_listing(user, listing, quantity=150, ready_on=date.today() + timedelta(days=9))
    assert listing.status == "approved"
    listings.update_listing(user, listing, price_fen=180)
    assert listing.status == "pending"
    operator = make_user(role="operator")
    review.approve_listing(operator, listing)
    listings.update_listing(operator, listing, price_fen=170)
    assert listing.status == "approved"  # an operator's correction needs no second review


def test_quantity_never_below_what_campaigns_took_and_unit_fixed_then(app):
    listing = make_listing(status="approved", quantity=100)
    stock.commit_listing_quantity(listing.id, 60)
    db.session.commit()
    user = make_user(role="producer", producer=listing.producer)
    with pytest.raises(ValidationFailed) as refused:
        listings.update_listing(user, listing, quantity=59, unit="袋")
    assert set(refused.value.fields) == {"quantity", "unit"}
    listings.update_listing(user, listing, quantity=60)
    assert (listing.quantity_left, listing.status) == (0, "sold_out")
    listings.update_listing(user, listing, quantity=80)
    assert (listing.quantity_left, listing.status) == (20, "approved")


def test_withdraw(app):
    listing = make_listing(status="approved", quantity=10)
    user = make_user(role="producer", producer=listing.producer)
    stock.commit_listing_quantity(listing.id, 1)
    db.session.commit()
    with pytest.raises(Conflict):
        listings.withdraw_listing(user, listing)
    stock.release_listing_quantity(listing.id, 1)
    db.session.commit()
    assert listings.withdraw_listing(user, listing).status == "withdrawn"
    with pytest.raises(Conflict):
        listings.update_listing(user, listing, quantity=5)
    with pytest.raises(Conflict):
        review.approve_listing(make_user(role="operator"), listing)


# ---------------------------------------------------------------- stock taken by campaigns


def test_commit_takes_from_what_is_left_and_marks_sold_out(app):
    listing = make_listing(status="approved", quantity=100)
    stock.commit_listing_quantity(listing.id, 70)
    assert listing.quantity_left == 30  # the loaded object is refreshed
    with pytest.raises(InsufficientStock) as refused:
        stock.commit_listing_quantity(listing.id, 31)
    assert "30" in refused.value.message and refused.value.details["left"] == 30
    stock.commit_listing_quantity(listing.id, 30)
    assert (listing.quantity_left, listing.status) == (0, "sold_out")
    with pytest.raises(InsufficientStock):
        stock.commit_listing_quantity(listing.id, 1)
    stock.release_listing_quantity(listing.id, 40)
    assert (listing.quantity_left, listing.status) == (40, "approved")
    with pytest.raises(Conflict):
        stock.release_listing_quantity(listing.id, 61)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).quantity_committed == 60


def test_commit_does_not_commit_the_transaction(app):
    listing = make_listing(status="approved", quantity=100)
    stock.commit_listing_quantity(listing.id, 50)
    db.session.rollback()
    assert db.session.get(Listing, listing.id).quantity_committed == 0


@pytest.mark.parametrize(
    "status,producer_status",
    [("pending", "approved"), ("rejected", "approved"), ("withdrawn", "approved"), ("approved", "suspended")],
)
def test_commit_needs_an_approved_listing_of_an_approved_producer(app, status, producer_status):
    listing = make_listing(status=status, producer=make_producer(status=producer_status), quantity=100)
    with pytest.raises(InsufficientStock):
        stock.commit_listing_quantity(listing.id, 1)
    db.session.rollback()
    assert db.session.get(Listing, listing.id).quantity_committed == 0


def test_commit_refuses_nonsense(app):
    listing = make_listing(status="approved")
    for bad in (0, -3, "5", 2.5, None):
        with pytest.raises(ValidationFailed):
            stock.commit_listing_quantity(listing.id, bad)
    with pytest.raises(NotFound):
        stock.commit_listing_quantity(999_999, 1)


def test_concurrent_commits_never_take_more_than_is_left(app):
    """Twelve campaigns' operators take 20 each of 100 at the same moment: exactly five succeed."""
    listing = make_listing(status="approved", quantity=100)
    listing_id = listing.id
    db.session.remove()
    outcomes = []
    barrier = threading.Barrier(12)

    def take():
        with app.app_context():
            barrier.wait()
            try:
                stock.commit_listing_quantity(listing_id, 20)
                db.session.commit()
                outcomes.append("ok")
            except InsufficientStock:
                db.session.rollback()
                outcomes.append("short")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=take) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = db.session.get(Listing, listing_id)
    assert sorted(outcomes) == ["ok"] * 5 + ["short"] * 7
    assert (stored.quantity_committed, stored.status) == (100, "sold_out")


def test_audit_trail_for_a_producer(app):
    operator = make_user(role="operator")
    producer = profiles.create_producer(operator, **producer_fields())
    profiles.approve_producer(operator, producer)
    listing = listings.create_listing(operator, producer.id, **listing_fields())
    review.approve_listing(operator, listing)
    other = profiles.create_producer(operator, **producer_fields(name="别家", phone="13800000999", poverty_id="GD-X-0001"))
    listings.create_listing(operator, other.id, **listing_fields())
    trail = profiles.audit_trail(producer)
    assert [e.action for e in trail] == ["listing.approve", "listing.create", "producer.approve", "producer.create"]
    assert utcnow() - trail[0].at < timedelta(minutes=5)
