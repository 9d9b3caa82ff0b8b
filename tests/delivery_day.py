"""Delivery day for tests: a pooled campaign, two units, eggs by the piece from two producers, chickens by the kg."""

from types import SimpleNamespace

from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user


def build_delivery_day():
    u1 = make_unit(name="乐昌市总工会")
    u2 = make_unit(name="乐昌市妇联")
    coordinator = make_user(unit=u1, coordinator=True, name="工会联络员")
    other_coordinator = make_user(unit=u2, coordinator=True, name="妇联联络员")
    a = make_user(unit=u1, name="张三")
    b = make_user(unit=u1, name="李四")
    d = make_user(unit=u2, name="王五")
    operator = make_user(role="operator", name="运营")
    p1 = make_producer(name="李桂英蛋鸡户", poverty=True)
    p2 = make_producer(name="周光明鸡蛋户")
    p3 = make_producer(name="秀水镇雪毛鸡合作社", kind="cooperative")
    campaign = make_campaign(title="春季消费扶贫", status="allocated")
    egg = make_item(campaign, [(make_listing(p1, price_fen=150), 100), (make_listing(p2, price_fen=150), 100)])
    chicken_listing = make_listing(p3, name="雪毛鸡", unit="只", price_fen=4500, unit_weight_g=1500)
    # ¥30 a kg, 1.5 kg expected a piece: ordered at ¥45 a piece, charged by what it weighs.
    chicken = make_item(campaign, [(chicken_listing, 20)], price_per_kg_fen=3000)
    order_a = make_order(campaign, [(egg, 6), (chicken, 2)], user=a)
    order_b = make_order(campaign, [(egg, 4), (chicken, 1)], user=b)
    # A colleague without an account, ordered for by the coordinator: told by SMS.
    order_c = make_order(campaign, [(egg, 2)], user=coordinator, buyer_name="王老师", buyer_phone="13600000009")
    order_c.user_id = None
    order_d = make_order(campaign, [(egg, 5)], user=d)
    db.session.commit()
    make_allocation(egg, p1, 12, units=[(u1, 12)])
    make_allocation(egg, p2, 5, units=[(u2, 5)])
    make_allocation(chicken, p3, 3, units=[(u1, 3)])
    return SimpleNamespace(**locals())
