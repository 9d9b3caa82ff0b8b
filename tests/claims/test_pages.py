"""The claim pages: the buyer files from the order page (with a photo), the coordinator sees the unit's claims, an
operator decides from the queue."""

import io

import sqlalchemy as sa
from PIL import Image

from claims.models import Claim, ClaimPhoto
from extensions import db


def _jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, "JPEG")
    buffer.seek(0)
    return buffer


def test_a_buyer_files_a_claim_with_a_photo_and_an_operator_refunds_it(delivered, client, auth):
    d = delivered
    auth.login(d.buyer.phone)
    order_page = client.get(f"/orders/{d.order.id}").get_data(as_text=True)
    assert f"/claims/orders/{d.order.id}/new?item_id={d.egg.id}" in order_page
    form = client.get(f"/claims/orders/{d.order.id}/new?item_id={d.egg.id}")
    assert form.status_code == 200
    data = {"item_id": str(d.egg.id), "quantity": "3", "reason": "spoiled", "note": "有异味", "producer_id": ""}
    data["photos"] = [(_jpeg(), "egg.jpg")]
    filed = client.post(f"/claims/orders/{d.order.id}/new", data=data, content_type="multipart/form-data")
    assert filed.status_code == 302, filed.get_data(as_text=True)[:2000]
    claim = db.session.scalar(sa.select(Claim))
    assert (claim.quantity, claim.reason, claim.note) == (3, "spoiled", "有异味")
    photo = db.session.scalar(sa.select(ClaimPhoto))
    assert client.get(f"/claims/photos/{photo.token}").status_code == 200
    auth.logout()

    auth.login(d.coordinator.phone)
    assert f"/claims/{claim.id}" in client.get(f"/claims/units/{d.unit.id}").get_data(as_text=True)
    assert client.get(f"/claims/units/{d.outsider.unit_id}").status_code == 403
    auth.logout()

    auth.login(d.outsider.phone)
    assert client.get(f"/claims/photos/{photo.token}").status_code == 404
    auth.logout()

    auth.login(d.operator.phone)
    assert f"/claims/{claim.id}" in client.get("/claims/").get_data(as_text=True)
    decided = client.post(f"/claims/{claim.id}", data={"decision": "refund", "quantity": "", "note": "已核实"})
    assert decided.status_code == 302
    assert db.session.get(Claim, claim.id).refund_fen == 450


def test_a_bad_claim_form_changes_nothing(delivered, client, auth):
    auth.login(delivered.buyer.phone)
    data = {"item_id": str(delivered.egg.id), "quantity": "11", "reason": "spoiled", "producer_id": ""}
    response = client.post(f"/claims/orders/{delivered.order.id}/new", data=data)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0
