"""The notices to buyers whose lines were cancelled below minimum: queued as one fan-out row in the close, rendered
for each buyer afterwards from the lines the close cancelled — once per buyer and channel, whatever the batch size,
after a worker dies mid-way, or with two workers; lines a buyer had cancelled never named."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_order, make_pooling_campaign, make_pooling_people
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification, NotificationFanout
from racing import run_at_once

TITLE = "订购取消：“春季消费扶贫”部分商品未成团"


def _notices(campaign_id):
    db.session.expire_all()
    return sorted(
        (n.recipient, n.channel, n.title, n.body)
        for n in db.session.scalars(
            sa.select(Notification).where(Notification.subject == f"campaign:{campaign_id}", Notification.kind == "below_minimum")
        )
    )


def _fanout(campaign_id):
    db.session.expire_all()
    return db.session.scalar(
        sa.select(NotificationFanout).where(
            NotificationFanout.campaign_id == campaign_id, NotificationFanout.kind == "below_minimum"
        )
    )


def _body(goods):
    return f"“春季消费扶贫”中以下商品订购量未达成团数量，无法成团：{goods}。这些订购已取消，不会收费。"


@pytest.fixture
def people(app):
    return make_pooling_people()


@pytest.fixture
def campaign(people):
    """The pooling campaign, plus eggs Chen ordered for herself and for a colleague without an account, and eggs
    Zhang cancelled herself before the close."""
    s = make_pooling_campaign(people)
    make_order(s.campaign, [(s.eggs, 10), (s.honey, 1)], user=people.chen)
    colleague = make_order(
        s.campaign, [(s.eggs, 40)], user=people.chen, buyer_name="王五", buyer_phone="13700000002", source="coordinator"
    )
    colleague.user_id = None
    make_order(s.campaign, [(s.eggs, 7, "buyer"), (s.chicken, 1)], user=people.zhang)
    db.session.commit()
    return s


def _expected(people):
    p = people
    wang, liu, chen = _body("鸡蛋 × 60个"), _body("鸡蛋 × 30个"), _body("鸡蛋 × 10个；鸡蛋 × 40个（为王五代订）")
    rows = [(p.wang, wang), (p.liu, liu), (p.chen, chen)]
    expected = []
    for user, body in rows:
        expected.append((f"user:{user.id}", "inapp", TITLE, body))
        expected.append((f"user:{user.id}", "sms", TITLE, body))
        if user.email:
            expected.append((f"user:{user.id}", "email", TITLE, body))
    return sorted(expected)


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_each_buyer_hears_once_naming_exactly_the_lines_cancelled(people, campaign, batch):
    assert closing.close_campaign(campaign.campaign.id) == "allocated"
    assert _notices(campaign.campaign.id) == []
    assert _fanout(campaign.campaign.id).status == "pending"

    expand_fanouts(RENDERERS, batch_recipients=batch)
    # Zhang's eggs were cancelled by Zhang before the close: she is not told about them.
    assert _notices(campaign.campaign.id) == _expected(people)
    done = _fanout(campaign.campaign.id)
    assert (done.status, done.recipients) == ("done", 3)
    assert expand_fanouts(RENDERERS, batch_recipients=batch) == 0
    assert _notices(campaign.campaign.id) == _expected(people)


def test_a_worker_that_dies_mid_way_loses_nothing_and_doubles_nothing(app, people, campaign, kill_worker):
    closing.close_campaign(campaign.campaign.id)
    revive = kill_worker("_insert_rows_ignoring_duplicates", 2)
    with pytest.raises(RuntimeError):
        expand_fanouts(RENDERERS, batch_recipients=1, kinds=("below_minimum",))
    db.session.rollback()
    assert _fanout(campaign.campaign.id).status == "pending"
    assert {recipient for recipient, *_ in _notices(campaign.campaign.id)} == {f"user:{people.wang.id}"}

    revive()
    # A second worker (and the dispatcher's sweep) finish it, two at once.
    _results, errors = run_at_once(app, lambda: expand_fanouts(RENDERERS, batch_recipients=1))
    assert errors == []
    expand_fanouts(RENDERERS)
    assert _notices(campaign.campaign.id) == _expected(people)
    assert _fanout(campaign.campaign.id).status == "done"


def test_a_batch_run_again_writes_nothing_twice(people, campaign):
    closing.close_campaign(campaign.campaign.id)
    expand_fanouts(RENDERERS, batch_recipients=1, max_batches=2, kinds=("below_minimum",))
    # As if the worker died after its second batch committed but before it knew: the cursor goes back.
    db.session.execute(sa.update(NotificationFanout).where(NotificationFanout.kind == "below_minimum").values(cursor=0))
    db.session.commit()
    expand_fanouts(RENDERERS, batch_recipients=1)
    assert _notices(campaign.campaign.id) == _expected(people)
