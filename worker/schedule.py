"""The beat schedule: every periodic job in one place."""

from celery.schedules import crontab

from after_commit import DISPATCH_NOTIFICATIONS

# Closing and sending are idempotent, so a second beat started by mistake does no harm. A sweep that
# waited in the queue longer than its interval is dropped (expires): the next one does the same work.
BEAT_SCHEDULE = {
    "dispatch-notifications": {"task": DISPATCH_NOTIFICATIONS, "schedule": 15.0},
    "close-due-campaigns": {"task": "worker.tasks.close_due_campaigns", "schedule": 30.0, "options": {"expires": 25}},
    "campaign-reminders": {"task": "worker.tasks.send_campaign_reminders", "schedule": 600.0, "options": {"expires": 500}},
    # 01:00 UTC is 09:00 in Lechang: producers read it in office hours; a missed day is caught up the next.
    "certificate-expiry-notices": {
        "task": "worker.tasks.send_certificate_expiry_notices",
        "schedule": crontab(hour=1, minute=0),
        "options": {"expires": 3600},
    },
    "sweep-exports": {"task": "worker.tasks.sweep_exports", "schedule": 60.0, "options": {"expires": 50}},
    "delivery-reminders": {"task": "worker.tasks.send_delivery_reminders", "schedule": 1800.0, "options": {"expires": 1500}},
}
