"""Sending the outbox: a real HTTP SMS gateway and the mail file backend, retries with back-off, failures, resend."""

import json
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_pooling_campaign, make_pooling_people
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from notifications.services import MAX_ATTEMPTS, dispatch_due


class Gateway:
    """A real HTTP SMS gateway on a local port that answers with ``status`` and records what it got."""

    def __init__(self):
        self.status = 200
        self.received = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                gateway.received.append((self.headers["Authorization"], json.loads(self.rfile.read(length))))
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(app):
    gateway = Gateway()
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_API_KEY="k-123")
    yield gateway
    gateway.close()


def _make_due():
    db.session.execute(
        sa.update(Notification).where(Notification.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_every_producer_message_goes_out_once_through_the_gateway_and_mail(app, gateway, tmp_path):
    app.config.update(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path))
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close

    dispatch_due()
    dispatch_due()
    assert set(db.session.scalars(sa.select(Notification.status))) == {"sent"}
    texts = [body for auth, body in gateway.received if body["to"] == people.coop.phone]
    assert len(texts) == 1 and gateway.received[0][0] == "Bearer k-123"
    assert texts[0]["text"].startswith("【拼帮】“春季消费扶贫”已截止，请于")
    mails = {message_from_bytes(p.read_bytes(), policy=policy.default)["To"]: p for p in Path(tmp_path).glob("*.eml")}
    coop_mail = message_from_bytes(mails[people.coop.email].read_bytes(), policy=policy.default)
    assert coop_mail["Subject"] == "备货通知：春季消费扶贫"
    assert "雪毛鸡 × 52只" in coop_mail.get_content()
    assert people.wang.email in mails  # the buyer's emails: eggs cancelled below minimum, the rest on its way


def test_a_failing_gateway_is_retried_with_exponential_back_off_then_listed_as_failed(app, gateway):
    gateway.status = 503
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    sms = db.session.scalar(
        sa.select(Notification).where(Notification.recipient == f"producer:{people.coop.id}", Notification.channel == "sms")
    )
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _make_due()
        before = utcnow()
        dispatch_due()
        db.session.refresh(sms)
        assert sms.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert sms.status == "pending"
            delays.append(round((sms.next_attempt_at - before).total_seconds() / 30))
    assert delays == [1, 2, 4, 8, 16]
    assert sms.status == "failed" and "503" in sms.last_error
    # In-app messages never depend on a gateway.
    inapp = db.session.scalar(
        sa.select(Notification).where(Notification.recipient == f"producer:{people.coop.id}", Notification.channel == "inapp")
    )
    assert inapp.status == "sent"
    assert len([body for _auth, body in gateway.received if body["to"] == people.coop.phone]) == MAX_ATTEMPTS


def test_a_long_sms_becomes_a_summary_with_a_link_and_the_in_app_message_keeps_the_details(app):
    from factories import make_item, make_listing, make_order, make_unit, make_user

    people = make_pooling_people()
    s = make_pooling_campaign(people)
    # Six more units ordering the cooperative's rice: its pick list now spans many delivery points.
    rice = make_item(s.campaign, [(make_listing(people.coop, name="大米", unit="袋"), 40)])
    for n in range(6):
        unit = make_unit(name=f"乐昌市第{n}中学{s.campaign.id}", address=f"乐城街道学府路{n}号 教学楼一楼传达室")
        make_order(s.campaign, [(rice, 5)], user=make_user(unit=unit))
    closing.close_campaign(s.campaign.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    rows = {
        n.channel: n.body
        for n in db.session.scalars(sa.select(Notification).where(Notification.recipient == f"producer:{people.coop.id}"))
    }
    assert len(rows["sms"]) < len(rows["inapp"])
    # One segment: the link no longer fits, so the SMS says where the full pick list is.
    assert len("【拼帮】" + rows["sms"]) <= 70 and rows["sms"].endswith("详见拼帮配货单。")
    assert "个单位" in rows["sms"] and "学府路" not in rows["sms"] and "学府路" in rows["inapp"]
