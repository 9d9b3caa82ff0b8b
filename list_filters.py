"""The filters of long lists (work unit, producer, town): read from a request once, applied in SQL."""

from dataclasses import asdict, dataclass

import sqlalchemy as sa

from accounts.models import Unit
from extensions import db
from producers.models import Producer

MAX_ID = 2**31 - 1


def _id(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


@dataclass(frozen=True)
class ListFilter:
    """Which rows of a list to show; None: all. A value that is not a valid id or town is ignored, never an error."""

    unit_id: int | None = None
    producer_id: int | None = None
    town: str | None = None

    @classmethod
    def from_args(cls, args) -> "ListFilter":
        town = (args.get("town") or "").strip()[:40] or None
        return cls(unit_id=_id(args.get("unit_id")), producer_id=_id(args.get("producer_id")), town=town)

    def apply(self, query, *, unit=None, producer=None, town=None):
        """``query`` narrowed on the columns given (a list without a unit column is not narrowed by unit)."""
        if self.unit_id is not None and unit is not None:
            query = query.where(unit == self.unit_id)
        if self.producer_id is not None and producer is not None:
            query = query.where(producer == self.producer_id)
        if self.town is not None and town is not None:
            query = query.where(town == self.town)
        return query

    def as_args(self) -> dict:
        """The filter as query arguments, for links that keep it (export buttons)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    def __bool__(self):
        return bool(self.as_args())


def filter_choices() -> dict:
    """What the filter form offers: every unit, producer and town, by name."""
    return {
        "units": db.session.execute(sa.select(Unit.id, Unit.name).order_by(Unit.name, Unit.id)).all(),
        "producers": db.session.execute(sa.select(Producer.id, Producer.name).order_by(Producer.name, Producer.id)).all(),
        "towns": db.session.scalars(
            sa.select(Producer.town).where(Producer.town.is_not(None)).distinct().order_by(Producer.town)
        ).all(),
    }
