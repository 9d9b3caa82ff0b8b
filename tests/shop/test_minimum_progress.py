"""How far each item is from its minimum total (成团量), on the buyer's page, the operator's page and in the API; and
the notice every campaign page carries: buying is voluntary, complaints to 12317."""

import pytest

from extensions import db
from factories import make_campaign, make_item, make_listing, make_user
from shop.models import minimum_percent, minimum_shortfall


@pytest.fixture
def campaign():
    campaign = make_campaign(title="乐昌冬季助农")
    chicken = make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", price_fen=9800), 80)], min_total=50)
    eggs = make_item(campaign, [(make_listing(name="鸡蛋", unit="个"), 500)], min_total=100)
    honey = make_item(campaign, [(make_listing(name="蜂蜜", unit="瓶"), 40)])
    chicken.ordered, eggs.ordered, honey.ordered = 37, 120, 3
    db.session.commit()
    return campaign, chicken, eggs, honey


def test_the_shortfall_and_share_are_plain_functions_of_ordered_and_minimum():
    assert minimum_shortfall(37, 50) == 13 and minimum_percent(37, 50) == 74
    assert minimum_shortfall(50, 50) == 0 and minimum_percent(50, 50) == 100
    assert minimum_shortfall(120, 100) == 0 and minimum_percent(120, 100) == 100
    assert minimum_shortfall(0, 7) == 7 and minimum_percent(1, 3) == 33
    assert minimum_shortfall(5, None) is None and minimum_percent(5, None) is None


def test_the_buyers_page_shows_each_items_progress_to_its_minimum(client, auth, campaign):
    campaign, *_ = campaign
    for login in (None, make_user().phone):  # a visitor from the link and a logged-in buyer see the same
        if login:
            auth.login(login)
        html = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
        assert "已订 37 / 50 只" in html and "还差 13 只成团" in html
        assert "已订 120 / 100 个" in html and "已达成团量" in html
        assert 'value="37" max="50"' in html and 'value="100" max="100"' in html  # the bar stops at full
        assert "截止时订购量不足 50 只，该商品的预订将全部取消" in html
        assert "/ 40 瓶" not in html and "蜂蜜" in html  # no minimum, no progress


def test_the_operators_campaign_page_shows_the_same_progress(client, auth, campaign):
    campaign, *_ = campaign
    auth.login(make_user(role="operator").phone)
    html = client.get(f"/campaigns/{campaign.id}/manage").get_data(as_text=True)
    assert "已订 37 / 50 只" in html and "还差 13 只成团" in html


def test_the_api_gives_the_shortfall_and_share_beside_min_total_and_ordered(client, campaign):
    campaign, chicken, eggs, honey = campaign
    items = {item["id"]: item for item in client.get(f"/api/v1/campaigns/{campaign.id}").get_json()["items"]}
    assert {k: items[chicken.id][k] for k in ("min_total", "ordered", "short_of_minimum", "minimum_pct", "unit")} == {
        "min_total": 50,
        "ordered": 37,
        "short_of_minimum": 13,
        "minimum_pct": 74,
        "unit": "只",
    }
    assert (items[eggs.id]["short_of_minimum"], items[eggs.id]["minimum_pct"]) == (0, 100)
    assert (items[honey.id]["short_of_minimum"], items[honey.id]["minimum_pct"]) == (None, None)


def test_every_campaign_page_says_buying_is_voluntary_and_links_the_12317_hotline(client, auth, campaign):
    campaign, chicken, *_ = campaign
    other_unit_campaign = make_campaign(title="仅限甲单位", units=[make_user().unit])
    buyer = make_user()
    pages = {"visitor": [f"/c/{campaign.slug}"]}
    pages["buyer"] = [f"/c/{campaign.slug}", f"/c/{campaign.slug}/cart", f"/c/{other_unit_campaign.slug}"]
    pages["operator"] = [
        f"/c/{campaign.slug}",
        f"/campaigns/{campaign.id}/preview",
        f"/campaigns/{campaign.id}/manage",
    ]
    for who, urls in pages.items():
        if who == "buyer":
            auth.login(buyer.phone)
        elif who == "operator":
            auth.logout()
            auth.login(make_user(role="operator").phone)
        for url in urls:
            html = client.get(url).get_data(as_text=True)
            assert "自愿购买" in html, (who, url)
            assert 'href="tel:12317"' in html, (who, url)
