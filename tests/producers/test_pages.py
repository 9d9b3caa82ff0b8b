"""Producer and operator pages: the producer's home and phone form, the registry with its filters, the review queue,
acting for a household, bad input shown beside the fields, both languages."""

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa

from accounts.models import AuditEntry
from extensions import db
from factories import make_listing, make_producer, make_user
from producers.models import Listing, Producer


def listing_form(**overrides):
    data = {
        "name": "鸡蛋",
        "category": "蛋类",
        "variety": "土鸡蛋",
        "unit": "个",
        "unit_weight_kg": "0.05",
        "price_yuan": "1.50",
        "quantity": "12000",
        "ready_on": (date.today() + timedelta(days=2)).isoformat(),
        "description": "散养",
    }
    data.update(overrides)
    return data


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_producer_home_shows_its_goods_what_is_left_and_why_one_was_rejected(client, auth):
    producer = make_producer(name="李桂英蛋鸡户")
    user = make_user(role="producer", producer=producer)
    make_listing(producer=producer, name="鸡蛋", quantity=1000, quantity_committed=400, status="approved")
    make_listing(producer=producer, name="红薯干", status="rejected", reject_reason="请补充照片")
    make_listing(name="别人的蜂蜜")
    auth.login(user.phone)
    page = client.get("/producers/").get_data(as_text=True)
    assert "李桂英蛋鸡户" in page and "鸡蛋" in page and "红薯干" in page
    assert "别人的蜂蜜" not in page
    assert "剩余 600 / 1000 个" in page and "活动已认购 400" in page
    assert "请补充照片" in page and "已通过" in page and "未通过" in page


