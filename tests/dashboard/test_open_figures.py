"""Open figures (issue 19): the orders of a campaign not yet pooled keep its figures themselves, so the pages over
all campaigns read no line of it; every event leaves them equal to the recomputation from the lines, on SQLite and
PostgreSQL, with orders racing each other too."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.checks import check_totals
from dashboard.grouping import product_breakdown, sales_series
from dashboard.kept_figures import keep_pending_figures
from dashboard.kept_reading import figures_breakdown, figures_results, figures_rows, figures_series, figures_summary
from dashboard.models import OpenBuyer, OpenItemBuyer, OpenSale
from dashboard.open_figures import kept_open_figures, open_figures_from_lines
from dashboard.totals import public_results, sales_summary
from database import utcnow
from extensions import db
from factories import make_campaign, make_item, make_listing, make_pooling_campaign, make_pooling_people, make_unit, make_user
from fulfilment import closing
from orders.services import cancel_order, change_order, place_order
from racing import run_at_once
from shop.cancellation import cancel_campaign
from shop.models import Campaign

GROUPINGS = ("product", "producer", "town", "unit", "day", "campaign")


def assert_open_figures_are_true(campaign_id):
    """The open rows equal their recomputation, the pages equal the live figures, check-totals is clean."""
    db.session.expire_all()
    assert kept_open_figures(campaign_id) == open_figures_from_lines(campaign_id)
    for scope in (None, campaign_id):
        for group_by in GROUPINGS:
            assert figures_summary(scope, group_by) == sales_summary(scope, group_by), (scope, group_by)
            assert figures_breakdown(scope, group_by) == product_breakdown(scope, group_by), (scope, group_by)
        for group_by in ("day", "town"):
            assert figures_series(scope, group_by) == sales_series(scope, group_by)
    assert [str(m) for m in check_totals().mismatches] == []


def open_rows(campaign_id):
    db.session.expire_all()
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.campaign_id == campaign_id))
        for model in (OpenSale, OpenBuyer, OpenItemBuyer)
    )


def test_every_order_change_and_cancellation_keeps_the_open_figures(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(hours=1))
    cid = s.campaign.id
    assert_open_figures_are_true(cid)  # the factory's orders count as placing them does
    buyer, other = make_user(unit=people.units[0]), make_user(unit=people.units[1])
    mine = place_order(buyer, cid, [{"item_id": s.chicken.id, "quantity": 2}, {"item_id": s.eggs.id, "quantity": 30}])
    assert_open_figures_are_true(cid)
    before = figures_summary(None)["totals"]
    change_order(buyer, mine.order.id, [{"item_id": s.chicken.id, "quantity": 3}, {"item_id": s.honey.id, "quantity": 1}])
    assert_open_figures_are_true(cid)
    after = figures_summary(None)["totals"]
    assert after["revenue_fen"] - before["revenue_fen"] == s.chicken.price_fen + s.honey.price_fen - 30 * s.eggs.price_fen
    assert after["orders"] == before["orders"] and after["lines"] == before["lines"]
    theirs = place_order(other, cid, [{"item_id": s.honey.id, "quantity": 2}]).order
    assert figures_summary(None)["totals"]["buyers"] == after["buyers"] + 1
    cancel_order(other, theirs.id)
    assert_open_figures_are_true(cid)
    assert figures_summary(None)["totals"] == after
    # The eggs taken out and put back: the line reopens, at today's price.
    change_order(buyer, mine.order.id, [{"item_id": s.chicken.id, "quantity": 3}, {"item_id": s.eggs.id, "quantity": 5}])
    assert_open_figures_are_true(cid)
    assert figures_results(s.campaign.slug) == public_results(s.campaign.slug)

    # The pooling hands the figures over to the kept ones; the keeping drops the open rows.
    db.session.execute(sa.update(Campaign).where(Campaign.id == cid).values(closes_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert closing.close_campaign(cid) == "allocated"
    assert figures_summary(None) == sales_summary(None)
    assert keep_pending_figures(cid)
    assert open_rows(cid) == 0
    assert figures_summary(None) == sales_summary(None)
    assert [str(m) for m in check_totals().mismatches] == []


def test_a_cancelled_campaign_has_no_open_figures_left(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(hours=1))
    assert open_rows(s.campaign.id) > 0
    cancel_campaign(make_user(role="operator"), s.campaign.id, "产品质量问题")
    assert open_rows(s.campaign.id) == 0
    assert_open_figures_are_true(s.campaign.id)
    assert figures_summary(None)["totals"]["revenue_fen"] == 0


def test_an_order_holding_two_items_of_one_product_counts_once(backend_app):
    """Two households' eggs offered as two items of one campaign: the product row counts an order holding both once."""
    campaign = make_campaign(title="鸡蛋专场")
    eggs = [
        make_item(campaign, [(make_listing(name="鸡蛋", unit="个", price_fen=price), 500)], title="鸡蛋", unit="个", position=i)
        for i, price in enumerate((150, 160))
    ]
    buyer = make_user(unit=make_unit())
    place_order(buyer, campaign.id, [{"item_id": eggs[0].id, "quantity": 10}, {"item_id": eggs[1].id, "quantity": 20}])
    row = next(row for row in figures_rows(None, "product") if row["key"] == "鸡蛋/个")
    assert (row["orders"], row["buyers"], row["quantity"], row["revenue_fen"]) == (1, 1, 30, 10 * 150 + 20 * 160)
    assert_open_figures_are_true(campaign.id)


