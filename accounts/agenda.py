"""What needs doing, for the operators' home page and its API: each figure comes from its own area's service."""

from dataclasses import dataclass

from database import local_today, utcnow
from fulfilment.picklists import overdue_confirmations
from notifications.services import failed_count
from producers.review import pending_review_count
from shop.progress import CampaignProgress, open_campaigns_progress
from units.targets import Progress, lagging_units


@dataclass(frozen=True)
class Agenda:
    pending_reviews: int
    open_campaigns: list[CampaignProgress]
    overdue_confirmations: list[dict]
    failed_messages: int
    lagging_units: list[Progress]
    year: int


def operator_agenda(now=None) -> Agenda:
    """Listings waiting for review, campaigns taking orders (with their progress and closing times), pick lists not
    confirmed in time, messages that failed for good, and units behind this year's target."""
    now = now or utcnow()
    year = local_today(now).year
    return Agenda(
        pending_reviews=pending_review_count(),
        open_campaigns=open_campaigns_progress(now),
        overdue_confirmations=overdue_confirmations(now),
        failed_messages=failed_count(),
        lagging_units=lagging_units(year),
        year=year,
    )
