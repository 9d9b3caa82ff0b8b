"""The campaign page's shared part is cached (issue 18.1): an operator's change shows on the next page, a sold-out item
shows sold out within the page's second, an order keeps the catalogue; static files are versioned, kept a year and
gzipped; there is a favicon; thumbnails carry their size. Both backends (SQLite with the in-process cache, PostgreSQL
with Redis when DATABASE_URL and REDIS_URL are set)."""

import gzip
import io
import re

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from extensions import cache, db
from factories import make_campaign, make_item, make_listing, make_producer, make_user
from producers import photos as photo_files
from producers.models import ListingPhoto
from shop import page_cache
from shop.models import CampaignItem


def add_photo(listing, size=(1200, 675)):
    """A photo stored as an upload is: re-encoded, with its 400-px thumbnail."""
    out = io.BytesIO()
    Image.new("RGB", size, (30, 160, 60)).save(out, "PNG")
    name, thumb = photo_files.store_photo(FileStorage(io.BytesIO(out.getvalue()), filename="p.png", content_type="image/png"))
    photo = ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=0)
    db.session.add(photo)
    db.session.commit()
    return photo


def page(response):
    assert response.status_code == 200
    return response.get_data(as_text=True)


def card(text, item):
    start = text.index(f'id="item-{item.id}"')
    end = text.find('id="item-', start + 1)
    return text[start : end if end > 0 else len(text)]


@pytest.fixture
def window():
    """A published, open campaign: eggs (plenty) and chickens (3 left), from a cooperative and a household."""
    campaign = make_campaign(title="乐昌春季助农")
    coop = make_producer(name="绿源蛋鸡合作社", kind="cooperative", town="两江镇")
    eggs = make_item(campaign, [(make_listing(coop, quantity=1000), 500)], title="土鸡蛋", price_fen=150)
    chickens_listing = make_listing(make_producer(kind="household"), name="雪毛鸡", unit="只", price_fen=9800)
    chickens = make_item(campaign, [(chickens_listing, 3)])
    return campaign, eggs, chickens, coop, chickens_listing


@pytest.fixture
def later(monkeypatch):
    """``later(seconds)``: the page cache's clock moves on by that much."""
    import time

    start = time.time()

    def move(seconds):
        monkeypatch.setattr(page_cache.time, "time", lambda: start + seconds)

    move(0)
    return move


def test_an_operators_changes_show_on_the_next_page_for_visitors_and_buyers(client, app, api_as, window):
    campaign, eggs, _chickens, coop, _listing = window
    buyer = app.test_client()
    make_user(phone="13900001111")
    buyer.post("/accounts/login", data={"login": "13900001111", "password": "password123"})
    for viewer in (client, buyer):
        assert "¥1.50" in card(page(viewer.get(f"/c/{campaign.slug}")), eggs)
    operator = api_as(make_user(role="operator"))
    changed = operator.patch(f"/campaigns/{campaign.id}", json={"title": "乐昌夏季助农", "reason": "换季"})
    assert changed.status_code == 200, changed.get_json()
    # Any committed change of what the page shows, whichever service makes it: an item's title and price, a
    # producer's name.
    item = db.session.get(CampaignItem, eggs.id)
    item.title, item.price_fen = "散养土鸡蛋", 180
    coop.name = "绿源生态合作社"
    db.session.commit()
    for viewer in (client, buyer):
        text = page(viewer.get(f"/c/{campaign.slug}"))
        assert "乐昌夏季助农" in text and "乐昌春季助农" not in text
        assert "散养土鸡蛋" in card(text, eggs) and "¥1.80" in card(text, eggs) and "¥1.50" not in text
        assert "绿源生态合作社" in text and "绿源蛋鸡合作社" not in text


def test_a_running_items_new_supply_and_a_new_photo_show_at_once(client, api_as, window):
    campaign, _eggs, chickens, _coop, listing = window
    client.get(f"/c/{campaign.slug}")
    operator = api_as(make_user(role="operator"))
    other = make_listing(make_producer(name="黄岭养鸡场", kind="enterprise", town="黄圃镇"), name="雪毛鸡", unit="只")
    added = operator.put(
        f"/items/{chickens.id}/supplies/{other.id}", json={"quantity": 7, "reason": "补货", "confirm_mixed": True}
    )
    assert added.status_code in (200, 201), added.get_json()
    photo = add_photo(listing)
    text = card(page(client.get(f"/c/{campaign.slug}")), chickens)
    assert "黄岭养鸡场 · 黄圃镇" in text and "剩余 10 只" in text
    assert f"/producers/photos/{photo.token}/thumb" in text


