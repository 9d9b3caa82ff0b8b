"""Importing a unit's sheet: every row becomes an order of the unit placed by the coordinator, all or nothing; re-import replaces."""

import pytest
import sqlalchemy as sa

from accounts.models import AuditEntry
from errors import CampaignNotOpen, Forbidden, InvalidSheet, NotFound
from extensions import db
from factories import make_order, make_user
from notifications.models import Notification
from orders.models import GroupSheet, Order
from units.grid import GridRow, enter_orders
from units.payments import clear_payment, record_payment
from units.sheet_import import import_sheet, preview_sheet
from units.unit_orders import unit_orders


def test_a_sheet_becomes_one_order_a_person(shop, files, live):
    data = files.xlsx(
        [
            shop.header,
            ["张伟", "139 0000 1001", 2, 30, None, "放门卫室"],
            ["刘洋", "+86 13900001002", None, 60, 1, None],
            ["王芳", "13900000005", 1, None, None, None],
        ]
    )
    result = import_sheet(shop.coordinator, shop.campaign.id, data, filename="总工会.xlsx")
    assert (result.orders, result.lines, result.added) == (3, 5, 3)
    assert result.total_fen == (2 * 9800 + 30 * 150) + (60 * 150 + 6800) + 9800
    assert live(shop.campaign.id) == {
        "13900001001": {"雪毛鸡": 2, "土鸡蛋": 30},
        "13900001002": {"土鸡蛋": 60, "蜂蜜": 1},
        "13900000005": {"雪毛鸡": 1},
    }
    db.session.expire_all()
    assert (shop.chicken.ordered, shop.eggs.ordered, shop.honey.ordered) == (3, 90, 1)
    orders = db.session.scalars(sa.select(Order).order_by(Order.id)).all()
    # The orders belong to the unit, record the coordinator and the sheet; colleagues need no account.
    assert {(o.unit_id, o.placed_by_id, o.source, o.group_sheet_id) for o in orders} == {
        (shop.unit.id, shop.coordinator.id, "sheet", result.sheet_id)
    }
    assert [o.user_id for o in orders] == [None, None, shop.buyer.id]
    assert orders[0].buyer_name == "张伟" and orders[0].note == "放门卫室"
    sheet = db.session.get(GroupSheet, result.sheet_id)
    assert (sheet.filename, sheet.rows, sheet.uploaded_by_id, sheet.replaced_at) == ("总工会.xlsx", 3, shop.coordinator.id, None)
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "group_sheet.import")).details["added"] == 3
    # The colleague with an account hears about it in Chinese in the app; everyone ordered for gets an SMS.
    note = db.session.scalar(
        sa.select(Notification).where(Notification.user_id == shop.buyer.id, Notification.channel == "inapp")
    )
    assert note.title == "李主任为您预订了商品" and "雪毛鸡 × 1只" in note.body
    sms = db.session.scalars(sa.select(Notification.address).where(Notification.channel == "sms")).all()
    assert sorted(sms) == ["13900000005", "13900001001", "13900001002"]


def test_rows_that_order_nothing_are_skipped(shop, files):
    data = files.xlsx(
        [shop.header, ["张伟", "13900001001", 1, None, None], ["不要了", "13900001002", 0, "", None, "下次"], [None] * 6]
    )
    result = import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    assert (result.orders, result.skipped) == (1, 1)


def test_one_bad_row_saves_nothing_and_every_problem_is_reported(shop, files, snapshot):
    before = snapshot()
    data = files.xlsx(
        [
            shop.header,
            ["张伟", "13900001001", 2, 30, None, None],
            ["", "13900001002", 1, None, None, None],  # no name
            ["刘洋", "12345", 1, None, None, None],  # bad phone
            ["赵六", "13900001001", None, 5, None, None],  # the same person as row 2
            ["孙七", "13900001004", 1.5, -3, "三", None],  # not whole, negative, not a number
            ["周八", "13900001005", 3, None, None, None],  # over the per-buyer limit of 2
        ]
    )
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    rows = [(p["row"], p["column"], p["message"]) for p in caught.value.rows]
    assert rows == [
        (3, "姓名", "姓名未填写。"),
        (4, "手机号", "“12345”不是11位手机号码。"),
        (5, "手机号", "同一个人（手机 13900001001）已在第 2 行。"),
        (6, "雪毛鸡", "1.5 不是整数。"),
        (6, "土鸡蛋", "数量不能为负数（-3）。"),
        (6, "蜂蜜", "“三”不是数量，请填写整数。"),
        (7, "雪毛鸡", "雪毛鸡每人限购 2 只。"),
    ]
    assert caught.value.message == "报名表未导入：发现 7 个问题。没有保存任何内容，请改正后重新上传。"
    assert snapshot() == before


