"""A unit's yearly target for consumption-aid purchases, and how far it has come: never a person's quota.

The rules ask each budget unit to reserve a share of its canteen's food budget, and its trade union a share of its
welfare budget, for goods from poverty areas. Progress counts the unit's orders by the year their goods are
delivered: pledged (ordered, not cancelled) and completed (delivery.outcomes: delivered, paid, less refunds) apart. Only unit totals leave this
module; nobody's own purchases do.
"""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from accounts.services import record_audit
from database import local_today, transaction
from delivery.outcomes import line_outcomes
from errors import NotFound, ValidationFailed
from extensions import db
from orders.models import Order
from shop.models import Campaign, CampaignStatus
from units.access import visible_unit
from units.models import UnitTarget

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_BUDGET_FEN = 10**13  # ¥100 billion: anything above is a typo
FIELDS = ("canteen_budget_fen", "canteen_share_pct", "union_budget_fen", "union_share_pct")


@dataclass(frozen=True)
class Progress:
    unit: Unit
    year: int
    target: UnitTarget | None
    target_fen: int
    pledged_fen: int
    completed_fen: int
    expected_pct: int  # how far through the year the unit should be by now

    @property
    def completed_pct(self) -> int | None:
        return round(100 * self.completed_fen / self.target_fen) if self.target_fen else None

    @property
    def lagging(self) -> bool:
        return bool(self.target_fen) and self.completed_pct < self.expected_pct


def _clean(year, values) -> dict:
    errors = {}
    if not isinstance(year, int) or not EARLIEST_YEAR <= year <= LATEST_YEAR:
        errors["year"] = [_("Enter a year between %(a)d and %(b)d.", a=EARLIEST_YEAR, b=LATEST_YEAR)]
    cleaned = {}
    for name in FIELDS:
        value = values.get(name)
        limit = 100 if name.endswith("_pct") else MAX_BUDGET_FEN
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
            message = _("Enter a share from 0 to 100.") if limit == 100 else _("Enter an amount of at least 0.")
            errors[name] = [message]
        cleaned[name] = value
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return cleaned


def set_target(actor, unit_id, year, **values) -> Progress:
    """Record a unit's target for a year (its coordinator, or an operator); a second call replaces the first.

    :raises NotFound, Forbidden: see units.access.visible_unit.
    :raises ValidationFailed: a year out of range, a negative budget, a share outside 0–100.
    """
    unit = visible_unit(actor, unit_id)
    cleaned = _clean(year, values)
    with transaction(write=True):
        target = db.session.scalar(sa.select(UnitTarget).where(UnitTarget.unit_id == unit.id, UnitTarget.year == year))
        if target is None:
            target = UnitTarget(unit_id=unit.id, year=year)
            db.session.add(target)
        for name, value in cleaned.items():
            setattr(target, name, value)
        target.updated_by_id = actor.id
        db.session.flush()
        record_audit(actor, "unit.target.set", target, unit_id=unit.id, year=year, **cleaned)
    return unit_progress(actor, unit.id, year)


def unit_progress(actor, unit_id, year) -> Progress:
    """One unit's target and progress for a year, for its coordinator or an operator.

    :raises NotFound: a year out of range (or see units.access.visible_unit).
    """
    unit = visible_unit(actor, unit_id)
    if not isinstance(year, int) or not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise NotFound(_("Targets are kept for the years %(a)d to %(b)d.", a=EARLIEST_YEAR, b=LATEST_YEAR))
    return progress_of_units([unit], year)[0]


def progress_of_units(units, year, today=None, every_unit=False) -> list[Progress]:
    """Targets and progress of many units at once: one query for the targets, one for the sums.

    :param every_unit: ``units`` are all of them (the operators' table): the line ledger is then read whole, which
        is cheaper than picking every unit's lines out of it.
    """
    ids = [unit.id for unit in units]
    targets = {
        target.unit_id: target
        for target in db.session.scalars(sa.select(UnitTarget).where(UnitTarget.unit_id.in_(ids), UnitTarget.year == year))
    }
    sums = {row.unit_id: row for row in db.session.execute(_sums(ids, year, every_unit))}
    expected = expected_pct(year, today or local_today())
    return [
        Progress(
            unit=unit,
            year=year,
            target=targets.get(unit.id),
            target_fen=targets[unit.id].target_fen if unit.id in targets else 0,
            pledged_fen=int(sums[unit.id].pledged) if unit.id in sums else 0,
            completed_fen=int(sums[unit.id].completed) if unit.id in sums else 0,
            expected_pct=expected,
        )
        for unit in units
    ]


def _sums(unit_ids, year, every_unit=False):
    """Per unit: its live orders' totals in campaigns delivering that year (pledged), and their completed sales as
    delivery.outcomes.line_outcomes defines them (delivered, paid, less refunds)."""
    lines = line_outcomes(unit_ids=None if every_unit else unit_ids)
    per_order = (
        sa.select(lines.c.order_id, sa.func.sum(lines.c.completed_fen).label("completed_fen"))
        .group_by(lines.c.order_id)
        .subquery()
    )
    return (
        sa.select(
            Order.unit_id,
            sa.func.coalesce(sa.func.sum(Order.total_fen), 0).label("pledged"),
            sa.func.coalesce(sa.func.sum(per_order.c.completed_fen), 0).label("completed"),
        )
        .join(Campaign, Campaign.id == Order.campaign_id)
        .outerjoin(per_order, per_order.c.order_id == Order.id)
        .where(
            Order.unit_id.in_(unit_ids),
            Order.stored_status != "cancelled",
            Campaign.status.not_in([CampaignStatus.DRAFT.value, CampaignStatus.CANCELLED.value]),
            Campaign.delivery_on.between(date(year, 1, 1), date(year, 12, 31)),
        )
        .group_by(Order.unit_id)
    )


def expected_pct(year, today) -> int:
    """How much of a yearly target should be done by ``today``: the share of the year gone (100 for past years)."""
    if year < today.year:
        return 100
    if year > today.year:
        return 0
    days = (date(year, 12, 31) - date(year, 1, 1)).days + 1
    return round(100 * (today - date(year, 1, 1)).days / days)


def all_units_progress(year) -> list[Progress]:
    """Every unit's progress for operators, lagging units first (furthest behind first), then by name."""
    units = db.session.scalars(sa.select(Unit).order_by(Unit.name)).all()
    progress = progress_of_units(units, year, every_unit=True)
    return sorted(progress, key=lambda p: (not p.lagging, p.completed_pct if p.lagging else 0, p.unit.name))


def lagging_units(year) -> list[Progress]:
    """The units behind their target for ``year``, furthest behind first (unit totals only)."""
    return [progress for progress in all_units_progress(year) if progress.lagging]
