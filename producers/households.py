"""The registered poor households (建档立卡) a cooperative or enterprise is linked to, each by its registry number,
so income can be attributed per household; the producer's ``linked_households`` count follows the list."""

import re

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.services import record_audit
from database import transaction
from errors import Conflict, NotFound
from extensions import db
from producers.access import get_producer, require_operator
from producers.certificates import clean_links
from producers.fields import plain, raise_if, whole_number
from producers.models import LinkedHousehold, Producer

NAME_MAX, TOWN_MAX, VILLAGE_MAX, REASON_MAX = 60, 40, 80, 200
REGISTRY_RE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")


def income_shares(households) -> dict[int, int]:
    """Each household's share of the producer's income in basis points (1/100 of a percent): the agreed shares
    where given; the rest split equally among those without one. Sums to at most 10,000.

    :param households: LinkedHousehold rows of one producer.
    """
    agreed = {h.id: h.share_pct * 100 for h in households if h.share_pct is not None}
    rest = [h.id for h in households if h.share_pct is None]
    left = max(10_000 - sum(agreed.values()), 0)
    shares = dict(agreed)
    for index, household_id in enumerate(sorted(rest)):
        # Largest remainders to the earliest rows: the shares always add up to what is left.
        shares[household_id] = left // len(rest) + (1 if index < left % len(rest) else 0)
    return shares


def _sync_count(producer):
    """The producer's count of linked households is the number listed (the count stays as recorded while none is)."""
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(LinkedHousehold).where(LinkedHousehold.producer_id == producer.id)
    )
    if count:
        producer.linked_households = count
    return count


def _locked_producer(actor, producer_id) -> Producer:
    """The producer's row locked (PostgreSQL; on SQLite the transaction holds the write lock): its list changes in turn."""
    producer = get_producer(actor, producer_id)
    return db.session.get(Producer, producer.id, with_for_update=True, populate_existing=True)


def add_household(actor, producer_id, *, name, town, village, registry_number, links, share_pct=None, reason=None):
    """List a poor household linked to a cooperative or enterprise (operators: these are vetted facts).

    :param links: one or more of wages, purchase, dividend.
    :param share_pct: its agreed share of the producer's income in whole percent, optional (none: an equal split).
    :raises Forbidden: the actor is not an operator.
    :raises NotFound: no such producer.
    :raises Conflict: the producer is a household itself.
    :raises ValidationFailed: every wrong field at once; the same registry number twice; shares above 100 %.
    """
    require_operator(actor)
    producer = get_producer(actor, producer_id)
    if producer.kind == "household":
        raise Conflict(_("Only cooperatives and enterprises have linked households."))
    errors = {}
    clean = {
        "name": plain(errors, "name", name, required_message=_("Enter the head of household's name."), max_length=NAME_MAX),
        "town": plain(errors, "town", town, required_message=_("Enter the town."), max_length=TOWN_MAX),
        "village": plain(errors, "village", village, required_message=_("Enter the village."), max_length=VILLAGE_MAX),
        "registry_number": plain(
            errors,
            "registry_number",
            registry_number,
            required_message=_("Enter the household's poverty registry number."),
            max_length=40,
        ),
        "links": clean_links(errors, links),
    }
    if clean["registry_number"] and not REGISTRY_RE.match(clean["registry_number"]):
        errors["registry_number"] = [_("Use 4 to 40 letters, digits or dashes.")]
    share = None
    if share_pct not in (None, ""):
        share = whole_number(share_pct)
        if share is None or not 0 < share <= 100:
            errors["share_pct"] = [_("Enter a whole percentage from 1 to 100, or leave it empty for an equal split.")]
            share = None
    reason = plain(errors, "reason", reason, max_length=REASON_MAX)
    raise_if(errors)
    with transaction(write=True):
        producer = _locked_producer(actor, producer.id)
        listed = db.session.scalars(sa.select(LinkedHousehold).where(LinkedHousehold.producer_id == producer.id)).all()
        if any(h.registry_number == clean["registry_number"] for h in listed):
            raise_if({"registry_number": [_("This household is already listed.")]})
        if share is not None and sum(h.share_pct or 0 for h in listed) + share > 100:
            raise_if({"share_pct": [_("The agreed shares would add up to more than 100%.")]})
        household = LinkedHousehold(producer_id=producer.id, share_pct=share, **clean)
        db.session.add(household)
        db.session.flush()
        count = _sync_count(producer)
        record_audit(
            actor,
            "producer.household.add",
            producer,
            reason=reason,
            household_id=household.id,
            registry_number=household.registry_number,
            links=household.links,
            share_pct=share,
            linked_households=count,
        )
    db.session.expire(producer, ["households"])
    return household


def remove_household(actor, producer_id, household_id, *, reason) -> None:
    """Take a household off a producer's list (no longer linked, or listed by mistake); a reason is required.

    When the last one goes, the count stays as it was until an operator changes it.
    :raises Forbidden: the actor is not an operator.
    :raises NotFound: no such producer or household.
    :raises ValidationFailed: no reason.
    """
    require_operator(actor)
    producer = get_producer(actor, producer_id)
    errors = {}
    reason = plain(errors, "reason", reason, required_message=_("Say why, for the audit log."), max_length=REASON_MAX)
    raise_if(errors)
    with transaction(write=True):
        producer = _locked_producer(actor, producer.id)
        household = db.session.get(LinkedHousehold, household_id) if whole_number(household_id) is not None else None
        if household is None or household.producer_id != producer.id:
            raise NotFound(_("No such household."))
        record_audit(
            actor,
            "producer.household.remove",
            producer,
            reason=reason,
            household_id=household.id,
            registry_number=household.registry_number,
        )
        db.session.delete(household)
        db.session.flush()
        _sync_count(producer)
    db.session.expire(producer, ["households"])


def listed_count(producer) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LinkedHousehold).where(LinkedHousehold.producer_id == producer.id)
    )