def test_capacity_counts_the_whole_sheet_and_names_the_row_where_it_runs_out(shop, files, snapshot):
    before = snapshot()
    rows = [shop.header] + [[f"同事{n}", f"1390000{2000 + n}", None, None, 4, None] for n in range(1, 4)]
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, files.xlsx(rows), filename="a.xlsx")
    assert [(p["row"], p["column"], p["cell"]) for p in caught.value.rows] == [(4, "蜂蜜", "E4")]
    assert caught.value.rows[0]["message"] == "蜂蜜不足：只剩 10 瓶，而报名表到这一行共要 12 瓶。"
    assert snapshot() == before


def test_the_limit_counts_what_the_person_already_ordered_elsewhere(shop, files):
    own = make_order(shop.campaign, [(shop.chicken, 1)], user=shop.buyer)
    data = files.xlsx([shop.header, ["王芳", "13900000005", 2, None, None, None]])
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    # Her own order is the unit's, so the coordinator sees it: both its number and what it holds may be named.
    assert {(p["row"], p["column"], p["message"]) for p in caught.value.rows} == {
        (2, "手机号", f"王芳在本次活动中已有订单 {own.id}，请修改该订单。"),
        (2, "雪毛鸡", "雪毛鸡每人限购 2 只，王芳在其他订单中已有 1 只。"),
    }


def test_unknown_item_columns_and_missing_columns_are_named(shop, files):
    data = files.xlsx([["姓名", "电话", "雪毛鸡", "咸鸭蛋", "雪毛鸡"], ["张伟", "13900001001", 1, 2, 1]])
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    assert [(p["row"], p["column"], p["message"]) for p in caught.value.rows] == [
        (1, "咸鸭蛋", "“咸鸭蛋”不是本次活动的商品（也不是姓名、手机号或备注）。"),
        (1, "雪毛鸡", "此列与“雪毛鸡”列重复。"),
    ]
    no_phone = files.xlsx([["姓名", "雪毛鸡"], ["张伟", 1]])
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, no_phone, filename="a.xlsx")
    assert [(p["row"], p["message"]) for p in caught.value.rows] == [(1, "报名表需要一列标题为“手机号”。")]


def test_english_headings_and_units_in_headings_are_understood(shop, files, live):
    data = files.xlsx([["Name", "Mobile", "雪毛鸡（只）", "Notes"], ["Zhang Wei", "13900001001", 2, "gate"]])
    import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2}}


def test_reimport_replaces_the_previous_sheet_keeping_unchanged_orders_and_their_payments(shop, files, live):
    first = files.xlsx(
        [
            shop.header,
            ["张伟", "13900001001", 2, 30, None, None],
            ["刘洋", "13900001002", None, 60, 1, None],
            ["赵六", "13900001003", 1, None, None, None],
        ]
    )
    one = import_sheet(shop.coordinator, shop.campaign.id, first, filename="v1.xlsx")
    kept = db.session.scalar(sa.select(Order).where(Order.buyer_phone == "13900001001"))
    record_payment(shop.coordinator, kept.id, "cash")
    second = files.xlsx(
        [
            shop.header,
            ["张伟", "13900001001", 2, 30, None, None],  # unchanged
            ["刘洋", "13900001002", None, 20, 1, None],  # fewer eggs
            ["孙七", "13900001004", None, None, 9, None],  # new; only possible because 刘洋's honey... stays 1: 1 + 9 = 10
        ]
    )
    plan = preview_sheet(shop.coordinator, shop.campaign.id, second, filename="v2.xlsx")
    assert [(c.kind, c.name) for c in plan.changes] == [
        ("unchanged", "张伟"),
        ("changed", "刘洋"),
        ("added", "孙七"),
        ("removed", "赵六"),
    ]
    assert live(shop.campaign.id)["13900001003"] == {"雪毛鸡": 1}  # a preview saves nothing
    two = import_sheet(shop.coordinator, shop.campaign.id, second, filename="v2.xlsx")
    assert (two.replaced_sheet_id, two.unchanged, two.changed, two.added, two.removed) == (one.sheet_id, 1, 1, 1, 1)
    assert live(shop.campaign.id) == {
        "13900001001": {"雪毛鸡": 2, "土鸡蛋": 30},
        "13900001002": {"土鸡蛋": 20, "蜂蜜": 1},
        "13900001004": {"蜂蜜": 9},
    }
    db.session.expire_all()
    assert (shop.chicken.ordered, shop.eggs.ordered, shop.honey.ordered) == (2, 50, 10)
    kept = db.session.get(Order, kept.id)
    assert (kept.status, kept.group_sheet_id, kept.payment_status, kept.payment_method) == (
        "placed",
        two.sheet_id,
        "paid",
        "cash",
    )
    old = db.session.get(GroupSheet, one.sheet_id)
    assert old.replaced_at is not None
    gone = db.session.scalar(sa.select(Order).where(Order.buyer_phone == "13900001003"))
    assert gone.status == "cancelled" and [line.cancel_reason for line in gone.lines] == ["sheet_replaced"]


