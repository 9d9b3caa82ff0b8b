"""The front door under concurrency, in threads on the suite's database (run it on PostgreSQL too): the rate limit
holds when one phone asks many times at once, one code makes one account, and one invitation has one live code."""

import sqlalchemy as sa
from sms_inbox import last_code, texts_to

from accounts import codes, registration
from accounts.models import SmsCode, UnitInvitation, User
from errors import AlreadyRegistered, RateLimited, ValidationFailed
from extensions import db
from factories import make_unit, make_user
from racing import run_at_once
from units import invitations


def test_one_phone_asking_eight_times_at_once_gets_one_code(app):
    results, errors = run_at_once(app, lambda: codes.request_code("13600136001", "register", "10.0.0.1"), times=8)
    assert len(results) == 1 and len(errors) == 7 and all(isinstance(e, RateLimited) for e in errors)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsCode).where(SmsCode.phone == "13600136001")) == 1
    assert len(texts_to(app, "13600136001")) == 1


def test_one_code_used_by_four_requests_at_once_makes_one_account(app):
    unit = make_unit()
    coordinator = make_user(unit=unit, coordinator=True)
    code = invitations.current_invitation(coordinator, unit.id).code
    codes.request_code("13600136002", "register", "10.0.0.2")
    sms_code = last_code(app, "13600136002")

    def join():
        return registration.register(invite=code, phone="13600136002", sms_code=sms_code, name="并发").id

    results, errors = run_at_once(app, join, times=4)
    assert len(results) == 1, errors
    assert all(isinstance(e, ValidationFailed | AlreadyRegistered) for e in errors), errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.phone == "13600136002")) == 1


def test_a_unit_read_and_rotated_at_once_keeps_one_live_invitation(app):
    unit = make_unit()
    coordinator = make_user(unit=unit, coordinator=True)
    operator = make_user(role="operator")
    unit_id, coordinator_id, operator_id = unit.id, coordinator.id, operator.id

    def read():
        return invitations.current_invitation(db.session.get(User, coordinator_id), unit_id).code

    def rotate():
        return invitations.rotate_invitation(db.session.get(User, operator_id), unit_id).code

    jobs = iter([read, rotate, read, rotate, read, rotate])
    results, errors = run_at_once(app, lambda: next(jobs)(), times=6)
    assert not errors, errors
    db.session.expire_all()
    live = db.session.scalars(
        sa.select(UnitInvitation).where(UnitInvitation.unit_id == unit_id, UnitInvitation.retired_at.is_(None))
    ).all()
    assert len(live) == 1
