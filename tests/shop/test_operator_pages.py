"""Operators build a campaign on the pages: times in Beijing time, a cover photo, pooled items, preview, publish, short link and QR codes."""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from factories import make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from shop.models import Campaign, CampaignItem
from shop.qr import qr_png, qr_svg


def page(response):
    return response.get_data(as_text=True)


@pytest.fixture
def operator(auth):
    user = make_user(role="operator")
    auth.login(user.phone)
    return user


def photo_bytes(fmt="PNG"):
    out = io.BytesIO()
    Image.new("RGB", (800, 400), (200, 60, 40)).save(out, fmt)
    return out.getvalue()


def campaign_form(**fields):
    return {
        "title": "乐昌年货节",
        "description": "帮扶产品",
        "opens_at": "2031-01-10T09:00",
        "closes_at": "2031-01-20T18:30",
        "delivery_on": "2031-01-25",
        **fields,
    }


def test_create_a_campaign_with_beijing_times_units_and_a_cover(client, operator):
    union, federation = make_unit(name="乐昌市总工会"), make_unit(name="乐昌市妇联")
    form = campaign_form(unit_ids=[str(union.id)], cover=(io.BytesIO(photo_bytes()), "cover.png"))
    response = client.post("/campaigns/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 302, page(response)
    campaign = db.session.scalar(sa.select(Campaign))
    assert campaign.status == "draft"
    assert (campaign.opens_at.hour, campaign.closes_at.hour, campaign.closes_at.minute) == (
        1,
        10,
        30,
    )  # 09:00 and 18:30 in Beijing, as UTC
    assert [unit.id for unit in campaign.units] == [union.id]
    assert client.get(f"/campaigns/{campaign.id}/cover").status_code == 404  # never by id
    cover = client.get(f"/campaigns/covers/{campaign.cover_token}")
    assert cover.status_code == 200 and cover.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(cover.data)).size == (800, 400)
    manage = page(client.get(response.headers["Location"]))
    assert "2031-01-10 09:00" in manage and "2031-01-20 18:30" in manage and "开放单位：乐昌市总工会" in manage
    # The edit form shows the times as they were typed.
    edit = page(client.get(f"/campaigns/{campaign.id}/edit"))
    assert 'value="2031-01-10T09:00"' in edit and 'value="2031-01-20T18:30"' in edit
    assert federation.name in edit


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"closes_at": "2031-01-09T09:00"}, "截止时间须晚于开始时间"),
        ({"delivery_on": "2031-01-19"}, "配送日期不能早于截止预订日期"),
        ({"cover": (io.BytesIO(b"not a picture at all"), "cover.jpg")}, "JPEG"),
    ],
)
def test_bad_campaign_forms_say_what_is_wrong_and_save_nothing(client, operator, fields, message):
    response = client.post("/campaigns/new", data=campaign_form(**fields), content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in page(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_add_a_pooled_item_then_publish(client, operator, auth):
    campaign = make_campaign(status="draft", opens_in=timedelta(hours=-1))
    poor = make_listing(
        make_producer(name="邓志强马蹄种植户", town="北乡镇", poverty=True),
        name="马蹄",
        unit="斤",
        price_fen=450,
        quantity=2000,
        unit_weight_g=500,
    )
    coop = make_listing(
        make_producer(name="北乡镇马蹄合作社", town="北乡镇", kind="cooperative"),
        name="马蹄",
        unit="斤",
        price_fen=450,
        quantity=9000,
        unit_weight_g=500,
    )
    form = page(client.get(f"/campaigns/{campaign.id}/items/new"))
    assert "邓志强马蹄种植户" in form and f'name="supply-{poor.id}"' in form
    response = client.post(
        f"/campaigns/{campaign.id}/items/new",
        data={
            f"supply-{poor.id}": "500",
            f"supply-{coop.id}": "1500",
            "title": "乐昌马蹄",
            "price_yuan": "4.5",
            "unit": "",
            "per_buyer_limit": "20",
            "min_total": "",
            "policy": "poor_first",
        },
    )
    assert response.status_code == 302, page(response)
    item = db.session.scalar(sa.select(CampaignItem))
    assert (item.title, item.price_fen, item.unit, item.capacity, item.per_buyer_limit, item.policy) == (
        "乐昌马蹄",
        450,
        "斤",
        2000,
        20,
        "poor_first",
    )
    db.session.expire_all()
    assert (poor.quantity_committed, coop.quantity_committed) == (500, 1500)
    manage = page(client.get(f"/campaigns/{campaign.id}/manage"))
    assert "总量 2000，已订 0，剩余 2000" in manage and "贫困户优先" in manage
    preview = page(client.get(f"/campaigns/{campaign.id}/preview"))
    assert "预览" in preview and "乐昌马蹄" in preview and "加入购物车" not in preview
    assert client.post(f"/campaigns/{campaign.id}/publish").status_code == 302
    db.session.expire_all()
    assert campaign.status == "published"
    auth.logout()
    auth.login(make_user().phone)
    assert "乐昌马蹄" in page(client.get(f"/c/{campaign.slug}"))


def test_an_item_asking_more_than_a_listing_has_left_is_refused(client, operator):
    campaign = make_campaign(status="draft")
    listing = make_listing(quantity=100)
    response = client.post(f"/campaigns/{campaign.id}/items/new", data={f"supply-{listing.id}": "101", "policy": "proportional"})
    assert response.status_code == 422
    assert "只剩 100 个" in page(response)
    response = client.post(f"/campaigns/{campaign.id}/items/new", data={f"supply-{listing.id}": "x", "policy": "proportional"})
    assert response.status_code == 422 and "数量须为 0 或正整数" in page(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignItem)) == 0


def test_removing_a_draft_item_gives_the_quantity_back(client, operator):
    campaign = make_campaign(status="draft")
    listing = make_listing(quantity=100)
    item = make_item(campaign, [(listing, 60)])
    assert client.post(f"/campaigns/{campaign.id}/items/{item.id}/remove").status_code == 302
    db.session.expire_all()
    assert listing.quantity_committed == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignItem)) == 0


def test_publishing_an_empty_campaign_is_refused(client, operator):
    campaign = make_campaign(status="draft")
    response = client.post(f"/campaigns/{campaign.id}/publish", follow_redirects=True)
    assert "发布前请至少添加一件商品" in page(response)
    db.session.expire_all()
    assert campaign.status == "draft"


def test_short_link_and_qr_codes(client, operator):
    campaign = make_campaign(slug="lcspring")
    manage = page(client.get(f"/campaigns/{campaign.id}/manage"))
    assert "http://127.0.0.1:5000/c/lcspring" in manage
    svg = client.get("/c/lcspring/qr.svg")
    png = client.get("/c/lcspring/qr.png?download=1")
    assert svg.mimetype == "image/svg+xml" and svg.data == qr_svg("http://127.0.0.1:5000/c/lcspring")
    assert png.mimetype == "image/png" and png.data == qr_png("http://127.0.0.1:5000/c/lcspring")
    assert png.headers["Content-Disposition"].startswith("attachment")
    assert Image.open(io.BytesIO(png.data)).size[0] > 200


def test_buyers_cannot_manage(client, auth):
    campaign = make_campaign(status="draft")
    auth.login(make_user().phone)
    for path in (
        f"/campaigns/{campaign.id}/manage",
        "/campaigns/new",
        f"/campaigns/{campaign.id}/items/new",
        f"/campaigns/{campaign.id}/preview",
    ):
        assert client.get(path).status_code == 403
    assert client.post(f"/campaigns/{campaign.id}/publish").status_code == 403
