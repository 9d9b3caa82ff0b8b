"""The dashboard over a campaign pooled by the real close job (fulfilment.closing): figures, delivery, settlement, checks."""

from dashboard import delivery, settlement
from dashboard.checks import check_totals
from dashboard.grouping import sales_rows
from dashboard.totals import sales_totals
from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from shop.models import Campaign


def test_a_campaign_closed_by_the_pooling_job(app):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    assert closing.close_campaign(s.campaign.id) == "allocated"

    totals = sales_totals(s.campaign.id)
    # 雪毛鸡: 30 + 10 + 27 ordered (the cancelled order's 50 never count); 鸡蛋 missed its minimum of 500, so all its
    # lines were cancelled; 蜂蜜: 4 + 3 + 5 (张伟's 2 were cancelled by him).
    assert totals["revenue_fen"] == 67 * 9800 + 12 * 6800
    assert totals["weight_g"] == 67 * 1500 + 12 * 500
    rows = {row["key"]: row["quantity"] for row in sales_rows(s.campaign.id, "product")}
    assert rows == {"雪毛鸡/只": 67, "蜂蜜/瓶": 12}
    by_producer = {row["key"]: row for row in sales_rows(s.campaign.id, "producer")}
    assert "unallocated" not in by_producer
    assert sum(row["revenue_fen"] for row in by_producer.values()) == totals["revenue_fen"]
    # The poor household's honey is filled first (poor_first): all 10 of its supply.
    assert totals["poverty_households_direct"] == 1

    checker = check_totals(s.campaign.id)
    assert [str(m) for m in checker.mismatches] == []

    operator = make_user(role="operator")
    for unit in people.units:
        if any(row["unit_id"] == unit.id for row in delivery.outstanding_deliveries(s.campaign.id)):
            delivery.mark_delivered(operator, s.campaign.id, unit.id)
    assert db.session.get(Campaign, s.campaign.id).status == "delivered"
    for statement in settlement.producer_statements(s.campaign.id):
        assert statement["due_fen"] == statement["allocated_fen"]
        settlement.record_payout(operator, s.campaign.id, statement["producer"].id, statement["balance_fen"], "transfer")
    assert db.session.get(Campaign, s.campaign.id).status == "settled"
    assert check_totals(s.campaign.id).mismatches == []
