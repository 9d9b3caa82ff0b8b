"""No page, export or API answer shows a buyer's purchases to another buyer of the same unit.

Buyer B of unit 甲 is logged in (a session for the pages, a token for the API) and asks for every GET route of the
app with its placeholders filled from the world (A's order and user ids included), then follows every link on the
pages it got. Nowhere may A's name, phone, order note or own quantities appear; unit and campaign totals may.
"""

import re
from collections import deque
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from security.world import bearer_headers, response_text, session_client

from database import local_today
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user
from units.models import UnitTarget

A_NAME, A_PHONE, A_NOTE = "林秀英", "13700001111", "林秀英的私密备注"
# A's own quantities, chosen so that no total, remainder or date shows them: 47 chickens, 23 bags of rice.
A_QUANTITIES = (
    re.compile(r"(?<!\d)47\s*只"),
    re.compile(r"×\s*47(?!\d)"),
    re.compile(r"(?<!\d)23\s*袋"),
    re.compile(r"×\s*23(?!\d)"),
)
MAX_PAGES = 400


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.found.append(attrs["href"])


@pytest.fixture
def world(app):
    unit, other = make_unit(name="甲单位"), make_unit(name="乙单位")
    a = make_user(unit=unit, name=A_NAME, phone=A_PHONE)
    b = make_user(unit=unit, name="黄志明")
    coordinator = make_user(unit=unit, name="周淑芬", coordinator=True)
    d = make_user(unit=other, name="郑海涛")
    farmer = make_producer(name="秀水农户")

    running = make_campaign(title="进行中的活动", closes_in=timedelta(hours=12))
    chicken = make_item(running, [(make_listing(farmer, name="雪毛鸡", unit="只", price_fen=9800), 200)], min_total=60)
    order_a = make_order(running, [(chicken, 47)], user=a, note=A_NOTE)
    make_order(running, [(chicken, 5)], user=d)
    make_order(running, [(chicken, 3)], user=b)

    pooled = make_campaign(title="已分配的活动", status="allocated", opens_in=timedelta(days=-6), closes_in=timedelta(days=-3))
    rice = make_item(pooled, [(make_listing(farmer, name="大米", unit="袋", price_fen=5000), 100)])
    pooled_a = make_order(pooled, [(rice, 23)], user=a, placed_by_id=coordinator.id, source="coordinator")
    make_order(pooled, [(rice, 4)], user=b)
    make_allocation(rice, farmer, 27, units=[(unit, 27)])
    db.session.add(UnitTarget(unit_id=unit.id, year=local_today().year, canteen_budget_fen=500_000, canteen_share_pct=10))
    db.session.commit()
    return {
        "b": b,
        "values": {
            "campaign_id": [running.id, pooled.id],
            "slug": [running.slug, pooled.slug],
            "unit_id": [unit.id],
            "order_id": [order_a.id, pooled_a.id],
            "user_id": [a.id],
            "item_id": [chicken.id, rice.id],
            "producer_id": [farmer.id],
            "year": [local_today().year],
        },
    }


def _filled(rule, values):
    """Every URL of a rule with its placeholders from ``values``; none when a placeholder is unknown."""
    urls = [rule.rule]
    for argument in rule.arguments:
        if argument not in values:
            return []
        pattern = re.compile(r"<(?:[^:<>]+:)?" + argument + r">")
        urls = [pattern.sub(str(value), url) for url in urls for value in values[argument]]
    return [re.sub(r"<[^>]+>", "x", url) for url in urls]  # converters with options (any(...)) get a harmless value


def _leaks(text) -> list[str]:
    found = [secret for secret in (A_NAME, A_PHONE, A_NOTE) if secret in text]
    return found + [pattern.pattern for pattern in A_QUANTITIES if pattern.search(text)]


def _get_urls(app, values):
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.rule.startswith("/static") and "logout" not in rule.rule:
            urls.update(_filled(rule, values))
    return urls


def test_buyer_b_sees_nothing_of_buyer_as_purchases_on_any_page(app, world):
    client = session_client(app, world["b"])
    queue, seen, visited = deque(sorted(u for u in _get_urls(app, world["values"]) if not u.startswith("/api/"))), set(), []
    queue.appendleft("/")
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        visited.append((url, response.status_code))
        text = response_text(response)
        assert not _leaks(text), (url, response.status_code, _leaks(text))
        if response.status_code == 200 and response.mimetype == "text/html":
            parser = Links()
            parser.feed(text)
            for href in parser.found:
                target = urldefrag(href)[0]
                parts = urlsplit(target)
                if not parts.netloc and target.startswith("/") and "logout" not in target and target not in seen:
                    queue.append(target)
    reached = {url for url, status in visited if status == 200}
    # B really got the pages a buyer uses, so the absence above means something.
    for page in ("/", "/campaigns", "/orders/", "/notifications/", f"/c/{world['values']['slug'][0]}"):
        assert page in reached, page


def test_buyer_b_sees_nothing_of_buyer_as_purchases_in_any_api_answer(app, world):
    client = app.test_client()
    headers = bearer_headers(world["b"])
    answered = []
    for url in sorted(u for u in _get_urls(app, world["values"]) if u.startswith("/api/")):
        response = client.get(url, headers=headers)
        answered.append((url, response.status_code))
        assert not _leaks(response_text(response)), (url, response.status_code)
    ok = {url for url, status in answered if status == 200}
    assert "/api/v1/orders" in ok and f"/api/v1/campaigns/{world['values']['campaign_id'][0]}" in ok
