"""A campaign's life, one step at a time: draft → published → closed → allocated → delivered → settled, or cancelled
before it closes; and what each stage lets buyers see and do.

Every status change goes through :func:`transition` (or, in a guarded bulk UPDATE, ``status == status_before(to)``);
every "may buyers see it / does it take orders / may this unit order" asks the predicates here.
"""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from database import utcnow
from errors import Conflict
from shop.models import Campaign, CampaignStatus, campaign_unit

_NEXT = {
    CampaignStatus.DRAFT: CampaignStatus.PUBLISHED,
    CampaignStatus.PUBLISHED: CampaignStatus.CLOSED,
    CampaignStatus.CLOSED: CampaignStatus.ALLOCATED,
    CampaignStatus.ALLOCATED: CampaignStatus.DELIVERED,
    CampaignStatus.DELIVERED: CampaignStatus.SETTLED,
}
_BEFORE = {after: before for before, after in _NEXT.items()}

# Pooled: the close has split the demand among the producers, so sales belong to them.
POOLED = (CampaignStatus.ALLOCATED.value, CampaignStatus.DELIVERED.value, CampaignStatus.SETTLED.value)
# Goods can be handed over from pooling until the money is settled.
DELIVERABLE = (CampaignStatus.ALLOCATED.value, CampaignStatus.DELIVERED.value)
# What a buyer sees of a campaign: the status, with "published" split by the clock.
PHASES = ("draft", "scheduled", "open", "ended", "closed", "allocated", "delivered", "settled", "cancelled")


class TransitionRefused(Conflict):
    code = "campaign_transition_refused"


def status_before(to) -> CampaignStatus:
    """The one status a campaign must be in to become ``to`` (for a guarded UPDATE: ``WHERE status = status_before(to)``).

    :raises ValueError: ``to`` is the first status, which nothing becomes.
    """
    to = CampaignStatus(to)
    if to not in _BEFORE:
        raise ValueError(f"no campaign becomes {to}")
    return _BEFORE[to]


def cancellable(status) -> bool:
    """A campaign may be cancelled until it closes; after that the close and delivery own it."""
    return status in (CampaignStatus.DRAFT.value, CampaignStatus.PUBLISHED.value)


def transition(campaign, to) -> None:
    """Move ``campaign`` to the next stage of its life, ``to``, or cancel it; does not commit.

    :raises TransitionRefused: ``to`` is neither the stage right after the campaign's status nor a cancellation
        while :func:`cancellable`.
    """
    to = CampaignStatus(to)
    if to is CampaignStatus.CANCELLED and cancellable(campaign.status):
        campaign.status = to.value
        return
    if _NEXT.get(CampaignStatus(campaign.status)) is not to:
        raise TransitionRefused(
            _("A campaign that is %(status)s cannot become %(next)s.", status=_(campaign.status), next=_(to.value))
        )
    campaign.status = to.value


def visible_to_buyers(status):
    """Buyers see a campaign once it is published, for good. ``status``: a campaign's status, or the status column."""
    return status != CampaignStatus.DRAFT.value


def campaign_phase(campaign, now=None) -> str:
    """The stored status, with "published" split by the clock into scheduled, open and ended (awaiting close)."""
    if campaign.status != CampaignStatus.PUBLISHED:
        return campaign.status
    now = now or utcnow()
    if now < campaign.opens_at:
        return "scheduled"
    if now < campaign.closes_at:
        return "open"
    return "ended"


def takes_orders(campaign, now=None) -> bool:
    """Buyers may order now: published, opened, not yet closed (the SQL form is :func:`taking_orders`)."""
    return campaign_phase(campaign, now) == "open"


def taking_orders(now: datetime):
    """SQL: the campaign takes orders at ``now``, as :func:`takes_orders`, for queries that lock or filter campaigns."""
    return sa.and_(Campaign.status == CampaignStatus.PUBLISHED.value, Campaign.opens_at <= now, Campaign.closes_at > now)


def still_editable(campaign, now=None) -> bool:
    """Operators may change a campaign and add items until it opens."""
    return campaign_phase(campaign, now) in ("draft", "scheduled")


def accepts_changes(campaign, now=None) -> bool:
    """Operators may change texts and times, add items and top up supplies until orders end; then the close owns it."""
    return campaign_phase(campaign, now) in ("draft", "scheduled", "open")


def open_to_unit(campaign, unit_id) -> bool:
    """A unit may order in a campaign that lists it, or that lists no units at all (open to every unit)."""
    ids = {unit.id for unit in campaign.units}
    return not ids or unit_id in ids


def open_to_unit_clause(unit_id):
    """SQL: the campaign is open to ``unit_id``, as :func:`open_to_unit`."""
    unrestricted = ~sa.exists().where(campaign_unit.c.campaign_id == Campaign.id)
    listed = sa.exists().where(campaign_unit.c.campaign_id == Campaign.id, campaign_unit.c.unit_id == unit_id)
    return unrestricted | listed
