"""The receiving page: the coordinator's (and operators') phone page to record what arrived."""

import sqlalchemy as sa

from delivery import ledger
from delivery.models import Receipt
from extensions import db


def url(day, unit=None):
    return f"/delivery/campaigns/{day.campaign.id}/units/{(unit or day.u1).id}"


def count_receipts():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Receipt))


def test_the_coordinator_records_a_short_delivery(day, client, auth):
    auth.login(day.coordinator.phone)
    page = client.get(url(day)).get_data(as_text=True)
    assert "李桂英蛋鸡户" in page and "雪毛鸡" in page and "张三" in page
    assert "按重量计价" in page or "Charged by weight" in page
    response = client.post(url(day), data={"producer_id": day.p1.id, f"quantity-{day.egg.id}": "9"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "李桂英蛋鸡户" in page
    line = next(line for line in day.order_a.lines if line.item_id == day.egg.id)
    assert ledger.line_figures([line.id])[line.id].delivered == 5
    # The hand-out list follows: 张三 gets 5 of 6 eggs.
    assert "5/6" in page or "5 of 6" in page


def test_a_far_weight_asks_for_confirmation_then_takes_it(day, client, auth):
    auth.login(day.coordinator.phone)
    data = {"producer_id": day.p3.id, f"quantity-{day.chicken.id}": "3", f"weight-{day.chicken.id}": "45"}
    asked = client.post(url(day), data=data)
    assert asked.status_code == 409
    assert 'name="confirm_weight"' in asked.get_data(as_text=True)
    assert count_receipts() == 0
    taken = client.post(url(day), data={**data, "confirm_weight": "y"})
    assert taken.status_code == 302 and count_receipts() == 1


def test_bad_input_on_the_page_changes_nothing(day, client, auth):
    auth.login(day.coordinator.phone)
    for data in (
        {"producer_id": day.p1.id, f"quantity-{day.egg.id}": "13"},
        {"producer_id": day.p1.id, f"quantity-{day.egg.id}": "abc"},
        {"producer_id": day.p3.id, f"quantity-{day.chicken.id}": "3", f"weight-{day.chicken.id}": "0"},
        {"producer_id": day.p2.id, f"quantity-{day.egg.id}": "1"},  # P2 brings nothing to this unit
    ):
        response = client.post(url(day), data=data, follow_redirects=True)
        assert response.status_code == 200
        assert "alert-danger" in response.get_data(as_text=True)
    assert count_receipts() == 0


def test_another_units_coordinator_and_a_buyer_are_refused(day, client, auth):
    auth.login(day.other_coordinator.phone)
    assert client.get(url(day)).status_code == 404
    assert client.post(url(day), data={"producer_id": day.p1.id, f"quantity-{day.egg.id}": "9"}).status_code == 404
    auth.logout()
    auth.login(day.a.phone)
    assert client.get(url(day)).status_code == 403
    assert count_receipts() == 0


def test_operators_reach_it_from_the_delivery_page(day, client, auth):
    auth.login(day.operator.phone)
    page = client.get(f"/dashboard/campaigns/{day.campaign.id}/delivery").get_data(as_text=True)
    assert url(day) in page
    assert client.get(url(day, day.u2)).status_code == 200
