"""PostgreSQL stops and starts again under a running gunicorn (production settings, Redis), and a COMMIT's answer
is lost on its way back: what the buyer's phone and the API client see.

The app reaches PostgreSQL through a relay (faults.helpers.DatabaseProxy): cutting it is PostgreSQL gone for the
app (connections dropped, new ones refused), restoring it is PostgreSQL back; the machine's PostgreSQL is shared
and never stopped for real. While it is down, a request with a bearer token gets the JSON 503 with Retry-After
(finding the user's language must not ask the database again), and a logged-in user's page a readable 503 page in
their language. A COMMIT that PostgreSQL carried out but whose answer never came back is answered 503 "may have
been saved"; the retry with the same Idempotency-Key, or the same form (its one-time token), makes exactly one order.
"""

import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from faults.helpers import DatabaseProxy, gunicorn

from extensions import db
from factories import make_campaign, make_item, make_listing, make_user
from orders.models import Order
from shop.models import CampaignItem
from worker_process import process_env

pytestmark = pytest.mark.slow

UNAVAILABLE_ZH = "服务暂时不可用，未保存任何内容。请稍后重试。"
UNAVAILABLE_EN = "The service is briefly unavailable; nothing was saved. Please try again in a moment."
UNKNOWN = "The connection to the database broke while this was being saved, so it may have been saved. "
UNKNOWN_API_EN = UNKNOWN + "Retry with the same Idempotency-Key: a retry with it is never saved twice."
UNKNOWN_PAGE_EN = UNKNOWN + "Send this same form again: it will not be saved twice."


class Browser:
    """A phone's browser on plain HTTP: keeps the session cookie itself (production marks it Secure)."""

    def __init__(self, base):
        self.base, self.cookies = base, {}

    def request(self, method, path, **kwargs):
        response = requests.request(method, self.base + path, cookies=self.cookies, allow_redirects=False, timeout=30, **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response

    def csrf_token(self, path):
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.request("GET", path).text).group(1)

    def log_in(self, phone):
        data = {"login": phone, "password": "password123", "csrf_token": self.csrf_token("/accounts/login")}
        assert self.request("POST", "/accounts/login", data=data).status_code == 302


