"""The buyers' "on its way" notices of a pooled campaign: one fan-out row in the close, expanded in batches
afterwards — each buyer once per channel, whatever the batch size, after a crash mid-way, or with two workers."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification, NotificationFanout
from racing import run_at_once


def _buyer_notices(campaign_id):
    db.session.expire_all()
    return sorted(
        (n.recipient, n.channel, n.status, n.title)
        for n in db.session.scalars(
            sa.select(Notification).where(
                Notification.subject == f"campaign:{campaign_id}", Notification.kind == "order_allocated"
            )
        )
    )


def _fanout(campaign_id, kind="order_allocated"):
    db.session.expire_all()
    return db.session.scalar(
        sa.select(NotificationFanout).where(NotificationFanout.campaign_id == campaign_id, NotificationFanout.kind == kind)
    )


@pytest.fixture
def people(app):
    return make_pooling_people()


def _expected(people):
    title = "您在“春季消费扶贫”的订购已成团"
    return sorted(
        [
            (f"user:{people.wang.id}", "email", "pending", title),
            (f"user:{people.wang.id}", "inapp", "sent", title),
            (f"user:{people.zhang.id}", "inapp", "sent", title),
            # Chen, the coordinator, ordered for a colleague without an account: she hears once, for both orders.
            (f"user:{people.chen.id}", "inapp", "sent", title),
        ]
    )


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_every_live_order_s_buyer_hears_once_whatever_the_batch_size(people, batch):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    assert _fanout(s.campaign.id).status == "pending"

    # Three buyers, and first the three producers and the two below-minimum notices (Wang's and Liu's eggs).
    assert expand_fanouts(RENDERERS, batch=batch) == 3 + 3 + 2
    assert _buyer_notices(s.campaign.id) == _expected(people)
    done = _fanout(s.campaign.id)
    assert (done.status, done.recipients) == ("done", 3) and done.done_at is not None
    # Liu's only order was cancelled below minimum: she hears about that, never that it is on its way.
    assert f"user:{people.liu.id}" not in {recipient for recipient, *_ in _buyer_notices(s.campaign.id)}
    assert expand_fanouts(RENDERERS, batch=batch) == 0
    assert _buyer_notices(s.campaign.id) == _expected(people)


def test_a_worker_that_dies_mid_way_loses_nothing_and_doubles_nothing(people, kill_worker):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    revive = kill_worker("_insert_ignoring_duplicates", 6)  # in the third batch: two inserts (in-app, email) a batch
    with pytest.raises(RuntimeError):
        expand_fanouts(RENDERERS, batch=1)
    db.session.rollback()
    half = _fanout(s.campaign.id)
    assert half.status == "pending" and half.cursor > 0
    assert 0 < len(_buyer_notices(s.campaign.id)) < len(_expected(people))

    revive()
    expand_fanouts(RENDERERS, batch=1)
    assert _buyer_notices(s.campaign.id) == _expected(people)
    assert _fanout(s.campaign.id).status == "done"


def test_two_workers_expanding_at_once_write_each_message_once(app, people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    _results, errors = run_at_once(app, lambda: expand_fanouts(RENDERERS, batch=1))
    assert errors == []
    expand_fanouts(RENDERERS)
    assert _buyer_notices(s.campaign.id) == _expected(people)


def test_a_close_that_dies_before_its_commit_leaves_no_fan_out(people):
    s = make_pooling_campaign(people)

    def die(_app, campaign_id, step):
        if step == "notified":
            raise RuntimeError("killed")

    with closing.close_step_done.connected_to(die), pytest.raises(RuntimeError):
        closing.close_campaign(s.campaign.id)
    assert _fanout(s.campaign.id) is None
    assert closing.close_campaign(s.campaign.id) == "allocated"
    expand_fanouts(RENDERERS)
    assert _buyer_notices(s.campaign.id) == _expected(people)


def test_a_rendered_fan_out_waits_for_a_caller_that_hands_over_its_renderer(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)

    # The fan-out knows no area: without renderers only the one text to every buyer goes out.
    assert expand_fanouts({}) == 3
    assert _buyer_notices(s.campaign.id) == _expected(people)
    assert {kind: _fanout(s.campaign.id, kind).status for kind in RENDERERS} == dict.fromkeys(RENDERERS, "pending")

    assert expand_fanouts(RENDERERS) == 3 + 2
    assert {kind: _fanout(s.campaign.id, kind).status for kind in RENDERERS} == dict.fromkeys(RENDERERS, "done")