def test_orders_changes_and_cancellations_at_once_keep_the_open_figures(backend_app):
    """Buyers of two units order, change and cancel the same items at the same moment (threads: PostgreSQL really
    runs them together); no update is lost and no two orders deadlock on the figures."""
    campaign = make_campaign(title="抢购")
    items = [
        make_item(campaign, [(make_listing(name=name, unit="只", price_fen=1000 + i), 1000)], title=name, position=i)
        for i, name in enumerate(("雪毛鸡", "土鸡", "鸭"))
    ]
    units = [make_unit(), make_unit()]
    buyers = [make_user(unit=units[i % 2]) for i in range(12)]
    first = [place_order(b, campaign.id, [{"item_id": items[0].id, "quantity": 1}]).order.id for b in buyers[:4]]
    ids = {"campaign": campaign.id, "items": [item.id for item in items], "buyers": [b.id for b in buyers], "first": first}
    db.session.commit()

    from accounts.models import User

    jobs = iter(range(12))

    def job():
        n = next(jobs)
        user = db.session.get(User, ids["buyers"][n])
        if n < 2:
            return cancel_order(user, ids["first"][n]).id
        if n < 4:
            lines = [{"item_id": ids["items"][0], "quantity": 2}, {"item_id": ids["items"][2], "quantity": 1}]
            return change_order(user, ids["first"][n], lines).id
        lines = [{"item_id": item_id, "quantity": 1 + n % 3} for item_id in sorted(ids["items"], key=lambda i: (i * n) % 5)]
        return place_order(user, ids["campaign"], lines).order.id

    results, errors = run_at_once(backend_app, job, times=12)
    assert errors == [] and len(results) == 12
    assert_open_figures_are_true(campaign.id)
    assert figures_summary(campaign.id)["totals"]["orders"] == 4 - 2 + 8


def test_check_totals_reports_an_open_figure_altered_by_hand_and_rebuild_figures_repairs_it(backend_app):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(hours=1))
    good = figures_summary(None, "unit")
    db.session.execute(
        sa.update(OpenSale)
        .where(OpenSale.item_id == s.chicken.id, OpenSale.grouping == "unit")
        .values(quantity=OpenSale.quantity + 1)
    )
    db.session.execute(sa.delete(OpenBuyer).where(OpenBuyer.campaign_id == s.campaign.id))
    db.session.commit()
    runner = backend_app.test_cli_runner()
    result = runner.invoke(args=["check-totals"])
    assert result.exit_code == 1
    assert f"open figures [{s.campaign.id}] open_sale {s.chicken.id} unit" in result.output
    assert f"open figures [{s.campaign.id}] open_buyer" in result.output

    assert runner.invoke(args=["rebuild-figures"]).exit_code == 0
    assert runner.invoke(args=["check-totals"]).exit_code == 0
    assert figures_summary(None, "unit") == good


def test_an_order_just_before_and_just_after_local_midnight_counts_on_its_own_local_day(backend_app):
    """Days are Beijing days (UTC+8): 15:59:59 UTC is 23:59:59 of one day there, 16:00:01 UTC already the next."""
    from datetime import UTC, datetime

    from factories import make_order

    campaign = make_campaign(title="跨夜")
    item = make_item(campaign, [(make_listing(name="姜", unit="斤", price_fen=800), 500)])
    unit = make_unit()
    for second in (datetime(2026, 3, 3, 15, 59, 59, tzinfo=UTC), datetime(2026, 3, 3, 16, 0, 1, tzinfo=UTC)):
        make_order(campaign, [(item, 1)], user=make_user(unit=unit), created_at=second)
    assert [row["key"] for row in figures_rows(campaign.id, "day")] == ["2026-03-03", "2026-03-04"]
    assert_open_figures_are_true(campaign.id)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0042_builds_the_open_figures_of_the_campaigns_open_when_it_runs(backend, tmp_path, request):
    """A database with open campaigns from before the open figures: the migration's data step gives the rows their
    orders would have kept, on both backends."""
    from flask_migrate import downgrade, upgrade

    from app import create_app
    from backends import create_scratch_postgres, drop_scratch_postgres

    if backend == "sqlite":
        url, base = f"sqlite:///{tmp_path}/before.sqlite3", None
    else:
        base = request.getfixturevalue("postgres_base_url")
        url = create_scratch_postgres(base, f"pinbang_open_{uuid.uuid4().hex[:8]}")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    try:
        with app.app_context():
            upgrade(revision="heads")
            people = make_pooling_people()
            campaigns = [make_pooling_campaign(people, title=title).campaign.id for title in ("春季", "秋季")]
            made = {cid: kept_open_figures(cid) for cid in campaigns}
            db.session.remove()  # the migrations drop and create tables: no transaction of ours may hold them
            downgrade(revision="0041_figures_pending")
            upgrade(revision="heads")
            for cid in campaigns:
                assert made[cid]["open_item_buyer"]
                assert kept_open_figures(cid) == made[cid] == open_figures_from_lines(cid)
            db.session.remove()
            db.engine.dispose()
    finally:
        if base is not None:
            drop_scratch_postgres(base, url)
