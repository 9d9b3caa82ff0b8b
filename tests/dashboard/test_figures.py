"""Figures that can be defended (issue 15.7): pledged, delivered and completed (delivered, paid, not refunded)
apart, on the dashboard, the public results page, the stats API and the unit targets, from one definition
(delivery.outcomes.line_outcomes); `flask check-totals` recomputes them and the producers' money from raw rows."""

from datetime import date

import pytest
import sqlalchemy as sa
from delivered import build_delivered

from claims.models import ClaimRefund
from claims.services import decide_claim, file_claim
from dashboard.totals import sales_totals
from delivery.models import LineEntry
from extensions import db
from orders.models import Order
from units.targets import all_units_progress, unit_progress

EGGS, GINGER = 10 * 150, 2 * 800  # the order: 10 eggs delivered, 2 jin of ginger not (yet)


@pytest.fixture
def refunded(app):
    """The buyer's order: 10 eggs delivered (6 from 陈华, 4 from the poverty household 李桂英), ginger not; paid;
    2 eggs claimed short and refunded (¥3.00)."""
    d = build_delivered()
    db.session.execute(sa.update(Order).where(Order.id == d.order.id).values(payment_status="paid"))
    db.session.commit()
    claim = file_claim(d.buyer, d.order.id, item_id=d.egg.id, quantity=2, reason="short")
    decide_claim(d.operator, claim.id, "refund", quantity=2, note="少了两个")
    d.claim = claim
    return d


def test_unpaid_delivered_goods_are_delivered_but_not_completed(app):
    d = build_delivered()
    totals = sales_totals(d.campaign.id)
    assert (totals["revenue_fen"], totals["delivered_fen"], totals["completed_fen"]) == (EGGS + GINGER, EGGS, 0)
    assert totals["completed_households"] == 0


def test_completed_is_delivered_paid_less_refunds_and_reaches_the_households_that_delivered(refunded):
    totals = sales_totals(refunded.campaign.id)
    assert totals["revenue_fen"] == totals["pledged_fen"] == EGGS + GINGER
    assert (totals["delivered_fen"], totals["refunded_fen"], totals["completed_fen"]) == (EGGS, 300, EGGS - 300)
    # 李桂英 (a registered poverty household) delivered 4 of the 10 eggs: 4/10 of the completed ¥12.00.
    assert totals["completed_households"] == 1
    assert sales_totals()["completed_fen"] == EGGS - 300


def test_unit_target_progress_counts_completed_sales(refunded):
    year = refunded.campaign.delivery_on.year if refunded.campaign.delivery_on else date.today().year
    progress = unit_progress(refunded.operator, refunded.unit.id, year)
    assert (progress.pledged_fen, progress.completed_fen) == (EGGS + GINGER, EGGS - 300)


def test_the_operators_table_of_every_unit_says_what_each_units_own_page_says(refunded):
    """The table reads the ledger whole, one unit's page only that unit's lines: the same figures."""
    year = refunded.campaign.delivery_on.year if refunded.campaign.delivery_on else date.today().year
    table = {progress.unit.id: (progress.pledged_fen, progress.completed_fen) for progress in all_units_progress(year)}
    assert table[refunded.unit.id] == (EGGS + GINGER, EGGS - 300)
    for unit_id, figures in table.items():
        progress = unit_progress(refunded.operator, unit_id, year)
        assert (progress.pledged_fen, progress.completed_fen) == figures


def test_the_stats_api_carries_delivered_and_completed_beside_pledged(refunded, api_as):
    body = api_as(refunded.operator).get(f"/stats/summary?campaign_id={refunded.campaign.id}").get_json()
    totals = body["totals"]
    assert (totals["revenue_fen"], totals["delivered_fen"], totals["completed_fen"]) == (EGGS + GINGER, EGGS, EGGS - 300)
    assert body["reach"]["completed_direct_households"] == 1
    assert body["reach"]["completed_income_per_direct_household_fen"] == (EGGS - 300) * 4 // 10


def test_dashboard_and_results_page_show_the_figures_apart(refunded, client, auth):
    auth.login(refunded.operator.phone)
    page = client.get(f"/dashboard/?campaign_id={refunded.campaign.id}").get_data(as_text=True)
    assert 'id="total-pledged">¥31.00<' in page
    assert 'id="total-delivered">¥15.00<' in page
    assert 'id="total-refunded">¥3.00<' in page
    assert 'id="total-completed">¥12.00<' in page
    assert 'id="total-households">1<' in page and 'id="figures-basis"' in page
    public = client.get(f"/dashboard/results/{refunded.campaign.slug}").get_data(as_text=True)
    assert 'id="completed">¥12.00<' in public and "¥31.00" in public
    assert 'id="households">1<' in public and 'id="households-pledged">1<' in public
    assert "完成" in public  # the page says households count completed sales


def test_check_totals_reports_nothing_on_a_consistent_database(refunded, runner):
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 0, result.output
    assert "0 mismatches" in result.output


def test_check_totals_catches_a_producers_refund_altered_by_hand(refunded, runner):
    share = db.session.scalars(sa.select(ClaimRefund).where(ClaimRefund.claim_id == refunded.claim.id)).first()
    share.amount_fen += 50
    db.session.commit()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert f"refund shares [{refunded.campaign.id}] claim {refunded.claim.id} refund_fen" in result.output


def test_check_totals_catches_a_buyers_charge_altered_by_hand(refunded, runner):
    entry = db.session.scalars(sa.select(LineEntry).where(LineEntry.kind == "receipt")).first()
    entry.charge_fen += 100
    db.session.commit()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert "shares follow receipts" in result.output
