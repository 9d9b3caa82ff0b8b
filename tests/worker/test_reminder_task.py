"""Beat sends the reminders sweep on a schedule, and the task is the service's: it reminds, and a second run does not."""

from datetime import timedelta

from factories import make_campaign, make_item, make_listing, make_user
from worker.schedule import BEAT_SCHEDULE


def test_beat_runs_the_reminders_sweep_often_enough_for_the_window():
    entry = BEAT_SCHEDULE["campaign-reminders"]
    assert entry["task"] == "worker.tasks.send_campaign_reminders"
    assert entry["schedule"] <= 3600 and entry["options"]["expires"] < entry["schedule"]


def test_the_task_reminds_once(app):
    from worker.tasks import send_campaign_reminders

    unit = make_user().unit
    campaign = make_campaign(closes_in=timedelta(hours=3), units=[unit])
    make_item(campaign, [(make_listing(), 10)])
    assert send_campaign_reminders.apply().get() == 1  # the buyer who has not ordered
    assert send_campaign_reminders.apply().get() == 0
