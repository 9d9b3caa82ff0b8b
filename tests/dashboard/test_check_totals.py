"""`flask check-totals`: every figure recomputed from raw rows; any disagreement is reported with exit code 1."""

from dashboard import delivery, settlement
from dashboard.models import Payout
from extensions import db


def test_consistent_data_passes(sales_data, operator, runner):
    delivery.mark_delivered(operator, sales_data.camp_a.id, sales_data.u1.id)
    settlement.record_payout(operator, sales_data.camp_a.id, sales_data.p1.id, 19600, "transfer")
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 0, result.output
    assert "0 mismatches" in result.output
    checked = int(result.output.split()[0])
    assert checked > 200  # totals, every row of every grouping for all campaigns and each one, counters


def test_a_wrong_item_counter_is_reported(sales_data, runner):
    sales_data.a_chicken.ordered += 1
    db.session.commit()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert f"item ordered [{sales_data.camp_a.id}] item {sales_data.a_chicken.id} ordered: recomputed 3, found 4" in result.output


def test_a_wrong_order_total_is_reported(sales_data, runner):
    sales_data.o1.total_fen = 1
    db.session.commit()
    result = runner.invoke(args=["check-totals", "--campaign-id", str(sales_data.camp_a.id)])
    assert result.exit_code == 1
    assert f"order {sales_data.o1.id} total_fen: recomputed 24100, found 1" in result.output


def test_allocations_that_miss_demand_and_pick_lines_that_miss_allocations_are_reported(sales_data, runner):
    sales_data.alloc_p4.quantity = 60
    db.session.commit()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert (
        f"allocation covers demand [{sales_data.camp_a.id}] item {sales_data.a_egg.id} quantity: recomputed 100, found 110"
        in result.output
    )
    assert (
        f"pick lines [{sales_data.camp_a.id}] allocation {sales_data.alloc_p4.id} quantity: recomputed 60, found 50"
        in result.output
    )


def test_overpayment_written_behind_the_services_back_is_reported(sales_data, operator, runner):
    db.session.add(Payout(campaign_id=sales_data.camp_a.id, producer_id=sales_data.p2.id, amount_fen=500, method="cash"))
    db.session.commit()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert "payouts within due" in result.output
