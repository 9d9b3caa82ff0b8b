"""A known data set for the dashboard: three counted campaigns' worth of sales, with every kind of line that must not count.

Figures the tests expect are worked out by hand in test_totals.py from the rows built here.
"""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user

# 2026-03-01 16:30 UTC is already 2026-03-02 in Shanghai: the day grouping must say the 2nd.
DAY1 = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
DAY3 = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def build_sales_data():
    u1 = make_unit(name="乐昌市总工会", address="人民中路 总工会一楼")
    u2 = make_unit(name="乐昌市妇联", address="公园路 妇联办公室")
    b1 = make_user(unit=u1, name="张三", phone="13700000001")
    b2 = make_user(unit=u1, name="李四", phone="13700000002")
    b3 = make_user(unit=u2, name="王五", phone="13700000003")
    b4 = make_user(unit=u2, name="赵六", phone="13700000004")
    b5 = make_user(unit=u2, name="钱七", phone="13700000005")

    p1 = make_producer(name="秀水镇雪毛鸡合作社", kind="cooperative", town="秀水镇", linked_households=23)
    p2 = make_producer(name="陈华养鸡户", town="秀水镇", poverty=True)
    p3 = make_producer(name="李桂英蛋鸡户", town="两江镇", poverty=True)
    p4 = make_producer(name="周光明鸡蛋户", town="廊田镇")
    p5 = make_producer(name="九峰山蜂业公司", kind="enterprise", town="九峰镇", linked_households=12)
    p6 = make_producer(name="邓志强马蹄户", town="北乡镇", poverty=True)
    p7 = make_producer(name="北乡马蹄合作社", kind="cooperative", town="北乡镇", linked_households=41)

    chicken = dict(name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500)
    egg = dict(name="鸡蛋", unit="个", price_fen=150, unit_weight_g=50)
    chestnut = dict(name="马蹄", unit="斤", price_fen=450, unit_weight_g=500, quantity=10000)

    # Campaign A: pooled. Chickens and eggs sold; honey dropped below its minimum total.
    camp_a = make_campaign(title="春季消费扶贫", status="allocated", slug="spring26")
    a_chicken = make_item(camp_a, [(make_listing(p1, **chicken), 100), (make_listing(p2, **chicken), 20)])
    a_egg = make_item(camp_a, [(make_listing(p3, **egg), 300), (make_listing(p4, **egg), 300)])
    a_honey = make_item(
        camp_a, [(make_listing(p5, name="蜂蜜", unit="瓶", price_fen=6800, unit_weight_g=None), 50)], min_total=10
    )
    a_honey.cancelled_below_minimum = True
    o1 = make_order(camp_a, [(a_chicken, 2), (a_egg, 30)], user=b1, created_at=DAY1)
    o2 = make_order(
        camp_a,
        [(a_chicken, 1), (a_honey, 2, "below_minimum")],
        user=b2,
        created_at=DAY1,
        payment_status="paid",
        payment_method="cash",
    )
    o3 = make_order(
        camp_a, [(a_egg, 60), (a_chicken, 3, "buyer")], user=b3, created_at=DAY2, payment_status="paid", payment_method="transfer"
    )
    o4 = make_order(camp_a, [(a_chicken, 5)], user=b4, status="cancelled", created_at=DAY2)
    o5 = make_order(camp_a, [(a_egg, 10)], user=b1, created_at=DAY2)
    # Fair split of 3 chickens over supplies 100 and 20: 2 and 0, the tied remainder to the poverty household.
    alloc_p1 = make_allocation(a_chicken, p1, 2, units=[(u1, 2)])
    alloc_p2 = make_allocation(a_chicken, p2, 1, units=[(u1, 1)])
    alloc_p3 = make_allocation(a_egg, p3, 50, units=[(u1, 40), (u2, 10)])
    alloc_p4 = make_allocation(a_egg, p4, 50, units=[(u2, 50)])

    # Campaign B: open, nothing pooled yet. Water chestnuts sold; ginger offered but not sold.
    camp_b = make_campaign(title="马蹄专场", status="published", slug="chestnut26")
    b_chestnut = make_item(camp_b, [(make_listing(p6, **chestnut), 1000), (make_listing(p7, **chestnut), 5000)])
    make_item(camp_b, [(make_listing(p7, name="天堂姜", unit="斤", price_fen=800, unit_weight_g=500), 200)])
    o6 = make_order(camp_b, [(b_chestnut, 20)], user=b5, created_at=DAY3)
    o7 = make_order(camp_b, [(b_chestnut, 10)], user=b1, created_at=DAY3)

    # A campaign whose sales never count: a draft.
    camp_draft = make_campaign(title="草稿活动", status="draft", slug="draft26")
    d_item = make_item(camp_draft, [(make_listing(p4, **egg), 100)])
    make_order(camp_draft, [(d_item, 40)], user=b2, created_at=DAY2)
    db.session.commit()
    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("chicken", "egg", "chestnut")})


@pytest.fixture
def sales_data(app):
    return build_sales_data()


@pytest.fixture
def operator(app):
    return make_user(role="operator", name="运营员", phone="13900009999")