def test_a_sold_out_item_shows_sold_out_within_the_visitors_second(client, app, api_as, window, later):
    campaign, eggs, chickens, _coop, _listing = window
    buyer = make_user(phone="13900002222")
    assert "售罄" not in card(page(client.get(f"/c/{campaign.slug}")), chickens)
    generation = cache.get(page_cache.GENERATION)
    placed = api_as(buyer).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 3}]})
    assert placed.status_code == 201, placed.get_json()
    # An order changes what is left, not the catalogue: the catalogue stays cached.
    assert cache.get(page_cache.GENERATION) == generation
    # A logged-in buyer reads what is left live; a visitor's shared copy is at most PAGE_CACHE_SECONDS old.
    signed_in = app.test_client()
    signed_in.post("/accounts/login", data={"login": buyer.phone, "password": "password123"})
    assert "售罄" in card(page(signed_in.get(f"/c/{campaign.slug}")), chickens)
    later(app.config["PAGE_CACHE_SECONDS"] + 0.01)
    text = page(client.get(f"/c/{campaign.slug}"))
    assert "售罄" in card(text, chickens) and "已订 3 只" in card(text, chickens)
    assert "售罄" not in card(text, eggs)


def test_while_one_worker_draws_the_next_copy_the_others_serve_theirs_but_never_past_the_limit(
    client, app, window, later, monkeypatch
):
    campaign, _eggs, chickens, _coop, _listing = window
    client.get(f"/c/{campaign.slug}")
    item = db.session.get(CampaignItem, chickens.id)
    db.session.execute(
        CampaignItem.__table__.update().where(CampaignItem.__table__.c.id == item.id).values(ordered=3)
    )  # as an order does: no catalogue change
    db.session.commit()
    monkeypatch.setattr(page_cache, "_claim", lambda key: False)  # another worker is drawing it
    later((app.config["PAGE_CACHE_SECONDS"] + app.config["PAGE_STALE_SECONDS"]) / 2)
    assert "售罄" not in card(page(client.get(f"/c/{campaign.slug}")), chickens)
    later(app.config["PAGE_STALE_SECONDS"] + 0.01)
    assert "售罄" in card(page(client.get(f"/c/{campaign.slug}")), chickens)
    assert app.config["PAGE_STALE_SECONDS"] < 2


def test_a_visitors_page_sets_no_cookie_and_is_served_in_their_language(client, window):
    campaign = window[0]
    response = client.get(f"/c/{campaign.slug}")
    assert "Set-Cookie" not in response.headers
    assert "土鸡蛋" in page(response) and "剩余" in page(response)
    english = page(client.get(f"/c/{campaign.slug}?lang=en"))
    assert "left" in english and "剩余" not in english


def test_the_page_is_drawn_from_the_database_when_the_cache_is_down(app, window, monkeypatch):
    campaign, eggs, *_ = window

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(page_cache, "_cache_down_until", 0.0)
    for name in ("get_many", "get", "set", "add"):
        monkeypatch.setattr(cache, name, down)
    text = page(app.test_client().get(f"/c/{campaign.slug}"))
    assert "土鸡蛋" in card(text, eggs)
    assert page_cache._cache_down_until > 0  # and it is left alone for a while


def test_thumbnails_on_the_page_carry_their_width_and_height(client, window):
    campaign, eggs, *_ = window
    listing = db.session.get(CampaignItem, eggs.id).supplies[0].listing
    photo = add_photo(listing)
    text = card(page(client.get(f"/c/{campaign.slug}")), eggs)
    img = re.search(rf'<img src="/producers/photos/{photo.token}/thumb" width="(\d+)" height="(\d+)"', text)
    assert img, text
    # A 1200 × 675 photo: its thumbnail fits 400 px and keeps the shape.
    assert (int(img.group(1)), int(img.group(2))) == (400, 225)


def test_static_files_have_versioned_names_a_years_max_age_and_gzip(client):
    text = page(client.get("/accounts/login"))
    for link in (
        r'href="(/static/css/pinbang\.[0-9a-f]{12}\.css)"',
        r'href="(/bootstrap/static/css/bootstrap\.min\.[0-9a-f]{12}\.css)"',
        r'src="(/bootstrap/static/js/bootstrap\.min\.[0-9a-f]{12}\.js)"',
    ):
        url = re.search(link, text).group(1)
        plain = client.get(url)
        assert plain.status_code == 200
        assert "immutable" in plain.headers["Cache-Control"]
        assert int(re.search(r"max-age=(\d+)", plain.headers["Cache-Control"]).group(1)) >= 365 * 24 * 3600
        zipped = client.get(url, headers={"Accept-Encoding": "gzip, br"})
        assert zipped.headers["Content-Encoding"] == "gzip" and len(zipped.data) < len(plain.data)
        assert gzip.decompress(zipped.data) == plain.data
    # An unversioned name still answers, but is kept only briefly.
    unversioned = client.get("/static/css/pinbang.css")
    assert unversioned.status_code == 200
    assert int(re.search(r"max-age=(\d+)", unversioned.headers["Cache-Control"]).group(1)) <= 3600