def test_a_failed_reimport_leaves_the_previous_sheet_in_place(shop, files, snapshot, live):
    import_sheet(
        shop.coordinator,
        shop.campaign.id,
        files.xlsx([shop.header, ["张伟", "13900001001", 2, 30, None, None]]),
        filename="v1.xlsx",
    )
    before, orders_before = snapshot(), live(shop.campaign.id)
    bad = files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None], ["刘洋", "13900001002", None, None, 11, None]])
    with pytest.raises(InvalidSheet):
        import_sheet(shop.coordinator, shop.campaign.id, bad, filename="v2.xlsx")
    assert snapshot() == before and live(shop.campaign.id) == orders_before


def test_a_reimport_may_use_the_capacity_its_previous_sheet_held(shop, files, live):
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["刘洋", "13900001002", None, None, 10, None]]), filename="a"
    )
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["孙七", "13900001004", None, None, 10, None]]), filename="b"
    )
    assert live(shop.campaign.id) == {"13900001004": {"蜂蜜": 10}}


def test_the_grid_orders_for_colleagues_all_or_nothing(shop, live, snapshot):
    rows = [
        GridRow("张伟", "13900001001", {shop.chicken.id: "2", shop.eggs.id: "10"}, "午休后取"),
        GridRow(),
        GridRow("刘洋", "13900001002", {shop.honey.id: "1"}),
    ]
    result = enter_orders(shop.coordinator, shop.campaign.id, rows)
    assert (result.orders, result.lines, result.total_fen) == (2, 3, 2 * 9800 + 10 * 150 + 6800)
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2, "土鸡蛋": 10}, "13900001002": {"蜂蜜": 1}}
    orders = db.session.scalars(sa.select(Order).order_by(Order.id)).all()
    assert {(o.source, o.placed_by_id, o.unit_id, o.group_sheet_id) for o in orders} == {
        ("coordinator", shop.coordinator.id, shop.unit.id, None)
    }
    before = snapshot()
    again = [GridRow("赵六", "13900001003", {shop.eggs.id: "1"}), GridRow("张伟", "13900001001", {shop.eggs.id: "1"})]
    with pytest.raises(InvalidSheet) as caught:
        enter_orders(shop.coordinator, shop.campaign.id, again)
    assert [(p["row"], p["column"]) for p in caught.value.rows] == [(2, "手机号")]
    assert caught.value.rows[0]["message"] == f"张伟在本次活动中已有订单 {orders[0].id}，请修改该订单。"
    assert snapshot() == before


def test_only_a_coordinator_imports_and_only_for_a_campaign_open_to_the_unit(shop, files):
    data = files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None]])
    with pytest.raises(Forbidden):
        import_sheet(shop.buyer, shop.campaign.id, data, filename="a.xlsx")
    shop.campaign.units = [shop.other_unit]
    db.session.commit()
    with pytest.raises(NotFound):
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")


def test_a_closed_campaign_takes_no_sheet(shop, files, snapshot):
    shop.campaign.status = "closed"
    db.session.commit()
    before = snapshot()
    with pytest.raises(CampaignNotOpen):
        import_sheet(
            shop.coordinator,
            shop.campaign.id,
            files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None]]),
            filename="a",
        )
    assert snapshot() == before


