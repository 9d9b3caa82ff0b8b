"""The producers' notices at close ("prepare N × item by DATE for these units", or "nothing this time"): queued as
fan-out rows in the close, rendered for each producer afterwards from the allocations and pick lines the close
stored — once per producer and channel, whatever the batch size, after a worker dies mid-way, or with two workers."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, pooling_state
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification, NotificationFanout
from racing import run_at_once


@pytest.fixture
def people(app):
    return make_pooling_people()


def _producer_notices(campaign_id):
    db.session.expire_all()
    return sorted(
        (n.recipient, n.channel, n.kind)
        for n in db.session.scalars(
            sa.select(Notification).where(
                Notification.subject == f"campaign:{campaign_id}", Notification.recipient.startswith("producer:")
            )
        )
    )


def _fanouts(campaign_id):
    db.session.expire_all()
    return {
        f.kind: (f.status, f.recipients)
        for f in db.session.scalars(
            sa.select(NotificationFanout).where(
                NotificationFanout.campaign_id == campaign_id, NotificationFanout.kind.in_(("picklist", "no_allocation"))
            )
        )
    }


def _expected(people):
    p = people
    return sorted(
        [
            (f"producer:{p.coop.id}", "email", "picklist"),
            (f"producer:{p.coop.id}", "inapp", "picklist"),
            (f"producer:{p.coop.id}", "sms", "picklist"),
            (f"producer:{p.poor.id}", "inapp", "picklist"),
            (f"producer:{p.poor.id}", "sms", "picklist"),
            (f"producer:{p.eggs.id}", "inapp", "no_allocation"),
            (f"producer:{p.eggs.id}", "sms", "no_allocation"),
        ]
    )


@pytest.mark.parametrize("batch", [1, 2])
def test_each_producer_hears_once_whatever_the_batch_size(people, batch):
    one_batch = make_pooling_campaign(people)
    closing.close_campaign(one_batch.campaign.id)
    expand_fanouts(RENDERERS)
    batched = make_pooling_campaign(people)
    closing.close_campaign(batched.campaign.id)
    assert _producer_notices(batched.campaign.id) == []
    assert _fanouts(batched.campaign.id) == {"picklist": ("pending", 0), "no_allocation": ("pending", 0)}

    expand_fanouts(RENDERERS, batch_recipients=batch)

    assert _producer_notices(batched.campaign.id) == _expected(people)
    assert _fanouts(batched.campaign.id) == {"picklist": ("done", 2), "no_allocation": ("done", 1)}
    assert pooling_state(batched.campaign.id) == pooling_state(one_batch.campaign.id)
    assert expand_fanouts(RENDERERS, batch_recipients=batch) == 0
    assert _producer_notices(batched.campaign.id) == _expected(people)


def test_a_worker_that_dies_mid_way_loses_nothing_and_doubles_nothing(app, people, kill_worker):
    clean = make_pooling_campaign(people)
    closing.close_campaign(clean.campaign.id)
    expand_fanouts(RENDERERS)
    crashed = make_pooling_campaign(people)
    closing.close_campaign(crashed.campaign.id)
    revive = kill_worker("_insert_rows_ignoring_duplicates", 2)
    with pytest.raises(RuntimeError):
        expand_fanouts(RENDERERS, batch_recipients=1, kinds=("picklist",))
    db.session.rollback()
    assert _fanouts(crashed.campaign.id)["picklist"] == ("pending", 1)
    assert {recipient for recipient, *_ in _producer_notices(crashed.campaign.id)} == {f"producer:{people.coop.id}"}

    revive()
    # A second worker (and the dispatcher's sweep) finish it, two at once.
    _results, errors = run_at_once(app, lambda: expand_fanouts(RENDERERS, batch_recipients=1))
    assert errors == []
    expand_fanouts(RENDERERS)
    assert _producer_notices(crashed.campaign.id) == _expected(people)
    assert pooling_state(crashed.campaign.id) == pooling_state(clean.campaign.id)


def test_a_batch_run_again_writes_nothing_twice(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS, batch_recipients=1, kinds=("picklist", "no_allocation"))
    # As if the worker died after its batches committed but before it knew: the cursors go back.
    db.session.execute(
        sa.update(NotificationFanout)
        .where(NotificationFanout.kind.in_(("picklist", "no_allocation")))
        .values(cursor=0, status="pending")
    )
    db.session.commit()
    assert expand_fanouts(RENDERERS, batch_recipients=1, kinds=("picklist", "no_allocation")) == 0
    assert _producer_notices(s.campaign.id) == _expected(people)


def test_producers_hear_before_any_buyer(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)

    expand_fanouts(RENDERERS, max_batches=4)  # each fan-out: a batch of messages, then one that finds none left and ends it

    db.session.expire_all()
    kinds = db.session.scalars(sa.select(Notification.kind).where(Notification.subject == f"campaign:{s.campaign.id}"))
    assert set(kinds) == {"picklist", "no_allocation"}
    assert _fanouts(s.campaign.id) == {"picklist": ("done", 2), "no_allocation": ("done", 1)}
