"""The beat schedule: every periodic job in one place."""

from after_commit import DISPATCH_NOTIFICATIONS

# Closing and sending are idempotent, so a second beat started by mistake does no harm. A sweep that
# waited in the queue longer than its interval is dropped (expires): the next one does the same work.
BEAT_SCHEDULE = {
    "dispatch-notifications": {"task": DISPATCH_NOTIFICATIONS, "schedule": 15.0},
    "close-due-campaigns": {"task": "worker.tasks.close_due_campaigns", "schedule": 30.0, "options": {"expires": 25}},
    "sweep-exports": {"task": "worker.tasks.sweep_exports", "schedule": 60.0, "options": {"expires": 50}},
    "delivery-reminders": {"task": "worker.tasks.send_delivery_reminders", "schedule": 1800.0, "options": {"expires": 1500}},
}
