"""Long lists page in SQL (50 a page by default) and filter by work unit, producer and town, on pages and in the API."""

import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from dashboard import settlement
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from notifications.services import queue_notification

UNITS = 60


@pytest.fixture
def province(app):
    """A pooled campaign delivering to 60 units from two producers in two towns: 120 outstanding pick lines."""
    units = [make_unit(name=f"单位{n:03d}") for n in range(UNITS)]
    hens = make_producer(name="秀水养鸡户", town="秀水镇")
    eggs = make_producer(name="两江蛋户", town="两江镇")
    campaign = make_campaign(title="全省专场", status="allocated")
    chicken = make_item(campaign, [(make_listing(hens, name="雪毛鸡", unit="只", quantity=1000), 1000)])
    egg = make_item(campaign, [(make_listing(eggs, name="鸡蛋", unit="个", quantity=1000), 1000)])
    make_allocation(chicken, hens, UNITS, units=[(unit, 1) for unit in units])
    make_allocation(egg, eggs, UNITS * 2, units=[(unit, 2) for unit in units])
    db.session.commit()
    return SimpleNamespace(units=units, hens=hens, eggs=eggs, campaign=campaign)


@pytest.fixture
def as_operator(client, auth, app):
    operator = make_user(role="operator", phone="13900007777")
    auth.login(operator.phone)
    return operator


@contextmanager
def statements_sent():
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", remember)


def _rows(html, table_id):
    body = html.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>") - 1  # the header row


def test_outstanding_pages_fifty_at_a_time_in_sql(province, as_operator, client):
    with statements_sent() as seen:
        first = client.get("/dashboard/outstanding").text
    assert _rows(first, "outstanding") == 50
    assert "第 1–50 条，共 120 条" in first
    assert 'href="/dashboard/outstanding?page=2"' in first and "下一页" in first
    assert any("LIMIT" in statement and "pick_line" in statement for statement in seen)
    last = client.get("/dashboard/outstanding?page=3").text
    assert _rows(last, "outstanding") == 20 and "第 101–120 条，共 120 条" in last
    beyond = client.get("/dashboard/outstanding?page=9").text
    assert "单位0" not in beyond.split('id="outstanding"')[1].split("</table>")[0]
    assert _rows(client.get("/dashboard/outstanding?page=abc&per_page=-4").text, "outstanding") == 50


def test_outstanding_filters_keep_the_page_links(province, as_operator, client):
    unit = province.units[7]
    assert _rows(client.get(f"/dashboard/outstanding?unit_id={unit.id}").text, "outstanding") == 2
    by_producer = client.get(f"/dashboard/outstanding?producer_id={province.eggs.id}").text
    assert "共 60 条" in by_producer and "秀水养鸡户" not in by_producer.split('id="outstanding"')[1]
    assert f"producer_id={province.eggs.id}" in re.search(r'href="([^"]*page=2[^"]*)"', by_producer).group(1)
    by_town = client.get("/dashboard/outstanding?town=秀水镇&per_page=200").text
    assert _rows(by_town, "outstanding") == 60 and "两江蛋户" not in by_town.split('id="outstanding"')[1]
    # Nonsense filters are ignored, never an error.
    assert client.get("/dashboard/outstanding?unit_id=x&producer_id=99999999999").status_code == 200


def test_the_delivery_page_pages_units_and_filters_by_town(province, as_operator, client):
    url = f"/dashboard/campaigns/{province.campaign.id}/delivery"
    first = client.get(url).text
    assert first.count('class="card mb-3" id="unit-') == 50
    assert "120" in first.split('id="delivery-progress"')[1].split("</p>")[0]  # counts stay campaign-wide
    second = client.get(url + "?page=2").text
    assert second.count('class="card mb-3" id="unit-') == 10
    assert f'id="unit-{province.units[59].id}"' in second
    by_town = client.get(url + "?town=两江镇").text
    cards = by_town.split('id="unit-')[1:]
    assert len(cards) == 50 and all("两江蛋户" in card and "秀水养鸡户" not in card for card in cards)