def test_producer_adds_goods_with_photos_from_the_phone_form(client, auth, jpeg, stored_files):
    user = make_user(role="producer")
    auth.login(user.phone)
    form_page = client.get("/producers/listings/new").get_data(as_text=True)
    assert 'inputmode="decimal"' in form_page and 'type="date"' in form_page and 'enctype="multipart/form-data"' in form_page
    assert "单价（元）" in form_page and "上市日期" in form_page and "照片（最多 5 张）" in form_page
    data = listing_form()
    data["photos"] = [(io.BytesIO(jpeg), "egg.jpg"), (io.BytesIO(jpeg), "egg2.jpg")]
    response = client.post("/producers/listings/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    listing = db.session.scalar(sa.select(Listing))
    assert (listing.price_fen, listing.unit_weight_g, listing.quantity, listing.status) == (150, 50, 12000, "pending")
    assert len(listing.photos) == 2 and len(stored_files()) == 4
    page = client.get("/producers/").get_data(as_text=True)
    assert "待审核" in page and f"/producers/photos/{listing.photos[0].token}/thumb" in page


def test_bad_input_on_the_form_is_shown_beside_the_fields_and_nothing_saved(client, auth, stored_files):
    user = make_user(role="producer")
    auth.login(user.phone)
    data = listing_form(
        name="<script>alert(1)</script>", price_yuan="1000000000", quantity="-5", unit_weight_kg="1.23456", ready_on=""
    )
    data["photos"] = [(io.BytesIO(b"MZ this is an exe"), "photo.jpg")]
    response = client.post("/producers/listings/new", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in page
    assert "请修改标出的字段。" in page
    assert "请填写单行纯文本，不能包含 &lt; 或 &gt;。" in page
    assert "单价须在 ¥0.01 到 ¥100,000 之间。" in page and "重量（千克）最多保留 3 位小数（精确到克）。" in page
    assert "请输入 1 到 10,000,000 之间的整数。" in page and "请填写上市日期。" in page
    assert "该文件不是可用的照片" in page
    assert count(Listing) == 0 and stored_files() == []
    # the service's own checks, once the form's conversions pass
    response = client.post("/producers/listings/new", data=listing_form(price_yuan="1000000000", quantity="1000000000000"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "100,000" in page and "10,000,000" in page
    response = client.post("/producers/listings/new", data=listing_form(quantity="很多", price_yuan="abc"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "不是有效的整数" in page and "请按元填写金额，如 98 或 4.50。" in page
    assert count(Listing) == 0


def test_a_fake_photo_on_the_form_is_a_field_error(client, auth, stored_files):
    user = make_user(role="producer")
    auth.login(user.phone)
    data = listing_form()
    data["photos"] = [(io.BytesIO(b"<svg onload=alert(1)>"), "photo.png")]
    response = client.post("/producers/listings/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "JPEG" in response.get_data(as_text=True)
    assert count(Listing) == 0 and stored_files() == []


def test_a_script_name_is_shown_escaped_never_run(client, auth):
    operator = make_user(role="operator")
    # Names typed through the services are refused; one that slipped in some other way is still only text.
    producer = make_producer(name="<script>alert('x')</script>", status="approved")
    make_listing(producer=producer, name="<img src=x onerror=alert(1)>", status="pending", description="<script>steal()</script>")
    auth.login(operator.phone)
    for path in ("/producers/registry", f"/producers/registry/{producer.id}", "/producers/review"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page and "<script>steal" not in page
        assert "&lt;script&gt;alert(" in page  # shown as text


def test_producer_edits_a_listing_and_manages_photos(client, auth, jpeg):
    listing = make_listing(status="approved", price_fen=150, quantity=100)
    user = make_user(role="producer", producer=listing.producer)
    auth.login(user.phone)
    page = client.get(f"/producers/listings/{listing.id}/edit").get_data(as_text=True)
    assert 'value="1.50"' in page and 'value="0.05"' in page
    client.post(
        f"/producers/listings/{listing.id}/edit",
        data=listing_form(
            name=listing.name,
            variety="",
            description="",
            price_yuan="1.50",
            unit_weight_kg="0.05",
            quantity="120",
            category=listing.category,
        ),
    )
    db.session.refresh(listing)
    assert (listing.quantity, listing.status) == (120, "approved")
    client.post(
        f"/producers/listings/{listing.id}/edit",
        data=listing_form(name=listing.name, category=listing.category, price_yuan="2", quantity="120"),
    )
    db.session.refresh(listing)
    assert (listing.price_fen, listing.status) == (200, "pending")
    response = client.post(
        f"/producers/listings/{listing.id}/photos",
        data={"photo": (io.BytesIO(jpeg), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(listing)
    assert len(listing.photos) == 1
    bad = client.post(
        f"/producers/listings/{listing.id}/photos",
        data={"photo": (io.BytesIO(b"nope"), "a.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "JPEG" in bad.get_data(as_text=True)
    client.post(f"/producers/photos/{listing.photos[0].id}/delete")
    db.session.refresh(listing)
    assert listing.photos == []
    client.post(f"/producers/listings/{listing.id}/withdraw")
    db.session.refresh(listing)
    assert listing.status == "withdrawn"


def test_producer_edits_its_profile(client, auth):
    producer = make_producer(town="秀水镇", poverty=True)
    user = make_user(role="producer", producer=producer)
    auth.login(user.phone)
    page = client.get("/producers/profile").get_data(as_text=True)
    assert "乐城街道" in page and "白石镇" in page and "poverty_household" not in page
    response = client.post(
        "/producers/profile",
        data={"name": producer.name, "town": "北乡镇", "village": "新岩村", "phone": "13800001234", "email": ""},
    )
    assert response.status_code == 302
    db.session.refresh(producer)
    assert (producer.town, producer.village, producer.phone, producer.poverty_household) == (
        "北乡镇",
        "新岩村",
        "13800001234",
        True,
    )
    response = client.post(
        "/producers/profile", data={"name": producer.name, "town": "火星镇", "village": "", "phone": "1", "email": ""}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请填写所在村。" in page and "请从列表中选择镇（街）。" in page and "请填写11位手机号码。" in page


def test_operator_registers_approves_and_suspends_a_producer(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    page = client.get("/producers/registry/new").get_data(as_text=True)
    assert "合作社" in page and "白石镇" in page
    response = client.post(
        "/producers/registry/new",
        data={
            "name": "梅花镇天堂姜合作社",
            "kind": "cooperative",
            "town": "梅花镇",
            "village": "梅花村",
            "phone": "13800000103",
            "linked_households": "17",
        },
    )
    assert response.status_code == 302
    producer = db.session.scalar(sa.select(Producer))
    assert (producer.kind, producer.linked_households, producer.status) == ("cooperative", 17, "pending")
    client.post(f"/producers/registry/{producer.id}/approve")
    db.session.refresh(producer)
    assert producer.status == "approved"
    client.post(f"/producers/registry/{producer.id}/suspend")
    db.session.refresh(producer)
    assert producer.status == "suspended"
    bad = client.post("/producers/registry/new", data={"name": "", "kind": "", "town": "", "village": "", "phone": ""})
    assert bad.status_code == 422 and count(Producer) == 1


def test_registry_filters_by_town_kind_and_poverty(client, auth):
    operator = make_user(role="operator")
    make_producer(name="秀水贫困户", town="秀水镇", poverty=True)
    make_producer(name="秀水合作社", town="秀水镇", kind="cooperative", linked_households=5)
    make_producer(name="北乡农户", town="北乡镇")
    auth.login(operator.phone)

    def names(query):
        page = client.get("/producers/registry" + query).get_data(as_text=True)
        return {n for n in ("秀水贫困户", "秀水合作社", "北乡农户") if n in page}

    assert names("") == {"秀水贫困户", "秀水合作社", "北乡农户"}
    assert names("?town=秀水镇") == {"秀水贫困户", "秀水合作社"}
    assert names("?town=秀水镇&kind=household") == {"秀水贫困户"}
    assert names("?poverty=1") == {"秀水贫困户"}
    assert names("?poverty=0&kind=household") == {"北乡农户"}
    assert names("?q=合作") == {"秀水合作社"}


def test_review_queue_approves_and_rejects_in_one_click(client, auth):
    operator = make_user(role="operator")
    eggs = make_listing(name="鸡蛋", status="pending")
    ginger = make_listing(name="天堂姜", status="pending")
    blocked = make_listing(name="马蹄", status="pending", producer=make_producer(status="pending"))
    make_listing(name="蜂蜜", status="approved")
    auth.login(operator.phone)
    page = client.get("/producers/review").get_data(as_text=True)
    assert "鸡蛋" in page and "天堂姜" in page and "马蹄" in page and "蜂蜜" not in page
    assert "请先审核通过该生产者。" in page
    assert client.post(f"/producers/listings/{eggs.id}/approve").status_code == 302
    refused = client.post(f"/producers/listings/{ginger.id}/reject", data={"reason": ""}, follow_redirects=True)
    assert "请说明原因，便于生产者修改。" in refused.get_data(as_text=True)
    db.session.refresh(ginger)
    assert ginger.status == "pending"
    client.post(f"/producers/listings/{ginger.id}/reject", data={"reason": "价格偏高"})
    not_allowed = client.post(f"/producers/listings/{blocked.id}/approve", follow_redirects=True)
    assert blocked.producer.name in not_allowed.get_data(as_text=True)
    for listing in (eggs, ginger, blocked):
        db.session.refresh(listing)
    assert (eggs.status, ginger.status, ginger.reject_reason, blocked.status) == ("approved", "rejected", "价格偏高", "pending")
    page = client.get("/producers/review").get_data(as_text=True)
    assert "鸡蛋" not in page and "天堂姜" not in page


def test_operator_enters_goods_for_a_household_and_the_history_shows_it(client, auth):
    household = make_producer(name="黄秀兰红薯干加工户", poverty=True)
    operator = make_user(role="operator", name="驻村干部老周")
    auth.login(operator.phone)
    page = client.get(f"/producers/listings/new?producer_id={household.id}").get_data(as_text=True)
    assert "黄秀兰红薯干加工户" in page
    response = client.post(
        f"/producers/listings/new?producer_id={household.id}",
        data=listing_form(name="红薯干", unit="袋", unit_weight_kg="0.5", price_yuan="20"),
    )
    assert response.status_code == 302 and f"/producers/registry/{household.id}" in response.headers["Location"]
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "listing.create"))
    assert (entry.actor_id, entry.on_behalf_of) == (operator.id, "黄秀兰红薯干加工户")
    detail = client.get(f"/producers/registry/{household.id}").get_data(as_text=True)
    assert "红薯干" in detail and "驻村干部老周 (代 黄秀兰红薯干加工户 操作)" in detail
    assert client.get("/producers/listings/new?producer_id=999999").status_code == 404


def test_pages_in_english_too(client, auth):
    user = make_user(role="producer")
    auth.login(user.phone)
    client.post("/accounts/language/en")
    page = client.get("/producers/listings/new").get_data(as_text=True)
    assert "Price per unit (yuan)" in page and "Ready on" in page
    operator = make_user(role="operator")
    auth.logout()
    auth.login(operator.phone)
    client.post("/accounts/language/en")
    page = client.get("/producers/review").get_data(as_text=True)
    assert "Review goods" in page and "Nothing waits for review." in page


def test_navigation_links(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    page = client.get("/producers/registry").get_data(as_text=True)
    assert 'href="/producers/registry"' in page and 'href="/producers/review"' in page
    auth.logout()
    auth.login(make_user(role="producer").phone)
    page = client.get("/producers/").get_data(as_text=True)
    assert 'href="/producers/profile"' in page and 'href="/producers/listings/new"' in page


def test_one_click_forms_carry_csrf_and_are_refused_without_it(csrf_app):
    operator = make_user(role="operator")
    listing = make_listing(status="pending")
    client = csrf_app.test_client()
    page = client.get("/accounts/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/accounts/login", data={"login": operator.phone, "password": "password123", "csrf_token": token})
    review = client.get("/producers/review").get_data(as_text=True)
    assert review.count('name="csrf_token"') >= 2
    assert client.post(f"/producers/listings/{listing.id}/approve").status_code == 400
    db.session.refresh(listing)
    assert listing.status == "pending"
