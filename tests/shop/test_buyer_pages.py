"""A buyer on a phone: the campaign page, the cart, checking out once even on a double click, and the closed states."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from orders.models import Order
from shop.models import CampaignItem


@pytest.fixture
def open_campaign():
    campaign = make_campaign(title="乐昌春季助农", description="雪毛鸡、鸡蛋、马蹄")
    eggs = make_item(
        campaign,
        [
            (make_listing(make_producer(name="李桂英蛋鸡户", town="两江镇", poverty=True), quantity=1000), 300),
            (make_listing(make_producer(name="周光明鸡蛋户", town="廊田镇"), quantity=1000), 200),
        ],
        title="土鸡蛋",
        price_fen=150,
    )
    chickens = make_item(
        campaign,
        [
            (
                make_listing(
                    make_producer(name="陈华养鸡户", town="秀水镇"), name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500
                ),
                20,
            )
        ],
        per_buyer_limit=2,
    )
    eggs.ordered = 120
    db.session.commit()
    return campaign, eggs, chickens


def page(response):
    return response.get_data(as_text=True)


def test_the_campaign_page_shows_what_a_buyer_needs(client, auth, open_campaign):
    campaign, eggs, chickens = open_campaign
    auth.login(make_user().phone)
    response = client.get(f"/c/{campaign.slug}")
    html = page(response)
    assert response.status_code == 200
    assert "乐昌春季助农" in html and "土鸡蛋" in html and "雪毛鸡" in html
    assert "李桂英蛋鸡户 · 两江镇" in html and "周光明鸡蛋户 · 廊田镇" in html and "陈华养鸡户 · 秀水镇" in html
    assert "¥1.50" in html and "每公斤 ¥30.00" in html and "每公斤 ¥65.33" in html  # price per unit and per kg
    assert "剩余 380 个" in html and "已订 120 个" in html  # left and sold so far
    assert "每人限购 2 只" in html
    assert "加入购物车" in html
    # Mobile first: the viewport is set and nothing is a wide table.
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert "<table" not in html


def test_add_to_cart_then_check_out_once_even_on_a_double_click(client, auth, open_campaign):
    campaign, eggs, chickens = open_campaign
    buyer = make_user()
    auth.login(buyer.phone)
    added = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": 12})
    assert added.status_code == 302
    client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": chickens.id, "quantity": 1})
    cart = page(client.get(f"/c/{campaign.slug}/cart"))
    assert "¥18.00" in cart and "¥98.00" in cart and "¥116.00" in cart
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', cart).group(1)
    form = {"token": token, f"qty-{eggs.id}": "12", f"qty-{chickens.id}": "1", "note": "周五上午", "place": "1"}
    first = client.post(f"/c/{campaign.slug}/cart", data=form)
    second = client.post(f"/c/{campaign.slug}/cart", data=form)  # the double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    orders = db.session.scalars(sa.select(Order)).all()
    assert len(orders) == 1 and orders[0].total_fen == 12 * 150 + 9800 and orders[0].note == "周五上午"
    db.session.expire_all()
    assert (eggs.ordered, chickens.ordered) == (132, 1)
    confirmation = page(client.get(first.headers["Location"]))
    assert f"您的预订单 {orders[0].number} 已提交" in confirmation and "¥116.00" in confirmation
    # The cart is empty afterwards.
    assert "购物车是空的" in page(client.get(f"/c/{campaign.slug}/cart"))


def test_the_cart_updates_and_removes(client, auth, open_campaign):
    campaign, eggs, chickens = open_campaign
    auth.login(make_user().phone)
    client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": 2})
    client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": 3})
    client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": chickens.id, "quantity": 1})
    assert 'value="5"' in page(client.get(f"/c/{campaign.slug}/cart"))
    client.post(f"/c/{campaign.slug}/cart", data={"token": "t", f"qty-{eggs.id}": "7", f"qty-{chickens.id}": "0", "update": "1"})
    cart = page(client.get(f"/c/{campaign.slug}/cart"))
    assert 'value="7"' in cart and "雪毛鸡" not in cart
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "100000"])
def test_bad_quantities_in_the_cart_change_nothing(client, auth, open_campaign, quantity):
    campaign, eggs, _chickens = open_campaign
    auth.login(make_user().phone)
    response = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": eggs.id, "quantity": quantity})
    assert response.status_code == 422
    assert "购物车" not in page(response) or "加入购物车" in page(response)
    placed = client.post(f"/c/{campaign.slug}/cart", data={"token": "tok", f"qty-{eggs.id}": quantity, "place": "1"})
    assert placed.status_code in (302, 422)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_checkout_beyond_stock_or_limit_says_why(client, auth, open_campaign):
    campaign, _eggs, chickens = open_campaign
    auth.login(make_user().phone)
    response = client.post(f"/c/{campaign.slug}/cart", data={"token": "t1", f"qty-{chickens.id}": "3", "place": "1"})
    assert response.status_code == 409
    assert "雪毛鸡每人限购 2 只" in page(response)
    chickens.ordered = 20
    db.session.commit()
    response = client.post(f"/c/{campaign.slug}/cart", data={"token": "t2", f"qty-{chickens.id}": "1", "place": "1"})
    assert response.status_code == 409 and "雪毛鸡已售罄" in page(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_reused_form_with_other_quantities_is_not_a_second_order(client, auth, open_campaign):
    campaign, eggs, _chickens = open_campaign
    auth.login(make_user().phone)
    client.post(f"/c/{campaign.slug}/cart", data={"token": "same", f"qty-{eggs.id}": "2", "place": "1"})
    again = client.post(f"/c/{campaign.slug}/cart", data={"token": "same", f"qty-{eggs.id}": "5", "place": "1"})
    assert again.status_code == 409 and "此表单已用于另一笔订单" in page(again)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1


@pytest.mark.parametrize(
    "opens_in,closes_in,status,notice",
    [
        (timedelta(hours=3), timedelta(days=1), "published", "开始接受预订"),
        (timedelta(days=-3), timedelta(hours=-1), "published", "不再接受预订"),
        (timedelta(days=-3), timedelta(days=1), "closed", "不再接受预订"),
    ],
)
def test_before_opening_and_after_closing_the_page_says_so_and_takes_no_order(client, auth, opens_in, closes_in, status, notice):
    campaign = make_campaign(opens_in=opens_in, closes_in=closes_in, status=status)
    item = make_item(campaign, [(make_listing(), 50)])
    auth.login(make_user().phone)
    html = page(client.get(f"/c/{campaign.slug}"))
    assert notice in html and "加入购物车" not in html
    added = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": item.id, "quantity": 1}, follow_redirects=True)
    assert "此活动目前不接受预订" in page(added)
    placed = client.post(f"/c/{campaign.slug}/cart", data={"token": "x", f"qty-{item.id}": "1", "place": "1"})
    assert placed.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
    assert db.session.scalar(sa.select(CampaignItem.ordered).where(CampaignItem.id == item.id)) == 0


def test_a_unit_that_is_not_eligible_is_told_so(client, auth):
    """The catalogue is public, so the buyer reads it too; the page says which units may order, and this one may not."""
    campaign = make_campaign(units=[make_unit(name="乐昌市妇联")])
    item = make_item(campaign, [(make_listing(), 50)])
    auth.login(make_user(unit=make_unit(name="乐昌市商务局")).phone)
    response = client.get(f"/c/{campaign.slug}")
    html = page(response)
    assert response.status_code == 200 and "您所在的单位不在其中" in html and "乐昌市妇联" in html
    assert "加入购物车" not in html and f"/c/{campaign.slug}/cart/add" not in html
    added = client.post(f"/c/{campaign.slug}/cart/add", data={"item_id": item.id, "quantity": 1})
    assert added.status_code == 403 and "您所在的单位不在其中" in page(added)
    placed = client.post(f"/c/{campaign.slug}/cart", data={"token": "x", f"qty-{item.id}": "1", "place": "1"})
    assert placed.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
    assert campaign.title not in page(client.get("/campaigns"))


def test_drafts_and_unknown_links_are_not_found(client, auth):
    draft = make_campaign(status="draft")
    auth.login(make_user().phone)
    assert client.get(f"/c/{draft.slug}").status_code == 404
    assert client.get("/c/nosuchslug").status_code == 404


def test_the_campaign_list_puts_open_ones_first(client, auth):
    make_campaign(title="已结束的活动", opens_in=timedelta(days=-5), closes_in=timedelta(days=-1), status="closed")
    make_campaign(title="即将开始的活动", opens_in=timedelta(days=1), closes_in=timedelta(days=3))
    make_campaign(title="正在进行的活动")
    auth.login(make_user().phone)
    html = page(client.get("/campaigns"))
    assert html.index("正在进行的活动") < html.index("即将开始的活动") < html.index("已结束的活动")
    assert "即将开始" in html and "接受预订中" in html


def test_checkout_forms_need_csrf(csrf_app, open_campaign):
    campaign, eggs, _chickens = open_campaign
    client = csrf_app.test_client()
    user = make_user()
    login_page = page(client.get("/accounts/login"))
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    client.post("/accounts/login", data={"login": user.phone, "password": "password123", "csrf_token": csrf})
    response = client.post(f"/c/{campaign.slug}/cart", data={"token": "t", f"qty-{eggs.id}": "1", "place": "1"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
