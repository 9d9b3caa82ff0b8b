"""The beat schedule: every periodic job in one place."""

BEAT_SCHEDULE = {
    "dispatch-notifications": {"task": "worker.tasks.dispatch_notifications", "schedule": 15.0},
}
