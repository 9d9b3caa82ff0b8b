"""A unit's yearly target (issue 17.3): recorded by its coordinator or an operator, progress from the unit's orders
(pledged and completed apart), lagging units listed for operators; unit totals only, never a person's."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from database import local_today
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_unit, make_user
from units.models import UnitTarget
from units.targets import expected_pct

YEAR = local_today().year
BODY = {"canteen_budget_fen": 10_000_000, "canteen_share_pct": 15, "union_budget_fen": 2_000_000, "union_share_pct": 30}


@pytest.fixture
def unit_with_orders():
    """A unit with a coordinator; this year: Wang's order delivered and paid (¥300), Li's placed (¥200), one
    cancelled (¥900); last year: one delivered and paid order that must not count."""
    unit = make_unit(name="乐昌市总工会")
    coordinator = make_user(unit=unit, coordinator=True, name="陈静")
    campaign = make_campaign(delivery_on=date(YEAR, 6, 1), opens_in=timedelta(days=-2), closes_in=timedelta(days=-1))
    item = make_item(campaign, [(make_listing(quantity=1000, price_fen=100), 1000)], price_fen=100)
    make_order(campaign, [(item, 3)], user=make_user(unit=unit, name="王芳"), status="delivered", payment_status="paid")
    make_order(campaign, [(item, 2)], user=make_user(unit=unit, name="李明"))
    make_order(campaign, [(item, 9)], user=make_user(unit=unit, name="张伟"), status="cancelled")
    old = make_campaign(delivery_on=date(YEAR - 1, 6, 1), closes_in=timedelta(days=-400), opens_in=timedelta(days=-410))
    old_item = make_item(old, [(make_listing(quantity=1000, price_fen=100), 1000)], price_fen=100)
    make_order(old, [(old_item, 50)], user=make_user(unit=unit), status="delivered", payment_status="paid")
    return unit, coordinator


def test_the_coordinator_records_the_target_and_sees_pledged_and_completed_apart(api_as, unit_with_orders):
    unit, coordinator = unit_with_orders
    client = api_as(coordinator)
    response = client.put(f"/units/{unit.id}/targets/{YEAR}", json=BODY)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["target_fen"] == 1_500_000 + 600_000
    assert (body["pledged_fen"], body["completed_fen"]) == (500, 300)
    assert client.get(f"/units/{unit.id}/targets/{YEAR}").get_json() == body
    again = client.put(f"/units/{unit.id}/targets/{YEAR}", json={**BODY, "union_share_pct": 0})
    assert again.get_json()["target_fen"] == 1_500_000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnitTarget)) == 1
    assert not {"name", "buyer_name", "orders", "people"} & set(body)


def test_bad_figures_and_other_units_are_refused_and_change_nothing(api_as, unit_with_orders):
    unit, coordinator = unit_with_orders
    client = api_as(coordinator)
    assert client.put(f"/units/{unit.id}/targets/{YEAR}", json={**BODY, "canteen_share_pct": 120}).status_code == 422
    assert client.put(f"/units/{unit.id}/targets/{YEAR}", json={**BODY, "union_budget_fen": -1}).status_code == 422
    assert client.put(f"/units/{unit.id}/targets/1800", json=BODY).status_code == 422
    assert client.get(f"/units/{unit.id}/targets/99999").status_code == 404
    other = make_unit(name="乐昌市妇联")
    assert client.put(f"/units/{other.id}/targets/{YEAR}", json=BODY).status_code == 404
    buyer = api_as(make_user(unit=unit))
    assert buyer.put(f"/units/{unit.id}/targets/{YEAR}", json=BODY).status_code == 403
    assert buyer.get(f"/units/{unit.id}/targets/{YEAR}").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnitTarget)) == 0


def test_operators_see_lagging_units_first_with_unit_totals_only(client, auth, api_as, unit_with_orders):
    unit, _coordinator = unit_with_orders
    ahead = make_unit(name="乐昌市商务局")
    operator = make_user(role="operator")
    api = api_as(operator)
    api.put(f"/units/{unit.id}/targets/{YEAR}", json=BODY)
    api.put(
        f"/units/{ahead.id}/targets/{YEAR}",
        json={"canteen_budget_fen": 0, "canteen_share_pct": 0, "union_budget_fen": 0, "union_share_pct": 0},
    )
    auth.login(operator.phone)
    page = client.get(f"/units/targets?year={YEAR}").get_data(as_text=True)
    if expected_pct(YEAR, local_today()) > 0:
        assert page.index("乐昌市总工会") < page.index("乐昌市商务局") and "落后" in page
    assert "王芳" not in page and "李明" not in page
    unit_page = client.get(f"/units/{unit.id}/targets/{YEAR}").get_data(as_text=True)
    assert "¥21,000.00" in unit_page and "¥5.00" in unit_page and "¥3.00" in unit_page
    assert "王芳" not in unit_page and "李明" not in unit_page


def test_the_coordinator_types_budgets_in_yuan_on_the_page(client, auth, unit_with_orders):
    unit, coordinator = unit_with_orders
    auth.login(coordinator.phone)
    home = client.get("/units/").get_data(as_text=True)
    assert f"/units/{unit.id}/targets/{YEAR}" in home
    bad = client.post(
        f"/units/{unit.id}/targets/{YEAR}",
        data={"canteen_budget": "十万", "canteen_share_pct": 15, "union_budget": "20000", "union_share_pct": 30},
    )
    assert bad.status_code == 422 and db.session.scalar(sa.select(sa.func.count()).select_from(UnitTarget)) == 0
    saved = client.post(
        f"/units/{unit.id}/targets/{YEAR}",
        data={"canteen_budget": "100,000", "canteen_share_pct": 15, "union_budget": "20000", "union_share_pct": 30},
        follow_redirects=True,
    )
    assert "目标已保存" in saved.get_data(as_text=True)
    assert db.session.scalars(sa.select(UnitTarget)).one().target_fen == 2_100_000


def test_the_share_of_the_year_gone():
    assert expected_pct(2025, date(2026, 3, 1)) == 100 and expected_pct(2027, date(2026, 3, 1)) == 0
    assert expected_pct(2026, date(2026, 1, 1)) == 0 and expected_pct(2026, date(2026, 7, 2)) == 50
