"""A user's messages page; operators' failed messages with a resend button; the notifications API's auth."""

import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from notifications.services import dispatch_due


def _fail(notification):
    notification.status = "failed"
    notification.attempts = 6
    notification.last_error = "SMS gateway answered 503"
    db.session.commit()


def test_a_producer_reads_its_messages_with_a_link_to_the_pick_list(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    auth.login(make_user(role="producer", producer=people.coop).phone)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "备货通知：春季消费扶贫" in page
    assert f"/fulfilment/picklists/{s.campaign.id}" in page


def test_a_buyer_sees_only_their_own_messages(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)
    auth.login(people.zhang.phone)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "您在“春季消费扶贫”的订购已成团" in page
    assert "未达成团" not in page and "备货通知" not in page


def test_operators_see_failed_messages_and_resend_them(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    dispatch_due()
    sms = db.session.scalar(
        sa.select(Notification).where(Notification.recipient == f"producer:{people.poor.id}", Notification.channel == "sms")
    )
    _fail(sms)
    auth.login(make_user(role="operator").phone)

    page = client.get("/notifications/failed").get_data(as_text=True)
    assert "发送失败的消息" in page and "SMS gateway answered 503" in page and people.poor.phone in page
    response = client.post(f"/notifications/{sms.id}/resend", follow_redirects=True)
    assert "消息已重新排队发送" in response.get_data(as_text=True)
    db.session.refresh(sms)
    assert (sms.status, sms.attempts) == ("pending", 0)
    dispatch_due()
    db.session.refresh(sms)
    assert sms.status == "sent"
    # A message that is not failed is left alone.
    again = client.post(f"/notifications/{sms.id}/resend", follow_redirects=True).get_data(as_text=True)
    assert "无需重发" in again
    assert client.post("/notifications/999999/resend").status_code == 404


def test_only_operators_see_failed_messages(client, auth):
    people = make_pooling_people()
    auth.login(people.wang.phone)
    assert client.get("/notifications/failed").status_code == 403
    assert client.post("/notifications/1/resend").status_code == 403


def test_the_notifications_api_needs_a_token(api):
    response = api.get("/notifications")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
