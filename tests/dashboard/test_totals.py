"""Totals equal sums worked out by hand from the known data set in conftest.py.

The data set, in sale units and fen:
  campaign A (allocated): 雪毛鸡 9800/只 1.5 kg, 鸡蛋 150/个 50 g, 蜂蜜 6800/瓶 (no weight, dropped below its minimum)
    o1 张三 (工会)  2 鸡 + 30 蛋        = 19600 + 4500 = 24100   on 03-02 (Shanghai; 03-01 in UTC)
    o2 李四 (工会)  1 鸡 + 2 蜂蜜 below_minimum = 9800       on 03-02
    o3 王五 (妇联)  60 蛋 + 3 鸡 cancelled by buyer = 9000   on 03-03 (Shanghai; 03-02 in UTC)
    o4 赵六 (妇联)  5 鸡, order cancelled = 0                on 03-03
    o5 张三 (工会)  10 蛋               = 1500               on 03-03
    allocations: 鸡 P1 合作社 2, P2 贫困户 1; 蛋 P3 贫困户 50, P4 农户 50
  campaign B (open): 马蹄 450/斤 0.5 kg from P6 贫困户 and P7 合作社 (41 linked households); ginger from P7, unsold
    o6 钱七 (妇联) 20 斤 = 9000, o7 张三 (工会) 10 斤 = 4500, on 03-05
  a draft campaign with orders: never counted.
"""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.grouping import product_breakdown, sales_rows, sales_series
from dashboard.totals import poverty_reach, sales_totals
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user


def rows_by_key(campaign_id, group_by):
    return {row["key"]: row for row in sales_rows(campaign_id, group_by)}


def test_totals_across_campaigns(sales_data):
    totals = sales_totals()
    assert totals["revenue_fen"] == 24100 + 9800 + 9000 + 1500 + 9000 + 4500 == 57900
    assert totals["weight_g"] == (2 + 1) * 1500 + (30 + 60 + 10) * 50 + (20 + 10) * 500 == 24500
    assert totals["weight_kg"] == Decimal("24.5")
    assert totals["orders"] == 6  # o1 o2 o3 o5 o6 o7: o4 is cancelled, the draft campaign never counts
    assert totals["buyers"] == 4  # 张三 (in both campaigns, counted once), 李四, 王五, 钱七
    assert totals["lines"] == 7
    # Reached: P1..P4 through allocations in A; P6 and P7 supply the sold chestnuts in B. Not P5 (honey dropped).
    assert totals["producers"] == 6
    assert totals["poverty_households_direct"] == 3  # P2, P3, P6
    assert totals["poverty_households_through"] == 23 + 41  # P1's and P7's linked households
    assert totals["poverty_households"] == 67
    assert totals["unallocated_revenue_fen"] == 13500  # campaign B is not pooled yet


def test_totals_of_one_campaign(sales_data):
    a = sales_totals(sales_data.camp_a.id)
    assert (a["revenue_fen"], a["weight_g"], a["orders"], a["buyers"]) == (44400, 9500, 4, 3)
    assert (a["producers"], a["poverty_households_direct"], a["poverty_households_through"]) == (4, 2, 23)
    assert a["unallocated_revenue_fen"] == 0
    b = sales_totals(sales_data.camp_b.id)
    assert (b["revenue_fen"], b["weight_g"], b["orders"], b["buyers"]) == (13500, 15000, 2, 2)
    assert (b["producers"], b["poverty_households_direct"], b["poverty_households_through"]) == (2, 1, 41)


def test_draft_campaigns_show_nothing(sales_data):
    totals = sales_totals(sales_data.camp_draft.id)
    assert (totals["revenue_fen"], totals["orders"], totals["producers"]) == (0, 0, 0)
    assert sales_rows(sales_data.camp_draft.id, "product") == []


def test_rows_by_product(sales_data):
    rows = rows_by_key(None, "product")
    assert set(rows) == {"雪毛鸡/只", "鸡蛋/个", "马蹄/斤"}  # honey: every line cancelled below minimum
    chicken, eggs, chestnut = rows["雪毛鸡/只"], rows["鸡蛋/个"], rows["马蹄/斤"]
    assert (chicken["quantity"], chicken["unit"], chicken["revenue_fen"], chicken["weight_g"]) == (3, "只", 29400, 4500)
    assert (chicken["orders"], chicken["buyers"]) == (2, 2)
    assert (eggs["quantity"], eggs["revenue_fen"], eggs["weight_g"], eggs["orders"], eggs["buyers"]) == (100, 15000, 5000, 3, 2)
    assert (chestnut["quantity"], chestnut["revenue_fen"], chestnut["weight_g"], chestnut["orders"]) == (30, 13500, 15000, 2)
    # Largest sales first.
    assert [row["label"] for row in sales_rows(None, "product")] == ["雪毛鸡", "鸡蛋", "马蹄"]