def test_there_is_a_favicon(client):
    text = page(client.get("/accounts/login"))
    linked = re.search(r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.ico)"', text).group(1)
    for url in (linked, "/favicon.ico"):
        response = client.get(url)
        assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_a_workers_own_copy_of_the_page_never_outlives_the_visitors_second(client, app, api_as, window, later):
    campaign, _eggs, chickens, _coop, _listing = window
    orderer = api_as(make_user())  # a new user's unit is a catalogue change: made before the page is drawn
    client.get(f"/c/{campaign.slug}")
    placed = orderer.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 3}]})
    assert placed.status_code == 201, placed.get_json()
    # Late in the page's second this worker reads the shared copy again and keeps it...
    later(app.config["PAGE_CACHE_SECONDS"] - page_cache.LOCAL_SECONDS / 2)
    client.get(f"/c/{campaign.slug}")
    # ...but what it kept is as old as the page: once that is a second, the visitor sees the sale.
    later(app.config["PAGE_CACHE_SECONDS"] + 0.01)
    assert "售罄" in card(page(client.get(f"/c/{campaign.slug}")), chickens)


def test_an_operators_change_shows_on_the_next_visitors_page_at_once_in_the_same_worker(client, window, later):
    campaign, eggs, *_ = window
    assert "土鸡蛋" in card(page(client.get(f"/c/{campaign.slug}")), eggs)
    item = db.session.get(CampaignItem, eggs.id)
    item.title = "散养土鸡蛋"
    db.session.commit()
    # The clock stands still: this worker's own copy would still be young, but the commit dropped it.
    assert "散养土鸡蛋" in card(page(client.get(f"/c/{campaign.slug}")), eggs)


def test_a_change_committed_by_another_worker_shows_on_a_buyers_next_page_and_soon_for_visitors(client, app, window, later):
    campaign, eggs, *_ = window
    buyer = app.test_client()
    make_user(phone="13900003333")
    buyer.post("/accounts/login", data={"login": "13900003333", "password": "password123"})
    for viewer in (client, buyer):
        assert "土鸡蛋" in card(page(viewer.get(f"/c/{campaign.slug}")), eggs)
    # Another worker renames the item: its commit replaces the shared generation; this worker's session saw nothing.
    db.session.execute(CampaignItem.__table__.update().where(CampaignItem.__table__.c.id == eggs.id).values(title="散养土鸡蛋"))
    db.session.commit()
    cache.set(page_cache.GENERATION, "another-workers-generation")
    assert "散养土鸡蛋" in card(page(buyer.get(f"/c/{campaign.slug}")), eggs)
    later(page_cache.LOCAL_SECONDS + 0.01)
    assert "散养土鸡蛋" in card(page(client.get(f"/c/{campaign.slug}")), eggs)


FORM = re.compile(
    r'<form method="post" action="([^"]+)">\s*<input id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)">'
    r'\s*<input type="hidden" name="item_id" value="(\d+)">'
)


def logged_in(app, phone):
    client = app.test_client()
    make_user(phone=phone)
    login = page(client.get("/accounts/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    client.post("/accounts/login", data={"login": phone, "password": "password123", "csrf_token": token})
    return client


def test_each_buyer_gets_order_forms_with_their_own_token_and_they_add_to_the_cart(csrf_app, window):
    campaign, eggs, chickens, *_ = window
    first, second = logged_in(csrf_app, "13900004444"), logged_in(csrf_app, "13900005555")
    forms = {}
    for buyer in (first, second, first):  # the second buyer and the first again: the cards are drawn already
        text = page(buyer.get(f"/c/{campaign.slug}"))
        found = FORM.findall(text)
        assert {int(item_id) for _action, _token, item_id in found} == {eggs.id, chickens.id}
        assert page_cache.CSRF_SLOT not in text
        forms[buyer] = {int(item_id): (action, token) for action, token, item_id in found}
    action, token = forms[first][chickens.id]
    # The other buyer's token is refused in this buyer's session; their own adds to the cart.
    refused = second.post(action, data={"csrf_token": token, "item_id": chickens.id, "quantity": 1})
    assert refused.status_code == 400
    added = first.post(action, data={"csrf_token": token, "item_id": chickens.id, "quantity": 2})
    assert added.status_code == 302 and added.headers["Location"].endswith(f"#item-{chickens.id}")
    first_page, second_page = page(first.get(f"/c/{campaign.slug}")), page(second.get(f"/c/{campaign.slug}"))
    cart_badge = re.compile(r'购物车 <span class="badge text-bg-light">(\d+)</span>')
    assert cart_badge.search(first_page).group(1) == "2" and cart_badge.search(second_page).group(1) == "0"
    assert "已将 雪毛鸡 × 2 加入购物车" in first_page and "已将" not in second_page
    assert not set(FORM.findall(first_page)) & set(FORM.findall(second_page))


def test_a_buyer_sees_an_item_sold_out_and_its_form_gone_on_the_next_page(client, app, api_as, window):
    campaign, eggs, chickens, *_ = window
    buyer = app.test_client()
    make_user(phone="13900006666")
    buyer.post("/accounts/login", data={"login": "13900006666", "password": "password123"})
    orderer = api_as(make_user())  # a new user's unit is a catalogue change: made before the page is drawn
    assert 'name="quantity"' in card(page(buyer.get(f"/c/{campaign.slug}")), chickens)
    placed = orderer.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 3}]})
    assert placed.status_code == 201, placed.get_json()
    text = page(buyer.get(f"/c/{campaign.slug}"))
    assert "售罄" in card(text, chickens) and 'name="quantity"' not in card(text, chickens)
    assert 'name="quantity"' in card(text, eggs)
