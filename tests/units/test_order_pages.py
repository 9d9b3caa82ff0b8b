"""A big unit's orders page a person at a time (50 a page, in SQL), while the totals stay the whole unit's."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_order, make_user

PEOPLE = 55


@pytest.fixture
def big_unit(shop):
    for n in range(PEOPLE):
        buyer = make_user(unit=shop.unit, name=f"同事{n:02d}", phone=f"1370000{n:04d}")
        paid = {"payment_status": "paid", "payment_method": "cash"} if n < 5 else {}
        make_order(shop.campaign, [(shop.eggs, 2)], user=buyer, **paid)
    db.session.commit()
    return shop


def test_the_overview_pages_people_and_keeps_the_unit_totals(big_unit, client, auth):
    auth.login(big_unit.coordinator.phone)
    url = f"/units/campaigns/{big_unit.campaign.id}"
    seen = []

    def remember(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    first = client.get(url).text
    sa.event.remove(db.engine, "before_cursor_execute", remember)
    assert any("LIMIT" in statement and "buyer_order" in statement for statement in seen)
    assert first.count('id="person-') == 50
    assert f">{PEOPLE}</span>" in first  # the badge counts everyone
    assert "165.00" in first  # due for all 55 people: 2 eggs at 1.5 元 each
    assert "page=2" in first
    second = client.get(url + "?page=2").text
    assert second.count('id="person-') == PEOPLE - 50
    assert "同事54" in second and "同事00" not in second
    unpaid = client.get(url + "?unpaid=1").text
    assert f">{PEOPLE - 5}</span>" in unpaid and unpaid.count('id="person-') == PEOPLE - 5
    assert 'id="person-13700000000"' not in unpaid  # 同事00 has paid


def test_the_api_pages_the_units_people_the_same_way(big_unit, api):
    api.login(big_unit.coordinator.phone)
    body = api.get(f"/units/{big_unit.unit.id}/orders?campaign_id={big_unit.campaign.id}&per_page=20&page=3").get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["people"])) == (3, 20, PEOPLE, PEOPLE - 40)
    assert body["due_fen"] == PEOPLE * 2 * 150 and body["collected_fen"] == 5 * 2 * 150
    assert body["items"] == [
        {"item_id": big_unit.eggs.id, "title": "土鸡蛋", "unit": "个", "quantity": PEOPLE * 2, "amount_fen": PEOPLE * 300}
    ]
    unpaid = api.get(f"/units/{big_unit.unit.id}/orders?campaign_id={big_unit.campaign.id}&unpaid=true").get_json()
    assert unpaid["total"] == PEOPLE - 5 and all(p["outstanding_fen"] > 0 for p in unpaid["people"])
