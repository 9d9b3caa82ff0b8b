"""A campaign whose every item is sold out closes by itself at the next sweep, and operators are told (issue 17.1)."""

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_user
from fulfilment import closing
from fulfilment.early_close import close_sold_out_campaigns
from notifications.models import Notification
from shop.models import Campaign


def test_a_sold_out_campaign_closes_early_and_operators_are_told(app):
    operator = make_user(role="operator")
    campaign = make_campaign(closes_in=timedelta(days=3))
    honey = make_item(campaign, [(make_listing(quantity=10), 4)], title="百花蜜")
    eggs = make_item(campaign, [(make_listing(quantity=10), 2)], title="土鸡蛋")
    make_order(campaign, [(honey, 4), (eggs, 2)])

    assert close_sold_out_campaigns() == [campaign.id]
    db.session.expire_all()
    closed = db.session.get(Campaign, campaign.id)
    assert closed.status == "closed" and closed.closes_at <= closed.closed_at + timedelta(seconds=1)
    assert campaign.id in closing.campaigns_to_close()
    told = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == operator.id, Notification.kind == "campaign_sold_out")
    ).all()
    assert told and "全部售罄，已于" in told[0].body
    assert close_sold_out_campaigns() == []
    assert closing.close_campaign(campaign.id) == "allocated"


def test_a_campaign_with_anything_left_or_not_open_stays_as_it_is(app):
    left = make_campaign()
    item = make_item(left, [(make_listing(quantity=10), 5)])
    make_order(left, [(item, 4)])
    scheduled = make_campaign(opens_in=timedelta(hours=2))
    make_item(scheduled, [(make_listing(quantity=10), 1)]).ordered = 1
    empty = make_campaign()
    db.session.commit()

    assert close_sold_out_campaigns() == []
    db.session.expire_all()
    assert {db.session.get(Campaign, c.id).status for c in (left, scheduled, empty)} == {"published"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