@dataclass
class Site:
    base: str
    proxy: DatabaseProxy
    token: str
    buyer_id: int
    phone: str
    campaign_id: int
    slug: str
    eggs_id: int

    def api(self, method, path, key=None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        if key:
            headers["Idempotency-Key"] = key
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def order(self, key=None, quantity=3, **kwargs):
        body = {"lines": [{"item_id": self.eggs_id, "quantity": quantity}]}
        return self.api("POST", f"/api/v1/campaigns/{self.campaign_id}/orders", key, json=body, **kwargs)


@pytest.fixture
def site(pg_app, pg_migrated, redis_url, tmp_path):
    """gunicorn (2 sync workers, PINBANG_ENV=production) on the test's database through a relay; an English buyer."""
    buyer = make_user(locale="en")
    campaign = make_campaign()
    eggs = make_item(campaign, [(make_listing(quantity=100), 100)])
    known = dict(buyer_id=buyer.id, phone=buyer.phone, campaign_id=campaign.id, slug=campaign.slug, eggs_id=eggs.id)
    db.session.remove()
    proxy = DatabaseProxy(urlsplit(pg_migrated).port or 5432)
    proxy.start()
    env = process_env(
        proxy.url(pg_migrated),
        redis_url,
        PINBANG_ENV="production",
        SECRET_KEY="outage-test",
        INSTANCE_PATH=tmp_path,
        CELERY_QUEUE=f"pinbang-outage-{uuid.uuid4().hex[:8]}",
        LOGIN_RATE_LIMIT="1000 per minute",  # every test logs in from 127.0.0.1, in one shared Redis
    )
    try:
        with gunicorn(env, log_path=tmp_path / "gunicorn.log") as base:
            answer = requests.post(
                base + "/api/v1/auth/token", json={"login": known["phone"], "password": "password123"}, timeout=30
            )
            yield Site(base, proxy, answer.json()["token"], **known)
        # gunicorn's own HTML 500, when an error answer itself failed.
        assert "Error handling request" not in (tmp_path / "gunicorn.log").read_text()
    finally:
        proxy.cut()


def _orders(buyer_id):
    db.session.remove()
    return db.session.scalars(sa.select(Order).where(Order.placed_by_id == buyer_id)).all()


def _ordered(item_id):
    return db.session.get(CampaignItem, item_id).ordered


def _back_to_normal(answer, attempts=10):
    """Ask until the answer is normal: right after PostgreSQL returns, a web worker may still answer one 503 while
    its pool renews connections; never a 500."""
    for _ in range(attempts):
        response = answer()
        if response.status_code != 503:
            return response
        time.sleep(0.2)
    return response


def test_postgresql_stopped_and_started_under_a_running_web_server(site):
    phone = Browser(site.base)
    phone.log_in(site.phone)
    assert site.api("GET", "/api/v1/orders").status_code == 200
    mine = phone.request("GET", "/orders/")
    assert mine.status_code == 200 and "My orders" in mine.text

    site.proxy.cut()
    # Several of each, so both web workers answer, with a pooled connection that died and with new ones refused.
    for _ in range(6):
        listed = site.api("GET", "/api/v1/orders")
        assert listed.status_code == 503, listed.text[:500]
        assert listed.headers["Content-Type"] == "application/json" and int(listed.headers["Retry-After"]) > 0
        assert listed.json() == {"error": {"code": "service_unavailable", "message": UNAVAILABLE_ZH, "details": {}}}
        refused = site.order(key=f"down-{uuid.uuid4().hex}", headers={"Accept-Language": "en"})
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert refused.json()["error"] == {"code": "service_unavailable", "message": UNAVAILABLE_EN, "details": {}}
    for _ in range(4):
        page = phone.request("GET", "/orders/")
        assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Retry-After"]
        # The logged-in user chose English: the page is in English, read from the session, not the database.
        assert UNAVAILABLE_EN in page.text and '<html lang="en">' in page.text
        assert "Internal Server Error" not in page.text and "Traceback" not in page.text
    # A page that does not exist still says so, though its menu would have needed the user.
    missing = phone.request("GET", "/no-such-page")
    assert missing.status_code == 404 and "Not found." in missing.text

    site.proxy.restore()
    assert _back_to_normal(lambda: site.api("GET", "/api/v1/orders")).status_code == 200
    placed = _back_to_normal(lambda: site.order(key="after-outage"))
    assert placed.status_code == 201, placed.text
    mine = _back_to_normal(lambda: phone.request("GET", "/orders/"))
    assert mine.status_code == 200 and "My orders" in mine.text
    assert [order.id for order in _orders(site.buyer_id)] == [placed.json()["id"]]


def test_an_order_whose_commit_answer_is_lost_says_so_and_its_retry_makes_one_order(site):
    site.proxy.lose_next_commit_answer()
    first = site.order(key="lost-answer-1")
    assert site.proxy.commit_answers_lost == 1
    assert first.status_code == 503 and int(first.headers["Retry-After"]) > 0
    # In the buyer's own language (English): the token's user was found before the COMMIT.
    assert first.json() == {"error": {"code": "outcome_unknown", "message": UNKNOWN_API_EN, "details": {}}}
    saved = _orders(site.buyer_id)
    assert len(saved) == 1, "PostgreSQL did commit the order; only its answer was lost"

    retry = _back_to_normal(lambda: site.order(key="lost-answer-1"))
    assert retry.status_code == 200 and retry.json()["id"] == saved[0].id
    assert len(_orders(site.buyer_id)) == 1 and _ordered(site.eggs_id) == 3


def test_a_checkout_whose_commit_answer_is_lost_says_so_and_the_same_form_makes_one_order(site):
    phone = Browser(site.base)
    phone.log_in(site.phone)
    form = {
        "csrf_token": phone.csrf_token("/orders/"),
        "token": "one-time-form-token-1",
        f"qty-{site.eggs_id}": "4",
        "note": "",
        "place": "Place pre-order",
    }
    cart = f"/c/{site.slug}/cart"

    site.proxy.lose_next_commit_answer()
    first = phone.request("POST", cart, data=form)
    assert site.proxy.commit_answers_lost == 1
    assert first.status_code == 503 and UNKNOWN_PAGE_EN in first.text
    # The cart comes back with the same one-time token, so sending it again cannot place a second order.
    assert re.search(r'name="token"[^>]*value="one-time-form-token-1"', first.text)
    saved = _orders(site.buyer_id)
    assert len(saved) == 1

    again = phone.request("POST", cart, data=form)
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/orders/{saved[0].id}/confirmation")
    assert len(_orders(site.buyer_id)) == 1 and _ordered(site.eggs_id) == 4