def test_payments_are_recorded_with_method_and_recorder_and_totals_add_up(shop):
    paid = make_order(shop.campaign, [(shop.chicken, 2), (shop.eggs, 10)], user=shop.buyer)
    colleague = make_order(shop.campaign, [(shop.honey, 1)], user=make_user(unit=shop.unit, name="张伟"))
    make_order(shop.campaign, [(shop.eggs, 5)], user=make_user(unit=shop.other_unit))  # another unit's: never counted
    record_payment(shop.coordinator, paid.id, "transfer")
    db.session.expire_all()
    assert (paid.payment_status, paid.payment_method, paid.payment_recorded_by_id) == ("paid", "transfer", shop.coordinator.id)
    data = unit_orders(shop.coordinator, shop.unit.id, shop.campaign.id)
    assert (data.due_fen, data.collected_fen, data.outstanding_fen) == (2 * 9800 + 1500 + 6800, 2 * 9800 + 1500, 6800)
    assert [(p.name, p.payment_status) for p in data.people] == [("张伟", "unpaid"), ("王芳", "paid")]
    assert [(item.title, quantity, amount) for item, quantity, amount in data.item_totals] == [
        ("雪毛鸡", 2, 19600),
        ("土鸡蛋", 10, 1500),
        ("蜂蜜", 1, 6800),
    ]
    unpaid = unit_orders(shop.coordinator, shop.unit.id, shop.campaign.id, unpaid_only=True)
    assert [p.name for p in unpaid.people] == ["张伟"]
    clear_payment(shop.coordinator, paid.id)
    db.session.expire_all()
    assert (paid.payment_status, paid.payment_method, paid.paid_at) == ("unpaid", None, None)
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.object_id == paid.id).order_by(AuditEntry.id)
    ).all()
    assert actions == ["order.paid", "order.unpaid"]
    assert colleague.payment_status == "unpaid"


def test_a_coordinator_cannot_touch_another_units_orders(shop):
    order = make_order(shop.campaign, [(shop.eggs, 5)], user=shop.buyer)
    with pytest.raises(NotFound):
        record_payment(shop.other_coordinator, order.id, "cash")
    with pytest.raises(NotFound):
        unit_orders(shop.other_coordinator, shop.unit.id, shop.campaign.id)
    with pytest.raises(Forbidden):
        unit_orders(shop.buyer, shop.unit.id, shop.campaign.id)
    db.session.expire_all()
    assert order.payment_status == "unpaid"
    # Operators see every unit.
    assert [p.name for p in unit_orders(shop.operator, shop.unit.id, shop.campaign.id).people] == ["王芳"]


def test_control_characters_typed_in_the_grid_are_dropped_and_a_line_break_in_a_name_refused(shop):
    rows = [GridRow("张\x07伟\x1b", "13900001001", {shop.chicken.id: "2"}, "午休\x00后取")]
    enter_orders(shop.coordinator, shop.campaign.id, rows)
    order = db.session.scalar(sa.select(Order))
    assert (order.buyer_name, order.note) == ("张伟", "午休后取")
    with pytest.raises(InvalidSheet) as caught:
        enter_orders(shop.coordinator, shop.campaign.id, [GridRow("刘\n洋", "13900001002", {shop.eggs.id: "1"})])
    assert caught.value.rows[0]["message"] == "请只写一行：去掉换行。"


def test_a_sheet_and_its_replacement_keep_the_campaigns_open_figures(shop, files):
    """The orders a sheet writes and the ones its replacement cancels move the figures the operators' pages read."""
    from dashboard.kept_reading import figures_rows, figures_summary
    from dashboard.open_figures import kept_open_figures, open_figures_from_lines
    from dashboard.totals import sales_summary

    first = files.xlsx([shop.header, ["张伟", "13900001001", 2, 30, None, None], ["赵六", "13900001003", 1, None, None, None]])
    import_sheet(shop.coordinator, shop.campaign.id, first, filename="v1.xlsx")
    second = files.xlsx([shop.header, ["张伟", "13900001001", 2, 30, None, None], ["孙七", "13900001004", None, None, 9, None]])
    import_sheet(shop.coordinator, shop.campaign.id, second, filename="v2.xlsx")
    db.session.expire_all()
    assert kept_open_figures(shop.campaign.id) == open_figures_from_lines(shop.campaign.id)
    totals = figures_summary(None)["totals"]
    assert (totals["orders"], totals["buyers"], totals["revenue_fen"]) == (2, 2, 2 * 9800 + 30 * 150 + 9 * 6800)
    assert {row["label"]: row["quantity"] for row in figures_rows(None, "product")} == {"雪毛鸡": 2, "土鸡蛋": 30, "蜂蜜": 9}
    assert figures_summary(shop.campaign.id, "unit") == sales_summary(shop.campaign.id, "unit")
