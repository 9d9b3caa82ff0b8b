"""Certificates (issue 17.4): a producer's 扶贫产品认定 / 832 admission and a listing's certificates, recorded through
one service from pages and API, audited; an expired one shows in review; the producer is told 30 days ahead, once."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from database import local_today
from errors import NotFound, ValidationFailed
from extensions import db
from factories import make_listing, make_producer, make_user
from notifications.models import Notification
from producers import certificates, expiry
from producers.models import Certificate


def page(response):
    return response.get_data(as_text=True)


def audits(action):
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


@pytest.fixture
def cooperative(app):
    return make_producer(name="乐昌市天堂姜专业合作社", kind="cooperative")


@pytest.fixture
def operator(app):
    return make_user(role="operator")


def admit(actor, producer, valid_until, **kw):
    values = dict(number="GD-832-0001", county="乐昌市", valid_until=valid_until, links=["wages", "purchase"])
    values.update(kw)
    return certificates.record_admission(actor, producer.id, **values)


# ---------------------------------------------------------------- the admission


def test_an_operator_records_an_admission_and_a_renewal_is_audited_with_who_and_why(operator, cooperative):
    admission = admit(operator, cooperative, date(2027, 6, 30), reason="县扶贫办认定")
    assert (admission.number, admission.issuer, admission.link_list) == ("GD-832-0001", "乐昌市", ["wages", "purchase"])
    admit(operator, cooperative, date(2028, 6, 30), links=["dividend"], reason="续期")
    db.session.expire_all()
    stored = db.session.scalars(sa.select(Certificate).where(Certificate.kind == "admission")).all()
    assert len(stored) == 1 and stored[0].valid_until == date(2028, 6, 30) and stored[0].link_list == ["dividend"]
    first, renewal = audits("producer.admission")
    assert first.actor_id == operator.id and first.details["reason"] == "县扶贫办认定"
    assert renewal.details["reason"] == "续期" and renewal.details["changes"]["valid_until"] == ["2027-06-30", "2028-06-30"]


def test_a_producer_records_its_own_admission_but_never_another_producers(cooperative):
    own = make_user(role="producer", producer=cooperative)
    admit(own, cooperative, date(2027, 1, 1))
    assert db.session.get(Certificate, cooperative.admission.id).producer_id == cooperative.id
    with pytest.raises(NotFound):
        admit(own, make_producer(), date(2027, 1, 1))


def test_bad_admission_fields_are_all_reported_and_nothing_is_saved(operator, cooperative):
    with pytest.raises(ValidationFailed) as refused:
        certificates.record_admission(operator, cooperative.id, number="", county=" ", valid_until=None, links=["gift"])
    assert set(refused.value.fields) == {"number", "county", "valid_until", "links"}
    with pytest.raises(ValidationFailed) as refused:
        admit(operator, cooperative, date(2027, 1, 1), links=[])
    assert "links" in refused.value.fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
    assert audits("producer.admission") == []


# ---------------------------------------------------------------- a listing's certificates and the campaign rule


def test_an_expired_listing_certificate_or_admission_keeps_the_listing_out_of_new_campaigns(operator, cooperative):
    chickens = make_listing(cooperative, name="雪毛鸡", unit="只")
    today = local_today()
    quarantine = certificates.add_listing_certificate(
        operator,
        chickens.id,
        kind="animal_quarantine",
        number="440281-2026-001",
        valid_until=today,
        issuer="乐昌市动物卫生监督所",
    )
    assert certificates.campaign_problem(chickens) is None  # valid through its last day
    assert certificates.campaign_problem(chickens, today + timedelta(days=1)) is not None

    quarantine.valid_until = today - timedelta(days=1)
    db.session.commit()
    db.session.expire_all()
    problem = certificates.campaign_problem(chickens)
    assert "雪毛鸡" in problem and "440281-2026-001" in problem
    assert [listing.id for listing in certificates.held_back_listings()] == [chickens.id]

    eggs = make_listing(cooperative, name="鸡蛋")
    assert certificates.campaign_problem(eggs) is None
    admit(operator, cooperative, today - timedelta(days=3))
    db.session.expire_all()
    assert "GD-832-0001" in certificates.campaign_problem(eggs)
    assert {listing.id for listing in certificates.held_back_listings()} == {chickens.id, eggs.id}


def test_listing_certificates_are_checked_audited_and_removed_with_the_producer_named(cooperative):
    own = make_user(role="producer", producer=cooperative)
    eggs = make_listing(cooperative)
    with pytest.raises(ValidationFailed) as refused:
        certificates.add_listing_certificate(own, eggs.id, kind="other", number="X1", valid_until=date(2027, 1, 1))
    assert "label" in refused.value.fields
    with pytest.raises(ValidationFailed) as refused:
        certificates.add_listing_certificate(own, eggs.id, kind="admission", number="X1", valid_until=date(2027, 1, 1))
    assert "kind" in refused.value.fields
    promise = certificates.add_listing_certificate(
        own, eggs.id, kind="compliance_promise", number="CN-2026-88", valid_until=date(2027, 1, 1), reason="新开具"
    )
    with pytest.raises(ValidationFailed):
        certificates.add_listing_certificate(
            own, eggs.id, kind="compliance_promise", number="CN-2026-88", valid_until=date(2027, 2, 1)
        )
    certificates.remove_listing_certificate(own, eggs.id, promise.id, reason="录错了")
    added, removed = audits("listing.certificate.add"), audits("listing.certificate.remove")
    assert len(added) == 1 and added[0].details["reason"] == "新开具" and added[0].details["number"] == "CN-2026-88"
    assert removed[0].details["reason"] == "录错了"
    other = make_user(role="producer")
    with pytest.raises(NotFound):
        certificates.add_listing_certificate(other, eggs.id, kind="compliance_promise", number="Z", valid_until=date(2027, 1, 1))


# ---------------------------------------------------------------- 30 days ahead, once


def notices(producer):
    return db.session.scalars(
        sa.select(Notification).where(Notification.producer_id == producer.id, Notification.kind == "certificate_expiring")
    ).all()


def test_the_producer_is_told_30_days_ahead_once_and_again_after_a_renewal(operator, cooperative):
    today = local_today()
    chickens = make_listing(cooperative, name="雪毛鸡", unit="只")
    certificates.add_listing_certificate(
        operator, chickens.id, kind="animal_quarantine", number="Q-1", valid_until=today + timedelta(days=20)
    )
    certificates.add_listing_certificate(
        operator, chickens.id, kind="compliance_promise", number="P-1", valid_until=today + timedelta(days=31)
    )
    assert expiry.send_expiry_notices() == 1
    told = notices(cooperative)
    assert {n.channel for n in told} >= {"inapp", "sms"}
    assert all("Q-1" in n.body and "雪毛鸡" in n.body for n in told)
    assert expiry.send_expiry_notices() == 0  # a rerun sends nothing twice
    assert len(notices(cooperative)) == len(told)

    assert expiry.send_expiry_notices(today + timedelta(days=1)) == 1  # the other one is 30 days away now
    # A renewal to a date still within 30 days is a new expiry: told again, once.
    quarantine = db.session.scalar(sa.select(Certificate).where(Certificate.number == "Q-1"))
    quarantine.valid_until = today + timedelta(days=25)
    db.session.commit()
    assert expiry.send_expiry_notices() == 1
    assert expiry.send_expiry_notices() == 0


def test_an_admission_already_expired_is_told_as_expired(operator, cooperative):
    admit(operator, cooperative, local_today() - timedelta(days=2))
    assert expiry.send_expiry_notices() == 1
    body = notices(cooperative)[0].body
    assert "已于" in body and "GD-832-0001" in body


def test_the_daily_beat_task_calls_the_service(operator, cooperative):
    from worker.schedule import BEAT_SCHEDULE
    from worker.tasks import send_certificate_expiry_notices

    assert BEAT_SCHEDULE["certificate-expiry-notices"]["task"] == send_certificate_expiry_notices.name
    admit(operator, cooperative, local_today() + timedelta(days=5))
    assert send_certificate_expiry_notices.run() == 1
    assert send_certificate_expiry_notices.run() == 0


# ---------------------------------------------------------------- API


def test_api_admission_and_listing_certificates(api_as, cooperative):
    operator = api_as(make_user(role="operator"))
    own = api_as(make_user(role="producer", producer=cooperative))
    body = {"number": "GD-832-7", "county": "乐昌市", "valid_until": "2027-12-31", "links": ["purchase"], "reason": "认定"}
    response = own.put(f"/producers/{cooperative.id}/admission", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["county"] == "乐昌市" and response.get_json()["links"] == ["purchase"]
    assert own.put(f"/producers/{make_producer().id}/admission", json=body).status_code == 404
    bad = operator.put(f"/producers/{cooperative.id}/admission", json={**body, "links": []})
    assert bad.status_code == 422 and "links" in bad.get_json()["error"]["details"]["fields"]

    shown = operator.get(f"/producers/{cooperative.id}").get_json()
    assert shown["admission"]["number"] == "GD-832-7" and shown["admission"]["expired"] is False

    eggs = make_listing(cooperative)
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    added = own.post(
        f"/listings/{eggs.id}/certificates", json={"kind": "compliance_promise", "number": "P-9", "valid_until": yesterday}
    )
    assert added.status_code == 201, added.get_json()
    listing = own.get(f"/listings/{eggs.id}").get_json()
    assert listing["certificates"][0]["expired"] is True and "P-9" in listing["campaign_problem"]
    assert own.delete(f"/listings/{eggs.id}/certificates/{added.get_json()['id']}").status_code == 204
    assert own.get(f"/listings/{eggs.id}").get_json()["campaign_problem"] is None
    refused = own.post(f"/listings/{eggs.id}/certificates", json={"kind": "admission", "number": "x", "valid_until": yesterday})
    assert refused.status_code == 422


# ---------------------------------------------------------------- pages


def test_a_producer_records_its_admission_on_its_page(client, auth, cooperative):
    own = make_user(role="producer", producer=cooperative)
    auth.login(own.phone)
    assert client.get("/producers/admission").status_code == 200
    refused = client.post("/producers/admission", data={"number": "", "county": "乐昌市", "valid_until": "2027-01-01"})
    assert refused.status_code == 422 and db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
    saved = client.post(
        "/producers/admission",
        data={
            "number": "GD-1",
            "county": "乐昌市",
            "valid_until": "2027-01-01",
            "links": ["wages", "dividend"],
            "reason": "首次",
        },
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(cooperative), cooperative.id).admission.link_list == ["wages", "dividend"]
    assert "2027-01-01" in page(client.get("/producers/admission"))


def test_operators_see_an_expired_admission_on_the_producers_page_and_listing_certificates_page(client, auth, cooperative):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    admit(operator, cooperative, local_today() - timedelta(days=1))
    shown = page(client.get(f"/producers/registry/{cooperative.id}/admission"))
    assert "admission-state" in shown and "alert-danger" in shown
    eggs = make_listing(cooperative)
    response = client.post(
        f"/producers/listings/{eggs.id}/certificates",
        data={"kind": "animal_quarantine", "number": "Q-77", "valid_until": "2027-03-01"},
    )
    assert response.status_code == 302
    shown = page(client.get(f"/producers/listings/{eggs.id}/certificates"))
    assert "Q-77" in shown and "campaign-problem" in shown  # the admission is still expired


def test_the_review_page_shows_expired_certificates(client, auth, cooperative):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    pending = make_listing(cooperative, name="天堂姜", status="pending")
    held = make_listing(cooperative, name="马蹄")
    for listing in (pending, held):
        certificates.add_listing_certificate(
            operator,
            listing.id,
            kind="compliance_promise",
            number=f"P-{listing.id}",
            valid_until=local_today() - timedelta(days=1),
        )
    shown = page(client.get("/producers/review"))
    assert "certificate-problem" in shown and "held-back" in shown and "马蹄" in shown