def test_rows_by_producer_follow_allocations_and_show_unallocated_apart(sales_data):
    d = sales_data
    rows = rows_by_key(None, "producer")
    assert set(rows) == {str(d.p1.id), str(d.p2.id), str(d.p3.id), str(d.p4.id), "unallocated"}
    assert (rows[str(d.p1.id)]["quantity"], rows[str(d.p1.id)]["revenue_fen"], rows[str(d.p1.id)]["weight_g"]) == (2, 19600, 3000)
    assert (rows[str(d.p2.id)]["quantity"], rows[str(d.p2.id)]["revenue_fen"]) == (1, 9800)
    assert rows[str(d.p2.id)]["poverty_household"] is True
    assert (rows[str(d.p3.id)]["quantity"], rows[str(d.p3.id)]["revenue_fen"], rows[str(d.p3.id)]["orders"]) == (50, 7500, 3)
    assert (rows[str(d.p4.id)]["quantity"], rows[str(d.p4.id)]["revenue_fen"]) == (50, 7500)
    # Orders whose goods include the producer's: chickens are in o1 and o2.
    assert rows[str(d.p1.id)]["orders"] == 2
    unallocated = rows["unallocated"]
    assert (unallocated["quantity"], unallocated["unit"], unallocated["revenue_fen"], unallocated["orders"]) == (
        30,
        "斤",
        13500,
        2,
    )
    assert sum(row["revenue_fen"] for row in rows.values()) == 57900


def test_a_producer_of_two_products_counts_each_order_and_buyer_once(sales_data):
    d = sales_data
    # P1 also supplies eggs: its goods are then in o1 and o2 (chickens) and o1, o3 and o5 (eggs).
    make_allocation(d.a_egg, d.p1, 5, units=[(d.u1, 5)])
    db.session.commit()
    p1 = rows_by_key(d.camp_a.id, "producer")[str(d.p1.id)]
    assert (p1["orders"], p1["buyers"]) == (4, 3)  # o1 once; 张三 (o1 and o5) once
    town = rows_by_key(d.camp_a.id, "town")
    assert (town["秀水镇"]["orders"], town["秀水镇"]["buyers"]) == (4, 3)
    assert (town["两江镇"]["orders"], town["两江镇"]["buyers"]) == (3, 2)  # eggs alone: o1, o3, o5 of 张三 and 王五


def test_rows_by_town(sales_data):
    rows = rows_by_key(None, "town")
    assert rows["秀水镇"]["revenue_fen"] == 19600 + 9800  # P1 and P2 together
    assert rows["秀水镇"]["quantity"] == 3 and rows["秀水镇"]["weight_g"] == 4500
    assert rows["两江镇"]["revenue_fen"] == 7500 and rows["廊田镇"]["revenue_fen"] == 7500
    assert rows["unallocated"]["revenue_fen"] == 13500
    assert "北乡镇" not in rows  # campaign B's town is known only once it is pooled
    breakdown = product_breakdown(None, "town")
    assert breakdown["秀水镇"] == [{"label": "雪毛鸡", "unit": "只", "quantity": 3, "weight_g": 4500, "revenue_fen": 29400}]


def test_rows_by_unit_mix_sale_units_so_quantity_is_per_product(sales_data):
    d = sales_data
    rows = rows_by_key(None, "unit")
    union, women = rows[str(d.u1.id)], rows[str(d.u2.id)]
    assert union["label"] == "乐昌市总工会"
    assert union["revenue_fen"] == 24100 + 9800 + 1500 + 4500 == 39900
    assert union["weight_g"] == 3 * 1500 + 40 * 50 + 10 * 500 == 11500  # 3 鸡, 40 蛋, 10 斤
    assert (union["orders"], union["buyers"]) == (4, 2)
    assert (women["revenue_fen"], women["weight_g"], women["orders"], women["buyers"]) == (18000, 13000, 2, 2)
    assert union["quantity"] is None and union["unit"] is None  # 只, 个 and 斤 do not add up
    products = {p["label"]: p["quantity"] for p in product_breakdown(None, "unit")[str(d.u1.id)]}
    assert products == {"雪毛鸡": 3, "鸡蛋": 40, "马蹄": 10}


