"""The menu's unread badge: how many in-app messages a user has not seen, gone once the messages page is read."""

import re

import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from notifications.services import unread_count


def _badge(page):
    found = re.search(r'id="unread-badge">(\d+)<', page)
    return int(found.group(1)) if found else 0


def _pooled(people):
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    return s


def test_the_badge_counts_unread_messages_until_the_messages_page_is_opened(client, auth):
    people = make_pooling_people()
    _pooled(people)
    unread = unread_count(people.zhang)
    assert unread >= 1
    auth.login(people.zhang.phone)
    assert _badge(client.get("/orders/").get_data(as_text=True)) == unread
    inbox = client.get("/notifications/").get_data(as_text=True)
    assert "新消息" in inbox  # the unread ones are marked on this showing
    assert _badge(inbox) == 0
    assert _badge(client.get("/orders/").get_data(as_text=True)) == 0
    assert unread_count(people.zhang) == 0
    assert "新消息" not in client.get("/notifications/").get_data(as_text=True)


def test_reading_ones_own_messages_leaves_everyone_elses_unread(client, auth):
    people = make_pooling_people()
    _pooled(people)
    others_before = unread_count(people.wang)
    assert others_before >= 1
    auth.login(people.zhang.phone)
    client.get("/notifications/")
    assert unread_count(people.wang) == others_before
    sms_unread = db.session.scalar(
        sa.select(sa.func.count()).where(Notification.channel != "inapp", Notification.read_at.is_(None))
    )
    assert sms_unread >= 1  # only in-app messages are ever marked read


def test_a_producer_account_counts_its_producers_messages(client, auth):
    people = make_pooling_people()
    _pooled(people)
    user = make_user(role="producer", producer=people.coop)
    assert unread_count(user) >= 1  # the pick list notice is addressed to the producer, not the account
    auth.login(user.phone)
    assert _badge(client.get("/fulfilment/picklists").get_data(as_text=True)) == unread_count(user)


def test_no_badge_without_unread_messages_and_none_for_visitors(client, auth):
    assert 'id="nav-messages"' not in client.get("/accounts/login").get_data(as_text=True)
    auth.login(make_user().phone)
    page = client.get("/orders/").get_data(as_text=True)
    assert 'id="nav-messages"' in page and 'id="unread-badge"' not in page
