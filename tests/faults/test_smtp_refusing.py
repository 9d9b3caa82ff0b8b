"""A real SMTP server (aiosmtpd on a free 127.0.0.1 port) that refuses mail: the outbox retries with back-off, then
every message is delivered exactly once; one that never gets through is listed for operators, and a resend delivers it.

Time is passed by moving the rows' next_attempt_at into the past (the dispatcher reads the clock itself); the
back-off it chose is checked before that.
"""

import asyncio
import email
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_producer, make_user
from notifications.models import Notification
from notifications.services import MAX_ATTEMPTS, dispatch_due, queue_notification
from ports import free_port

pytestmark = pytest.mark.slow

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class FlakyMailServer:
    """Answers 451 (then 421) to the first ``refusals`` deliveries of each message, accepts it after that."""

    def __init__(self):
        self.refusals = 0
        self.attempts = {}  # Message-ID → deliveries tried
        self.accepted = []  # (Message-ID, To, Subject) of every message accepted
        self.quit_reply = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        message_id = message["Message-ID"]
        with self.lock:
            tried = self.attempts[message_id] = self.attempts.get(message_id, 0) + 1
            if tried <= self.refusals:
                return "451 4.3.0 Mailbox busy, try again later" if tried % 2 else "421 4.7.0 Too many connections, closing"
            self.accepted.append(
                (message_id, message["To"], str(email.header.make_header(email.header.decode_header(message["Subject"]))))
            )
        return "250 2.0.0 Queued"

    async def handle_QUIT(self, server, session, envelope):
        return self.quit_reply or "221 Bye"


@pytest.fixture
def mail_server(app):
    handler = FlakyMailServer()
    port = free_port()
    controller = aiosmtpd_controller.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME=None)
    yield handler
    controller.stop()
    asyncio.set_event_loop(None)


def _emails():
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.channel == "email").order_by(Notification.id)).all()


def _pass_time():
    """Everything waiting for a retry becomes due now."""
    db.session.execute(sa.update(Notification).where(Notification.status == "pending").values(next_attempt_at=utcnow()))
    db.session.commit()


def _queue_for_producers(count):
    producers = [make_producer(email=f"coop{n}@example.cn") for n in range(count)]
    for producer in producers:
        queue_notification(
            kind="picklist", subject="campaign:1", title="备货单：春季消费扶贫", body="请备货：雪毛鸡 × 30只", producer=producer
        )
    db.session.commit()
    return producers


def test_refused_mail_is_retried_with_back_off_then_delivered_exactly_once(app, mail_server):
    mail_server.refusals = 3
    producers = _queue_for_producers(5)
    delays = []
    for attempt in range(1, 4):
        before = utcnow()
        dispatch_due()
        rows = _emails()
        assert [(r.status, r.attempts) for r in rows] == [("pending", attempt)] * 5
        assert all(("451" if attempt % 2 else "421") in r.last_error for r in rows)
        delays.append({round((r.next_attempt_at - before).total_seconds() / 30) for r in rows})
        # Not due yet: running the dispatcher again right away does not touch the mail server.
        tried = sum(mail_server.attempts.values())
        dispatch_due()
        assert sum(mail_server.attempts.values()) == tried
        _pass_time()
    assert delays == [{1}, {2}, {4}]  # 30 s, 1 min, 2 min

    dispatch_due()
    rows = _emails()
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [("sent", 4, None)] * 5
    # More sweeps (beat runs every 15 s) send nothing again.
    for _ in range(3):
        _pass_time()
        dispatch_due()
    assert sorted(to for _id, to, _subject in mail_server.accepted) == sorted(p.email for p in producers)
    assert len({message_id for message_id, _to, _subject in mail_server.accepted}) == 5
    assert {subject for _id, _to, subject in mail_server.accepted} == {"备货单：春季消费扶贫"}


