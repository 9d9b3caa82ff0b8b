"""Claims and decisions racing on the same line, on SQLite and PostgreSQL in the same run: never double-counted."""

import threading

import sqlalchemy as sa
from delivered import build_delivered

from claims.models import Claim, ClaimRefund
from delivery.models import LineEntry
from extensions import db
from racing import run_at_once


def _token(app, user):
    response = app.test_client().post("/api/v1/auth/token", json={"login": user.phone, "password": "password123"})
    return response.get_json()["token"]


def _post(app, token, path, body):
    def job():
        return app.test_client().post(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}).status_code

    return job


def test_two_claims_for_more_than_was_delivered_one_goes_through(backend_app):
    d = build_delivered()
    token = _token(backend_app, d.buyer)
    body = {"item_id": d.egg.id, "quantity": 6, "reason": "spoiled"}
    results, errors = run_at_once(backend_app, _post(backend_app, token, f"/orders/{d.order.id}/claims", body))
    assert errors == []
    assert sorted(results) == [201, 422]
    assert db.session.scalar(sa.select(sa.func.sum(Claim.quantity))) == 6


def test_two_decisions_on_one_claim_refund_once(backend_app):
    d = build_delivered()
    buyer, operator = _token(backend_app, d.buyer), _token(backend_app, d.operator)
    claim = _post(backend_app, buyer, f"/orders/{d.order.id}/claims", {"item_id": d.egg.id, "quantity": 4, "reason": "short"})
    assert claim() == 201
    claim_id = db.session.scalar(sa.select(Claim.id))
    decide = _post(backend_app, operator, f"/claims/{claim_id}/decide", {"decision": "refund", "note": "退款"})
    results, errors = run_at_once(backend_app, decide, times=3)
    assert errors == []
    assert sorted(results) == [200, 409, 409]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineEntry).where(LineEntry.kind == "refund")) == 1
    assert db.session.scalar(sa.select(sa.func.sum(ClaimRefund.amount_fen))) == 600


def test_refunds_of_two_claims_on_one_line_never_pass_its_charge(backend_app):
    d = build_delivered()
    buyer, operator = _token(backend_app, d.buyer), _token(backend_app, d.operator)
    for _ in range(2):
        assert (
            _post(backend_app, buyer, f"/orders/{d.order.id}/claims", {"item_id": d.egg.id, "quantity": 5, "reason": "spoiled"})()
            == 201
        )
    first, second = db.session.scalars(sa.select(Claim.id).order_by(Claim.id)).all()
    jobs = iter(
        [
            _post(backend_app, operator, f"/claims/{first}/decide", {"decision": "refund", "note": ""}),
            _post(backend_app, operator, f"/claims/{second}/decide", {"decision": "refund", "note": ""}),
        ]
    )
    lock = threading.Lock()

    def either():
        with lock:
            job = next(jobs)
        return job()

    results, errors = run_at_once(backend_app, either)
    assert errors == [] and results == [200, 200]
    charged = db.session.scalar(sa.select(sa.func.sum(LineEntry.charge_fen)).where(LineEntry.order_line_id == d.egg_line.id))
    assert charged == 0
