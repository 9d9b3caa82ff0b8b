"""Writing the orders a coordinator places for colleagues, one a person, and telling each person ordered for.

Every order goes through ``orders.services.reserve_and_write_order``, the building block single orders use, so
capacity and per-buyer limits hold the same way; such orders belong to the unit and record the coordinator.
"""

from dataclasses import dataclass, field

from errors import Forbidden, InsufficientStock, LimitExceeded, ValidationFailed
from orders.models import Order
from orders.notices import tell_ordered_for
from orders.services import reserve_and_write_order
from units.sheet_plan import invalid
from units.sheets import problem


@dataclass
class SheetResult:
    """What an import or a grid entry wrote."""

    orders: int
    lines: int
    total_fen: int
    sheet_id: int | None = None
    replaced_sheet_id: int | None = None
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    order_ids: list = field(default_factory=list)


def write_orders(coordinator, plan, rows, *, source, group_sheet_id, positions) -> list[Order]:
    """One order per row through the shared placement building block; a failure names its row.

    Each person ordered for is told, in the same transaction (orders.notices.tell_ordered_for): a colleague
    registered in the unit owns the order and hears it in the app too; anyone else gets an SMS.
    :raises InvalidSheet: a row lost a race with a concurrent order (the caller rolls everything back).
    """
    written = []
    for row in rows:
        person = plan.members.get(row.phone)
        try:
            order = reserve_and_write_order(
                coordinator,
                plan.campaign.id,
                row.quantities,
                buyer_name=row.name,
                buyer_phone=row.phone,
                unit_id=coordinator.unit_id,
                user_id=person.id if person else None,
                source=source,
                note=row.note,
                group_sheet_id=group_sheet_id,
            )
        except (InsufficientStock, LimitExceeded, ValidationFailed, Forbidden) as error:
            # Checked a moment ago; only a concurrent order can get here.
            item_id = error.details.get("item_id") if isinstance(error.details, dict) else None
            label = positions.get("items", {}).get(item_id, (None, None))[0]
            raise invalid([problem(row.row, label, error.message)]) from None
        tell_ordered_for(coordinator, order, person)
        written.append(order)
    return written
