"""The bulk outbox writer follows queue_notification's rules: the same channels, nothing queued twice."""

from extensions import db
from factories import make_producer, make_user
from notifications.models import Notification
from notifications.services import outbox_rows, queue_notification


def test_bulk_rows_use_every_channel_the_recipient_has_and_skip_what_is_queued(app):
    with_email = make_producer(email="coop@example.cn")
    without = make_producer()
    buyer = make_user()
    queue_notification(kind="picklist", subject="campaign:1", title="t", body="b", producer=without)
    db.session.commit()

    rows = outbox_rows(
        kind="picklist",
        subject="campaign:1",
        messages=[
            {"producer": with_email, "title": "备货", "body": "长消息", "sms_body": "短信"},
            {"producer": without, "title": "备货", "body": "长消息"},
            {"user": buyer, "title": "备货", "body": "长消息"},
        ],
    )
    assert sorted((r["recipient"], r["channel"], r["address"], r["body"]) for r in rows) == sorted(
        [
            (f"producer:{with_email.id}", "inapp", None, "长消息"),
            (f"producer:{with_email.id}", "sms", with_email.phone, "短信"),
            (f"producer:{with_email.id}", "email", "coop@example.cn", "长消息"),
            (f"user:{buyer.id}", "inapp", None, "长消息"),
            (f"user:{buyer.id}", "sms", buyer.phone, "长消息"),
        ]
    )
    db.session.add_all(Notification(**row) for row in rows)
    db.session.commit()
    assert outbox_rows(kind="picklist", subject="campaign:1", messages=[{"user": buyer, "title": "x", "body": "y"}]) == []