def test_settlement_pages_statements_and_payouts_apart(province, as_operator, client):
    url = f"/dashboard/campaigns/{province.campaign.id}/settlement"
    page = client.get(url + "?per_page=1").text
    assert _rows(page, "statements") == 1 and "共 2 条" in page
    assert "page=2" in page
    second = client.get(url + "?per_page=1&page=2").text
    assert "秀水养鸡户" in second.split('id="statements"')[1].split("</table>")[0]
    by_town = client.get(url + "?town=两江镇").text.split('id="statements"')[1].split("</table>")[0]
    assert "两江蛋户" in by_town and "秀水养鸡户" not in by_town
    producers, statements = settlement.statements_page(province.campaign.id, page=1, per_page=1)
    assert producers.total == 2 and [s["producer"].name for s in statements] == ["两江蛋户"]


def test_page_links_are_tap_targets(province, as_operator, client):
    page = client.get("/dashboard/outstanding").text
    assert 'class="pinbang-pager' in page and 'class="page-link"' in page
    css = client.get("/static/css/pinbang.css").text
    assert re.search(r"\.pinbang-pager \.page-link \{[^}]*min-height: 44px", css)


def test_the_review_queue_pages_and_filters(as_operator, client):
    hens = make_producer(name="秀水养鸡户", town="秀水镇")
    other = make_producer(name="两江蛋户", town="两江镇")
    for n in range(55):
        make_listing(hens, name=f"鸡{n}", status="pending")
    make_listing(other, name="蛋", status="pending")
    first = client.get("/producers/review").text
    assert "56" in first and first.count('class="list-group-item"') == 50
    assert client.get("/producers/review?page=2").text.count('class="list-group-item"') == 6
    only = client.get(f"/producers/review?producer_id={other.id}").text
    assert only.count('class="list-group-item"') == 1
    assert client.get("/producers/review?town=两江镇").text.count('class="list-group-item"') == 1


def test_messages_page_in_sql_on_the_page_and_in_the_api(client, auth, api):
    user = make_user()
    for n in range(53):
        queue_notification(kind="note", subject=f"note:{n}", title=f"消息{n}", body="正文", user=user)
    db.session.commit()
    auth.login(user.phone)
    inbox = client.get("/notifications/").text
    assert "消息52" in inbox and "消息2<" not in inbox and "page=2" in inbox
    assert "消息2<" in client.get("/notifications/?page=2").text
    api.login(user.phone)
    body = api.get("/notifications?per_page=20&page=3").get_json()
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (53, 3, 20, 13)
    assert body["items"][0]["title"] == "消息12"
    assert api.get("/notifications?per_page=201").status_code == 422


def test_the_api_pages_and_filters_outstanding_deliveries_the_same_way(province, api):
    operator = make_user(role="operator", phone="13900006666")
    api.login(operator.phone)
    body = api.get("/deliveries/outstanding").get_json()
    assert (body["total"], body["page"], body["per_page"], len(body["items"])) == (120, 1, 50, 50)
    last = api.get("/deliveries/outstanding?page=3").get_json()
    assert len(last["items"]) == 20
    eggs = api.get(f"/deliveries/outstanding?producer_id={province.eggs.id}&per_page=200").get_json()
    assert eggs["total"] == 60 and {item["producer_name"] for item in eggs["items"]} == {"两江蛋户"}
    town = api.get("/deliveries/outstanding?town=秀水镇").get_json()
    assert town["total"] == 60 and town["items"][0]["title"] == "雪毛鸡"
    unit = api.get(f"/deliveries/outstanding?unit_id={province.units[3].id}").get_json()
    assert unit["total"] == 2 and unit["items"][0]["unit_name"] == "单位003"
    assert api.get("/deliveries/outstanding?per_page=500").status_code == 422
    buyer = make_user()
    api.login(buyer.phone)
    assert api.get("/deliveries/outstanding").status_code == 403
