"""The campaign page is public: anyone with the link reads a published campaign (page and API), nothing personal;
ordering asks a visitor to log in and comes back to the cart; the link carries a share card and a poster."""

import html as html_lib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import segno
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage

from database import local_zone
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user
from orders.models import Order
from presentation import local_datetime
from producers import photos as photo_files
from producers.models import ListingPhoto
from shop import covers, poster

PUBLIC = "http://127.0.0.1:5000"  # PUBLIC_URL's default; tests never set it


def page(response):
    return response.get_data(as_text=True)


def png(color, size=(160, 90)):
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def add_photo(listing, color=(30, 160, 60)):
    name, thumb = photo_files.store_photo(FileStorage(io.BytesIO(png(color)), filename="p.png", content_type="image/png"))
    photo = ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=0)
    db.session.add(photo)
    db.session.commit()
    return photo


def add_cover(campaign, color=(200, 40, 40)):
    campaign.cover_photo = covers.store_cover(FileStorage(io.BytesIO(png(color, (800, 400))), filename="c.png"))
    db.session.commit()


@pytest.fixture
def shop_window():
    """A published campaign with a cooperative's and a household's goods, a photo, a cover, and two buyers' orders."""
    campaign = make_campaign(title="乐昌春季助农", description="雪毛鸡、鸡蛋、马蹄，产地直送。")
    coop = make_producer(name="绿源蛋鸡合作社", kind="cooperative", town="两江镇")
    household = make_producer(name="陈华养鸡户", kind="household", town="秀水镇", poverty=True, phone="13812340001")
    eggs_listing = make_listing(coop, quantity=1000)
    eggs = make_item(campaign, [(eggs_listing, 500)], title="土鸡蛋", price_fen=150)
    chicken_listing = make_listing(household, name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500)
    chickens = make_item(campaign, [(chicken_listing, 20)], per_buyer_limit=2)
    photo = add_photo(chicken_listing)
    add_cover(campaign)
    buyer = make_user(name="王小明", phone="13912345678")
    make_order(campaign, [(eggs, 120), (chickens, 2)], user=buyer, note="周五上午送到三楼")
    return campaign, eggs, chickens, photo, buyer


PERSONAL = ("王小明", "13912345678", "周五上午送到三楼", "陈华养鸡户", "13812340001", "GD-")