def test_rows_by_day_use_the_shanghai_calendar(sales_data):
    rows = rows_by_key(None, "day")
    assert list(rows) == ["2026-03-02", "2026-03-03", "2026-03-05"]
    assert rows["2026-03-02"]["revenue_fen"] == 24100 + 9800
    assert rows["2026-03-03"]["revenue_fen"] == 9000 + 1500
    assert rows["2026-03-05"]["revenue_fen"] == 13500


def test_rows_by_campaign(sales_data):
    rows = rows_by_key(None, "campaign")
    assert set(rows) == {str(sales_data.camp_a.id), str(sales_data.camp_b.id)}
    assert rows[str(sales_data.camp_a.id)]["revenue_fen"] == 44400


def test_household_income(sales_data):
    reach = poverty_reach()
    # Direct: P2 sold 1 chicken (9800), P3 50 eggs (7500); P6's chestnuts are not pooled yet.
    assert reach["direct_revenue_fen"] == 17300
    assert reach["income_per_direct_household_fen"] == 17300 // 2
    # Through cooperatives: P1's 2 chickens over its 23 linked households, rounded down to the fen.
    assert reach["through_revenue_fen"] == 19600
    assert reach["sales_per_linked_household_fen"] == 19600 // 23
    assert reach["other_revenue_fen"] == 7500  # P4, a household not registered as poor


def test_unknown_grouping_is_refused(app):
    from errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        sales_rows(None, "colour")


def test_items_without_a_unit_weight_are_counted_apart(app):
    campaign = make_campaign(status="allocated")
    honey = make_item(campaign, [(make_listing(name="蜂蜜", unit="瓶", price_fen=6800, unit_weight_g=None), 10)])
    make_order(campaign, [(honey, 4)])
    totals = sales_totals(campaign.id)
    assert (totals["weight_g"], totals["units_without_weight"], totals["revenue_fen"]) == (0, 4, 27200)


@pytest.fixture
def world(app):
    unit = make_unit()
    return {"unit": unit, "buyers": [make_user(unit=unit) for _ in range(4)], "producer": make_producer()}


LINE = st.tuples(st.integers(0, 2), st.integers(1, 20), st.sampled_from([None, None, None, "buyer", "below_minimum"]))
ORDER = st.tuples(st.integers(0, 3), st.booleans(), st.lists(LINE, min_size=1, max_size=3))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(ORDER, max_size=6), status=st.sampled_from(["published", "closed", "draft"]))
def test_totals_match_a_plain_recount_for_any_orders(world, orders, status):
    """Random orders, cancelled or not, with cancelled lines: the SQL totals equal a recount in Python."""
    campaign = make_campaign(status=status)
    items = [
        make_item(
            campaign,
            [(make_listing(world["producer"], name=name, unit=unit, price_fen=price, unit_weight_g=grams, quantity=500), 500)],
        )
        for name, unit, price, grams in (("鸡", "只", 9800, 1500), ("蛋", "个", 150, 50), ("蜜", "瓶", 6800, None))
    ]
    revenue = grams = 0
    order_count, phones, per_product = 0, set(), {}
    for buyer_index, cancelled, lines in orders:
        buyer = world["buyers"][buyer_index]
        make_order(
            campaign,
            [(items[i], q, reason) if reason else (items[i], q) for i, q, reason in lines],
            user=buyer,
            status="cancelled" if cancelled else "placed",
        )
        live = [(items[i], q) for i, q, reason in lines if reason is None]
        if cancelled or not live or status == "draft":
            continue
        order_count += 1
        phones.add(buyer.phone)
        for item, quantity in live:
            revenue += quantity * item.price_fen
            grams += quantity * (item.unit_weight_g or 0)
            per_product[f"{item.title}/{item.unit}"] = per_product.get(f"{item.title}/{item.unit}", 0) + quantity
    totals = sales_totals(campaign.id)
    assert (totals["revenue_fen"], totals["weight_g"], totals["orders"], totals["buyers"]) == (
        revenue,
        grams,
        order_count,
        len(phones),
    )
    assert {row["key"]: row["quantity"] for row in sales_rows(campaign.id, "product")} == per_product
    assert sum(row["revenue_fen"] for row in sales_rows(campaign.id, "unit")) == revenue


def test_chart_series_draw_the_table_figures(sales_data):
    assert [(row["key"], row["revenue_fen"]) for row in sales_series(None, "day")] == [
        ("2026-03-02", 33900),
        ("2026-03-03", 10500),
        ("2026-03-05", 13500),
    ]
    towns = {row["key"]: (row["revenue_fen"], row["weight_g"]) for row in sales_series(None, "town")}
    assert towns == {"秀水镇": (29400, 4500), "两江镇": (7500, 2500), "廊田镇": (7500, 2500)}
