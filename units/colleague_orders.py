"""Writing the orders a coordinator places for colleagues, one a person, and telling colleagues who have an account.

Every order goes through ``orders.services.reserve_and_write_order``, the building block single orders use, so
capacity and per-buyer limits hold the same way; such orders belong to the unit and record the coordinator.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import force_locale

from accounts.models import User
from errors import Forbidden, InsufficientStock, LimitExceeded, ValidationFailed
from extensions import db
from notifications import messages
from notifications.services import queue_notification
from orders.models import Order
from orders.services import reserve_and_write_order
from units.sheet_plan import in_chunks, invalid
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

    :raises InvalidSheet: a row lost a race with a concurrent order (the caller rolls everything back).
    """
    colleagues = _colleagues(coordinator.unit_id, {row.phone for row in rows})
    written = []
    for row in rows:
        try:
            order = reserve_and_write_order(
                coordinator,
                plan.campaign.id,
                row.quantities,
                buyer_name=row.name,
                buyer_phone=row.phone,
                unit_id=coordinator.unit_id,
                user_id=colleagues[row.phone].id if row.phone in colleagues else None,
                source=source,
                note=row.note,
                group_sheet_id=group_sheet_id,
            )
        except (InsufficientStock, LimitExceeded, ValidationFailed, Forbidden) as error:
            # Checked a moment ago; only a concurrent order can get here.
            item_id = error.details.get("item_id") if isinstance(error.details, dict) else None
            label = positions.get("items", {}).get(item_id, (None, None))[0]
            raise invalid([problem(row.row, label, error.message)]) from None
        written.append(order)
    _notify_colleagues(coordinator, plan.campaign, written, colleagues)
    return written


def _colleagues(unit_id, phones) -> dict:
    """{phone: User} for the people of the sheet who have an account in the unit."""
    found = {}
    for chunk in in_chunks(phones):
        for user in db.session.scalars(
            sa.select(User).where(User.unit_id == unit_id, User.phone.in_(chunk), User.active.is_(True))
        ):
            found[user.phone] = user
    return found


def _notify_colleagues(coordinator, campaign, orders, colleagues) -> None:
    """Tell colleagues with an account that the coordinator ordered for them (not the coordinator themselves)."""
    for order in orders:
        user = colleagues.get(order.buyer_phone)
        if user is None or user.id == coordinator.id:
            continue
        lines = [(line.item.title, line.quantity, line.item.unit) for line in order.lines if not line.cancelled]
        with force_locale(user.locale or "zh_CN"):
            title, body = messages.ordered_for_you(coordinator.name, campaign, lines, order.total_fen)
        queue_notification(kind="group_order_placed", subject=f"order:{order.id}:placed", title=title, body=body, user=user)
