"""Kept figures (issue 19.1): every event after the close rewrites a pooled campaign's figures in its own transaction,
so what the pages read always equals the recomputation from the raw rows; on SQLite and PostgreSQL in the same run."""

from datetime import timedelta

import sqlalchemy as sa

from accounts.models import User
from claims.services import decide_claim, file_claim
from dashboard.checks import check_totals
from dashboard.kept_figures import campaign_figures, keep_pending_figures, pending_campaigns
from dashboard.kept_reading import figures_breakdown, figures_results, figures_rows, figures_summary
from dashboard.models import CampaignBuyer, CampaignFigure, KeptCampaign
from dashboard.totals import public_results, sales_summary
from database import utcnow
from delivery.completion import outstanding_deliveries
from delivery.receipts import pick_lines, record_receipt
from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from orders.models import Order
from orders.services import cancel_order, change_order, place_order
from producers.profiles import update_producer
from racing import run_at_once
from shop.cancellation import cancel_campaign
from shop.models import Campaign
from units import payments


def kept_rows(campaign_id):
    db.session.expire_all()
    rows = db.session.scalars(sa.select(CampaignFigure).where(CampaignFigure.campaign_id == campaign_id)).all()
    return {
        (row.grouping, row.within, row.key): {column: getattr(row, column) for column in campaign_figures_columns()}
        for row in rows
    }


def campaign_figures_columns():
    from dashboard.kept_figures import FIGURE_COLUMNS

    return FIGURE_COLUMNS


def recomputed(campaign_id):
    return {
        (row["grouping"], row["within"], row["key"]): {column: row[column] for column in campaign_figures_columns()}
        for row in campaign_figures(campaign_id)
    }


def assert_pages_read_what_is_true(campaign_id=None):
    """The kept rows equal their recomputation, what the pages read equals the live figures, check-totals is clean."""
    if campaign_id is not None and kept_at(campaign_id) not in (None, "absent"):
        assert kept_rows(campaign_id) == recomputed(campaign_id)
    for scope in (None, campaign_id):
        for group_by in ("product", "producer", "town", "unit", "day", "campaign"):
            read, live = figures_summary(scope, group_by), sales_summary(scope, group_by)
            assert read["totals"] == live["totals"] and read["reach"] == live["reach"]
            if scope is None:
                # Across campaigns a row's buyers is the sum of each campaign's distinct buyers (kept_reading).
                assert [without_buyers(row) for row in read["rows"]] == [without_buyers(row) for row in live["rows"]]
            else:
                assert read["rows"] == live["rows"]
    assert [str(m) for m in check_totals(campaign_id).mismatches] == []


def without_buyers(row):
    return {key: value for key, value in row.items() if key != "buyers"}


def close(campaign_id):
    """What the close task does: pool (the figures pending), then keep the figures once the notices are queued."""
    assert closing.close_campaign(campaign_id) == "allocated"
    assert keep_pending_figures(campaign_id)


def kept_at(campaign_id):
    db.session.expire_all()
    kept = db.session.get(KeptCampaign, campaign_id)
    return "absent" if kept is None else kept.kept_at


