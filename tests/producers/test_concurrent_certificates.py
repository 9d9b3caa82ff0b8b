"""Certificates and households under concurrency, on SQLite and PostgreSQL with real threads: two expiry sweeps at
once tell a producer once; two operators recording the same admission or household at once leave one row."""

from datetime import date, timedelta

import sqlalchemy as sa

from accounts.models import User
from database import local_today
from errors import ValidationFailed
from extensions import db
from factories import make_listing, make_producer, make_user
from notifications.models import Notification
from producers import certificates, expiry, households
from producers.models import Certificate, LinkedHousehold, Producer
from racing import run_at_once


def test_two_expiry_sweeps_at_once_tell_each_certificate_once(backend_app):
    operator = make_user(role="operator")
    producer = make_producer(kind="cooperative")
    listings = [make_listing(producer, name=f"货品{n}") for n in range(4)]
    for listing in listings:
        certificates.add_listing_certificate(
            operator,
            listing.id,
            kind="compliance_promise",
            number=f"P-{listing.id}",
            valid_until=local_today() + timedelta(days=9),
        )
    results, errors = run_at_once(backend_app, expiry.send_expiry_notices, times=3)
    assert errors == [] and sum(results) == 4
    inapp = db.session.scalars(
        sa.select(Notification).where(Notification.kind == "certificate_expiring", Notification.channel == "inapp")
    ).all()
    assert len(inapp) == 4 and len({n.subject for n in inapp}) == 4
    assert all(c.noticed_until == c.valid_until for c in db.session.scalars(sa.select(Certificate)))


def test_two_first_admissions_at_once_leave_one(backend_app):
    operator = make_user(role="operator")
    producer = make_producer(kind="cooperative")
    dates = iter([date(2027, 1, 1), date(2028, 1, 1)])

    operator_id, producer_id = operator.id, producer.id

    def record():
        # Each thread works in its own session: its own copy of the operator.
        return certificates.record_admission(
            db.session.get(User, operator_id),
            producer_id,
            number="GD-1",
            county="乐昌市",
            valid_until=next(dates),
            links=["wages"],
        ).id

    results, errors = run_at_once(backend_app, record)
    assert errors == [] and len(set(results)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1


def test_the_same_household_added_twice_at_once_is_listed_once(backend_app):
    operator = make_user(role="operator")
    producer = make_producer(kind="cooperative", linked_households=5)

    operator_id, producer_id = operator.id, producer.id

    def add():
        return households.add_household(
            db.session.get(User, operator_id),
            producer_id,
            name="李四",
            town="秀水镇",
            village="秀水村",
            registry_number="GD-0001",
            links=["wages"],
        ).id

    results, errors = run_at_once(backend_app, add)
    assert len(results) == 1 and len(errors) == 1 and isinstance(errors[0], ValidationFailed)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LinkedHousehold)) == 1
    db.session.expire_all()
    assert db.session.get(Producer, producer.id).linked_households == 1