def test_a_visitor_reads_a_published_campaign_without_logging_in(client, shop_window):
    campaign, eggs, chickens, photo, _buyer = shop_window
    response = client.get(f"/c/{campaign.slug}")
    text = page(response)
    assert response.status_code == 200
    assert "乐昌春季助农" in text and "土鸡蛋" in text and "雪毛鸡" in text
    assert "¥1.50" in text and "¥98.00" in text and "每公斤 ¥65.33" in text
    assert "绿源蛋鸡合作社 · 两江镇" in text and "农户 · 秀水镇" in text and "贫困户" in text
    assert "剩余 380 个" in text and "剩余 18 只" in text and "已订 120 个" in text
    assert local_datetime(campaign.closes_at) in text  # the closing time, in Beijing time
    # Nothing personal: no buyer, no phone, no note, no household's name, no registry number; no order form.
    assert not [marker for marker in PERSONAL if marker in text]
    assert "加入购物车" not in text and "/cart/add" not in text
    # Ordering: log in (or register), then back to this campaign's cart.
    login = re.search(r'href="(/accounts/login\?next=[^"]+)"', text).group(1)
    assert parse_qs(urlsplit(html_lib.unescape(login)).query)["next"] == [f"/c/{campaign.slug}/cart"]
    assert "登录或注册后预订" in text
    # Its photos and cover load for the visitor too.
    thumb = client.get(f"/producers/photos/{photo.token}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert f"/producers/photos/{photo.token}/thumb" in text
    cover = client.get(f"/campaigns/covers/{campaign.cover_token}")
    assert cover.status_code == 200 and Image.open(io.BytesIO(cover.data)).size == (800, 400)


def test_the_visitors_page_is_the_same_for_every_visitor(client, app, shop_window):
    """Nothing of the visitor's own goes into it, so two visitors get the same bytes (the spec helper makes it cacheable)."""
    campaign = shop_window[0]
    first = page(client.get(f"/c/{campaign.slug}"))
    second = page(app.test_client().get(f"/c/{campaign.slug}"))
    strip = re.compile(r'name="csrf_token" value="[^"]*"')  # base.html's language switch, until it stops needing one
    assert strip.sub("", first) == strip.sub("", second)
    with client.session_transaction() as session:
        # Nothing of this page's own (no cart, no message, no user); the language switch's token is base.html's.
        assert set(session) <= {"csrf_token"}


def test_a_logged_in_buyer_still_sees_the_households_name(client, auth, shop_window):
    campaign = shop_window[0]
    auth.login(make_user().phone)
    text = page(client.get(f"/c/{campaign.slug}"))
    assert "陈华养鸡户 · 秀水镇" in text and "加入购物车" in text


def test_the_api_serves_a_published_campaign_without_a_token(client, shop_window):
    campaign, eggs, chickens, _photo, _buyer = shop_window
    response = client.get(f"/api/v1/campaigns/{campaign.id}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["title"], body["status"], body["phase"]) == ("乐昌春季助农", "published", "open")
    assert body["closes_at"] == campaign.closes_at.astimezone(local_zone()).isoformat()
    by_id = {item["id"]: item for item in body["items"]}
    assert (by_id[eggs.id]["price_fen"], by_id[eggs.id]["remaining"], by_id[eggs.id]["ordered"]) == (150, 380, 120)
    assert (by_id[chickens.id]["price_fen"], by_id[chickens.id]["remaining"]) == (9800, 18)
    assert by_id[eggs.id]["producers"][0]["name"] == "绿源蛋鸡合作社"
    assert by_id[chickens.id]["producers"][0]["town"] == "秀水镇"
    assert by_id[chickens.id]["producers"][0]["name"] != "陈华养鸡户"
    assert not [marker for marker in PERSONAL if marker in response.get_data(as_text=True)]
    # A token that is sent must be valid: an expired one is told so, not silently ignored.
    bad = client.get(f"/api/v1/campaigns/{campaign.id}", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_drafts_are_not_found_by_visitors_anywhere(client):
    draft = make_campaign(status="draft", title="草稿活动")
    add_cover(draft)
    listing = make_listing()
    make_item(draft, [(listing, 10)])
    photo = add_photo(listing)
    # An approved listing's photo is public only once a published campaign shows it.
    hidden = client.get(f"/producers/photos/{photo.token}/thumb")
    assert hidden.status_code == 302 and "/accounts/login" in hidden.headers["Location"]
    for path in (
        f"/c/{draft.slug}",
        f"/c/{draft.slug}/poster.png",
        f"/c/{draft.slug}/qr.png",
        f"/c/{draft.slug}/qr.svg",
        f"/campaigns/covers/{draft.cover_token or '0' * 32}",
        f"/api/v1/campaigns/{draft.id}",
        "/c/nosuchslug",
        "/c/nosuchslug/poster.png",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "草稿活动" not in page(response)


def meta(text):
    return {
        html_lib.unescape(key): html_lib.unescape(value)
        for key, value in re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', text)
    }


def test_the_page_carries_a_share_card_with_absolute_urls(client, shop_window):
    campaign = shop_window[0]
    tags = meta(page(client.get(f"/c/{campaign.slug}")))
    assert tags["og:title"] == "乐昌春季助农"
    assert tags["og:url"] == f"{PUBLIC}/c/{campaign.slug}"
    assert "雪毛鸡、鸡蛋、马蹄" in tags["og:description"] and local_datetime(campaign.closes_at) in tags["og:description"]
    assert tags["og:image"] == f"{PUBLIC}/campaigns/covers/{campaign.cover_token}"
    assert tags["og:type"] == "website" and tags["description"] == tags["og:description"]
    image = client.get(tags["og:image"].removeprefix(PUBLIC))  # the card's image loads for anyone
    assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_without_a_cover_the_card_shows_the_poster(client):
    campaign = make_campaign(title="无封面活动")
    make_item(campaign, [(make_listing(), 10)])
    tags = meta(page(client.get(f"/c/{campaign.slug}")))
    assert tags["og:image"] == f"{PUBLIC}/c/{campaign.slug}/poster.png"
    assert tags["og:description"].startswith("预订截止：")
    assert client.get(tags["og:image"].removeprefix(PUBLIC)).mimetype == "image/png"


def qr_modules(image, url, top):
    """Read the QR code back from the poster, module by module, where the poster says it drew it."""
    left, top, scale = poster.qr_box(url, top)
    side = segno.make(url, error="m", micro=False).symbol_size(scale=1, border=0)[0]
    gray = image.convert("L")
    start = poster.QR_BORDER * scale
    return [
        tuple(
            gray.getpixel((left + start + col * scale + scale // 2, top + start + row * scale + scale // 2)) < 128
            for col in range(side)
        )
        for row in range(side)
    ]


def qr_tops(image, url):
    """Where the poster's QR code box may start: each row crossing what looks like its top-left finder pattern (seven
    dark modules, then the light separator), less the quiet zone. Text drawn without a Chinese font can look alike."""
    left, _top, scale = poster.qr_box(url, 0)
    gray = image.convert("L")
    start = left + poster.QR_BORDER * scale + scale // 2
    for y in range(poster.HEIGHT):
        dark = [gray.getpixel((start + col * scale, y)) < 128 for col in range(8)]
        if all(dark[:7]) and not dark[7]:
            yield y - poster.QR_BORDER * scale


@pytest.mark.parametrize("with_cover", [True, False])
def test_the_share_poster_is_a_png_whose_qr_code_is_the_short_link(client, with_cover):
    campaign = make_campaign(title="乐昌春季助农：雪毛鸡、鸡蛋、马蹄、天堂姜、大米、蜂蜜、红薯干" * 3)
    make_item(campaign, [(make_listing(), 10)])
    if with_cover:
        add_cover(campaign, color=(200, 40, 40))
    response = client.get(f"/c/{campaign.slug}/poster.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "public" in response.headers["Cache-Control"]
    image = Image.open(io.BytesIO(response.data))
    image.verify()
    image = Image.open(io.BytesIO(response.data)).convert("RGB")
    assert image.size == (poster.WIDTH, poster.HEIGHT)
    top_left = image.getpixel((10, 10))
    if with_cover:
        assert abs(top_left[0] - 200) < 20 and top_left[1] < 70  # the cover's red
    else:
        assert top_left == poster.GREEN
    url = f"{PUBLIC}/c/{campaign.slug}"
    expected = [tuple(bool(module) for module in row) for row in segno.make(url, error="m", micro=False).matrix]
    assert any(qr_modules(image, url, top) == expected for top in qr_tops(image, url))


def test_the_poster_is_made_even_when_the_configured_font_is_missing(app, client):
    app.config["POSTER_FONT"] = "/nonexistent/font.ttc"
    campaign = make_campaign()
    make_item(campaign, [(make_listing(), 10)])
    response = client.get(f"/c/{campaign.slug}/poster.png")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.data)).size == (poster.WIDTH, poster.HEIGHT)


def test_ordering_asks_a_visitor_to_log_in_and_comes_back_to_the_cart(client, shop_window):
    campaign, eggs, _chickens, _photo, _buyer = shop_window
    cart = f"/c/{campaign.slug}/cart"
    for response in (
        client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": 2}),
        client.get(cart),
        client.post(cart, data={"token": "t", f"qty-{eggs.id}": "2", "place": "1"}),
    ):
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert location.path == "/accounts/login" and parse_qs(location.query)["next"] == [cart]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1  # only the fixture's
    login_page = client.get(f"/accounts/login?next={cart}")
    assert "登录或注册后即可预订" in page(login_page)
    buyer = make_user()
    logged_in = client.post(f"/accounts/login?next={cart}", data={"login": buyer.phone, "password": "password123"})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == cart
    assert client.get(cart).status_code == 200
    added = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": 2})
    assert added.status_code == 302 and "土鸡蛋" in page(client.get(cart))


def test_the_api_refuses_an_anonymous_order(client, shop_window):
    campaign, eggs, *_rest = shop_window
    response = client.post(
        f"/api/v1/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 1}]},
        headers={"Idempotency-Key": "anonymous-1"},
    )
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1


def test_a_campaign_for_some_units_says_so_to_visitors_and_only_they_order(client, auth):
    federation, bureau = make_unit(name="乐昌市妇联"), make_unit(name="乐昌市商务局")
    campaign = make_campaign(units=[federation])
    item = make_item(campaign, [(make_listing(), 50)], title="马蹄")
    text = page(client.get(f"/c/{campaign.slug}"))
    assert "只有以下单位的职工可以预订：乐昌市妇联。" in text and "马蹄" in text
    assert client.get(f"/api/v1/campaigns/{campaign.id}").get_json()["unit_ids"] == [federation.id]
    auth.login(make_user(unit=bureau).phone)
    refused = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": item.id, "quantity": 1})
    assert refused.status_code == 403
    auth.logout()
    auth.login(make_user(unit=federation).phone)
    assert client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": item.id, "quantity": 1}).status_code == 302


def test_operators_find_the_poster_beside_the_qr_codes(client, auth):
    campaign = make_campaign()
    make_item(campaign, [(make_listing(), 10)])
    auth.login(make_user(role="operator").phone)
    manage = page(client.get(f"/campaigns/{campaign.id}/manage"))
    assert f"/c/{campaign.slug}/poster.png?download=1" in manage and "分享海报（PNG）" in manage
    assert f"/c/{campaign.slug}/qr.png?download=1" in manage