def test_every_event_leaves_the_kept_figures_equal_to_the_recomputation(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(hours=1))
    cid = s.campaign.id
    # Open: nothing is kept here; an order, a change and a cancellation keep the open figures (test_open_figures.py).
    assert db.session.get(KeptCampaign, cid) is None
    buyer, other = make_user(unit=people.units[0]), make_user(unit=people.units[1])
    kept_order = place_order(buyer, cid, [{"item_id": s.chicken.id, "quantity": 2}]).order.id
    assert_pages_read_what_is_true(cid)
    change_order(buyer, kept_order, [{"item_id": s.chicken.id, "quantity": 3}, {"item_id": s.honey.id, "quantity": 1}])
    assert_pages_read_what_is_true(cid)
    cancel_order(other, place_order(other, cid, [{"item_id": s.honey.id, "quantity": 2}]).order.id)
    assert_pages_read_what_is_true(cid)
    db.session.execute(sa.update(Campaign).where(Campaign.id == cid).values(closes_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()

    close(cid)  # 鸡蛋 misses its minimum: those lines are cancelled in the pooling, before the figures are kept
    assert kept_at(cid) is not None
    assert ("product", "", "鸡蛋/个") not in kept_rows(cid)
    assert_pages_read_what_is_true(cid)
    assert figures_results(s.campaign.slug) == public_results(s.campaign.slug)

    operator = make_user(role="operator")
    unit_id, item_id = people.units[0].id, s.chicken.id  # 王芳's 30 chickens, among others
    producer_id, quantity = next(
        (row["producer_id"], lines[item_id][1])
        for row in outstanding_deliveries(cid)
        if row["unit_id"] == unit_id and item_id in (lines := pick_lines(cid, unit_id, row["producer_id"]))
    )
    record_receipt(operator, cid, unit_id, producer_id, [{"item_id": item_id, "quantity": quantity - 1}])
    assert_pages_read_what_is_true(cid)
    record_receipt(operator, cid, unit_id, producer_id, [{"item_id": item_id, "quantity": quantity}], reason="recounted")
    assert_pages_read_what_is_true(cid)

    order = db.session.scalars(sa.select(Order).where(Order.campaign_id == cid, Order.user_id == people.wang.id)).one()
    payments.record_payment(operator, order.id, "cash")
    assert_pages_read_what_is_true(cid)
    completed = figures_summary(cid)["totals"]["completed_fen"]
    assert completed > 0
    line = next(line for line in order.lines if line.item_id == item_id and not line.cancelled)
    claim = file_claim(db.session.get(User, order.user_id), order.id, item_id=item_id, quantity=1, reason="damaged")
    decide_claim(operator, claim.id, "refund", quantity=1, note="破损")
    assert_pages_read_what_is_true(cid)
    assert figures_summary(cid)["totals"]["completed_fen"] == completed - line.price_fen
    payments.clear_payment(operator, order.id, reason="recorded by mistake")
    assert_pages_read_what_is_true(cid)
    assert figures_summary(cid)["totals"]["completed_fen"] == 0

    from dashboard.delivery import mark_delivered

    for row in outstanding_deliveries(cid):
        mark_delivered(operator, cid, row["unit_id"])
    assert_pages_read_what_is_true(cid)
    assert figures_breakdown(None, "town") == figures_breakdown(cid, "town")


def test_a_cancelled_campaign_keeps_nothing_and_the_platform_figures_add_the_kept_and_the_live(backend_app):
    people = make_pooling_people()
    pooled = make_pooling_campaign(people, title="秋季")
    close(pooled.campaign.id)
    open_one = make_pooling_campaign(people, title="冬季")  # the same buyers: the platform counts each of them once
    assert_pages_read_what_is_true()
    # 刘洋's eggs were cancelled at the close (below the minimum): 4 buyers kept, 5 live, the same 5 people in all.
    assert figures_summary(pooled.campaign.id)["totals"]["buyers"] == 4
    assert figures_summary()["totals"]["buyers"] == figures_summary(open_one.campaign.id)["totals"]["buyers"] == 5
    # A row's buyers across campaigns counts a buyer once per campaign: 王芳, 张伟 and 李四 bought chickens in both.
    chickens = {row["key"]: row for row in figures_rows(None, "product")}["雪毛鸡/只"]
    assert chickens["buyers"] == 3 + 3
    cancel_campaign(make_user(role="operator"), open_one.campaign.id, "产品质量问题")
    assert db.session.get(KeptCampaign, open_one.campaign.id) is None
    assert_pages_read_what_is_true(open_one.campaign.id)


def test_payments_and_receipts_at_once_lose_no_update(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    cid = s.campaign.id
    close(cid)
    operator = make_user(role="operator")
    pairs = sorted({(row["unit_id"], row["producer_id"]) for row in outstanding_deliveries(cid)})
    receipts = [
        (unit_id, producer_id, [{"item_id": i, "quantity": q} for i, (_, q) in pick_lines(cid, unit_id, producer_id).items()])
        for unit_id, producer_id in pairs
    ]
    order_ids = db.session.scalars(sa.select(Order.id).where(Order.campaign_id == cid, Order.status != "cancelled")).all()
    operator_id = operator.id
    db.session.commit()

    def pay(order_id):
        return lambda: payments.record_payment(db.session.get(User, operator_id), order_id, "transfer").id

    def receive(unit_id, producer_id, lines):
        return lambda: record_receipt(db.session.get(User, operator_id), cid, unit_id, producer_id, lines).id

    # Half the payments beside the receipts, then the other half alone (no later receipt rewrites what they kept).
    first, second = order_ids[::2], order_ids[1::2]
    jobs = iter([pay(order_id) for order_id in first] + [receive(*receipt) for receipt in receipts])
    results, errors = run_at_once(backend_app, lambda: next(jobs)(), times=len(first) + len(receipts))
    assert not errors and len(results) == len(first) + len(receipts)
    assert_pages_read_what_is_true(cid)
    jobs = iter([pay(order_id) for order_id in second])
    results, errors = run_at_once(backend_app, lambda: next(jobs)(), times=len(second))
    assert not errors and sorted(results) == sorted(second)
    assert_pages_read_what_is_true(cid)
    totals = figures_summary(cid)["totals"]
    assert totals["completed_fen"] == totals["delivered_fen"] > 0


def test_check_totals_reports_a_kept_figure_altered_by_hand_and_rebuild_figures_repairs_it(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    close(s.campaign.id)
    good = figures_rows(None, "product")
    db.session.execute(
        sa.update(CampaignFigure)
        .where(CampaignFigure.campaign_id == s.campaign.id, CampaignFigure.grouping == "product")
        .values(revenue_fen=CampaignFigure.revenue_fen + 100)
    )
    db.session.execute(sa.delete(CampaignBuyer).where(CampaignBuyer.campaign_id == s.campaign.id))
    db.session.commit()
    runner = backend_app.test_cli_runner()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert "kept figures" in result.output and "revenue_fen" in result.output and "kept buyers" in result.output

    result = runner.invoke(args=["rebuild-figures"])
    assert result.exit_code == 0 and "1 campaigns" in result.output
    assert runner.invoke(args=["check-totals"]).exit_code == 0
    assert figures_rows(None, "product") == good


def test_a_pooled_campaign_without_kept_figures_is_read_live(backend_app):
    """Right after the migration nothing is kept: the pages read the live figures until rebuild-figures runs."""
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    close(s.campaign.id)
    db.session.execute(sa.delete(CampaignFigure))
    db.session.execute(sa.delete(CampaignBuyer))
    db.session.execute(sa.delete(KeptCampaign))
    other = make_campaign()
    make_order(other, [(make_item(other, [(make_listing(people.eggs), 100)]), 3)], user=people.wang)
    db.session.commit()
    assert_pages_read_what_is_true(s.campaign.id)


def test_the_figures_of_a_pooled_campaign_are_read_live_until_kept_and_keeping_sees_what_happened_meanwhile(backend_app):
    """The pooling only marks the figures pending, so the producers' notices wait for no figures; what happens between
    the pooling and the keeping is read live, and then kept."""
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    cid = s.campaign.id
    assert closing.close_campaign(cid) == "allocated"
    assert kept_at(cid) is None and pending_campaigns() == [cid]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignFigure)) == 0
    assert_pages_read_what_is_true(cid)

    operator = make_user(role="operator")
    unit_id, producer_id = next((row["unit_id"], row["producer_id"]) for row in outstanding_deliveries(cid))
    lines = [{"item_id": i, "quantity": q - 1} for i, (_, q) in pick_lines(cid, unit_id, producer_id).items()]
    record_receipt(operator, cid, unit_id, producer_id, lines)  # a short delivery: the refresh leaves it to the keeping
    assert kept_at(cid) is None and db.session.scalar(sa.select(sa.func.count()).select_from(CampaignFigure)) == 0
    before = figures_summary(cid)["totals"]
    assert before == sales_summary(cid)["totals"] and before["delivered_fen"] > 0

    assert keep_pending_figures(cid)
    assert kept_at(cid) is not None and pending_campaigns() == []
    assert figures_summary(cid)["totals"] == before
    assert_pages_read_what_is_true(cid)
    assert not keep_pending_figures(cid)  # a second keeping (the sweep's) changes nothing


def test_keeping_and_receipts_at_once_lose_nothing(backend_app):
    """The keeping and the events right after the pooling take turns on kept_campaign: on PostgreSQL a receipt
    that waits for the keeping refreshes what it kept, and a keeping that comes second sees the receipt."""
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    cid = s.campaign.id
    assert closing.close_campaign(cid) == "allocated"
    operator_id = make_user(role="operator").id
    pairs = sorted({(row["unit_id"], row["producer_id"]) for row in outstanding_deliveries(cid)})
    receipts = [
        (unit_id, producer_id, [{"item_id": i, "quantity": q} for i, (_, q) in pick_lines(cid, unit_id, producer_id).items()])
        for unit_id, producer_id in pairs
    ]
    db.session.commit()

    def receive(unit_id, producer_id, lines):
        return lambda: record_receipt(db.session.get(User, operator_id), cid, unit_id, producer_id, lines).id

    jobs = iter([lambda: keep_pending_figures(cid)] + [receive(*receipt) for receipt in receipts])
    results, errors = run_at_once(backend_app, lambda: next(jobs)(), times=1 + len(receipts))
    assert not errors and True in results
    assert kept_at(cid) is not None
    assert_pages_read_what_is_true(cid)
    assert figures_summary(cid)["totals"]["delivered_fen"] == sales_summary(cid)["totals"]["delivered_fen"] > 0


def test_a_producer_moving_town_after_the_close_moves_its_sales_on_the_pages(backend_app):
    """Town rows are kept by town name: a producer's move makes its campaigns pending (read live, with the new town)
    until the sweep keeps them again."""
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    cid = s.campaign.id
    close(cid)
    assert [row["key"] for row in figures_rows(cid, "town")] == ["秀水镇"]
    poor_sales = next(row for row in figures_rows(cid, "producer") if row["key"] == str(people.poor.id))

    update_producer(make_user(role="operator"), people.poor, town="两江镇")
    assert kept_at(cid) is None and pending_campaigns() == [cid]
    towns = {row["key"]: row for row in figures_rows(cid, "town")}
    assert set(towns) == {"秀水镇", "两江镇"}
    assert towns["两江镇"]["revenue_fen"] == poor_sales["revenue_fen"]
    assert_pages_read_what_is_true(cid)

    assert keep_pending_figures(cid)  # the sweep's keeping
    assert {row["key"] for row in figures_rows(cid, "town")} == {"秀水镇", "两江镇"}
    assert_pages_read_what_is_true(cid)

    update_producer(make_user(role="operator"), people.poor, village="新村")  # the same town: nothing to keep again
    assert kept_at(cid) is not None