def test_a_server_that_accepts_the_mail_but_answers_quit_oddly_does_not_get_it_twice(app, mail_server):
    mail_server.quit_reply = "421 4.4.2 Connection timed out"
    _queue_for_producers(2)
    dispatch_due()
    _pass_time()
    dispatch_due()
    assert [(r.status, r.attempts) for r in _emails()] == [("sent", 1)] * 2
    assert len(mail_server.accepted) == 2


def test_mail_refused_on_every_attempt_is_listed_for_operators_and_a_resend_delivers_it_once(app, mail_server, auth, client):
    mail_server.refusals = MAX_ATTEMPTS
    producer = _queue_for_producers(1)[0]
    for _ in range(MAX_ATTEMPTS + 2):
        dispatch_due()
        _pass_time()
    (row,) = _emails()
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert mail_server.attempts == {f"<{row.message_id}@pinbang.local>": MAX_ATTEMPTS}
    assert mail_server.accepted == []

    operator = make_user(role="operator")
    auth.login(operator.phone)
    page = client.get("/notifications/failed").get_data(as_text=True)
    assert producer.email in page and "备货单：春季消费扶贫" in page and "SMTP" in page

    response = client.post(f"/notifications/{row.id}/resend")
    assert response.status_code == 302
    dispatch_due()  # the server accepts from now on (its refusals are used up)
    (row,) = _emails()
    assert (row.status, row.attempts) == ("sent", 1)
    assert [to for _id, to, _subject in mail_server.accepted] == [producer.email]
    assert producer.email not in client.get("/notifications/failed").get_data(as_text=True)
    # A second resend of a message already sent changes nothing.
    client.post(f"/notifications/{row.id}/resend")
    _pass_time()
    dispatch_due()
    assert len(mail_server.accepted) == 1


def test_the_dispatcher_leaves_not_yet_due_mail_alone(app, mail_server):
    _queue_for_producers(1)
    db.session.execute(sa.update(Notification).values(next_attempt_at=utcnow() + timedelta(minutes=5)))
    db.session.commit()
    dispatch_due()
    assert mail_server.attempts == {}
    assert [r.status for r in _emails()] == ["pending"]


def test_every_attempt_of_an_email_carries_the_same_message_id_and_each_email_its_own(app, mail_server):
    mail_server.refusals = 2
    _queue_for_producers(3)
    for _ in range(3):
        dispatch_due()
        _pass_time()
    rows = _emails()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 3)] * 3
    # Three tries of each mail, all under its row's one Message-ID (a receiving system keeps one copy of a repeat).
    assert mail_server.attempts == {f"<{r.message_id}@pinbang.local>": 3 for r in rows}
    assert sorted(message_id for message_id, _to, _subject in mail_server.accepted) == sorted(mail_server.attempts)


def test_a_title_with_a_line_break_fails_its_email_alone_after_the_last_attempt(app, mail_server, auth, client):
    broken = make_producer(email="broken@example.cn")
    queue_notification(
        kind="picklist", subject="campaign:1", title="备货单：春季\r\n消费扶贫", body="请备货：雪毛鸡 × 30只", producer=broken
    )
    db.session.commit()
    producers = _queue_for_producers(2)  # queued after it: the same batch, later in it

    dispatch_due()
    bad, *good = _emails()
    assert (bad.status, bad.attempts) == ("pending", 1) and "linefeed" in bad.last_error
    assert [(r.status, r.attempts) for r in good] == [("sent", 1)] * 2
    assert sorted(to for _id, to, _subject in mail_server.accepted) == sorted(p.email for p in producers)
    # Its text message and in-app message do not depend on the email's subject line.
    others = db.session.scalars(
        sa.select(Notification.status).where(Notification.recipient == f"producer:{broken.id}", Notification.channel != "email")
    ).all()
    assert others == ["sent", "sent"]

    for _ in range(MAX_ATTEMPTS + 3):
        _pass_time()
        dispatch_due()
    bad, *good = _emails()
    assert (bad.status, bad.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(mail_server.accepted) == 2

    auth.login(make_user(role="operator").phone)
    page = client.get("/notifications/failed").get_data(as_text=True)
    assert broken.email in page and "linefeed" in page
