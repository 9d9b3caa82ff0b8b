"""Group orders of a work unit: the coordinator's sheet and grid, the unit's overview, distribution list and payments.

A coordinator orders for colleagues who need no account. Such orders belong to the unit, record the
coordinator as ``placed_by`` and obey capacity and per-buyer limits like any order, because every one
of them is written by ``orders.services.reserve_and_write_order``.

A sheet (or a grid of rows) goes in whole or not at all:

1. the file is read and every row checked without touching the database (``orders.sheets``);
2. one transaction locks the campaign (and, on PostgreSQL, this unit's sheet for this campaign), checks
   per-buyer limits and what is left of each item counting the whole sheet, and reports every problem
   at once; then
3. the unit's previous sheet is replaced: people whose lines did not change keep their order (and any
   payment recorded for it); the others' orders are cancelled and their capacity released; new orders
   are written one per person; one commit. Any failure rolls everything back, naming the row.
"""

import hashlib
import zlib
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from accounts.models import Unit, User
from accounts.services import normalize_phone, record_audit
from database import utcnow
from errors import (
    Conflict,
    Forbidden,
    InsufficientStock,
    InvalidSheet,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from extensions import db
from orders.models import PAYMENT_METHODS, GroupSheet, Order, OrderLine
from orders.services import lock_buyer, lock_open_campaign, nudge_worker, reserve_and_write_order
from shop import services as shop_services
from shop.models import Campaign, CampaignItem
from units import sheets

_item_table = CampaignItem.__table__
_order_table = Order.__table__
_line_table = OrderLine.__table__
PHONE_CHUNK = 500  # phones per IN (...) query: well under SQLite's parameter limit
MAX_GRID_ROWS = 50


# ---------------------------------------------------------------- who may do what


def require_coordinator(user) -> None:
    """:raises Forbidden: the user is not a unit's coordinator."""
    if not user.is_coordinator:
        raise Forbidden(_("Only a unit's coordinator may do this."))


def coordinator_campaign(user, campaign_id) -> Campaign:
    """A campaign the coordinator's unit may order in.

    :raises Forbidden: not a coordinator.
    :raises NotFound: no such campaign, a draft, or one not open to the unit.
    """
    require_coordinator(user)
    return shop_services.get_visible_campaign(user, campaign_id)


def visible_unit(user, unit_id) -> Unit:
    """A unit whose orders the user may see: their own as its coordinator, any as an operator.

    :raises Forbidden: neither a coordinator nor an operator.
    :raises NotFound: no such unit, or another unit (for a coordinator).
    """
    if user.role != "operator":
        require_coordinator(user)
        if unit_id != user.unit_id:
            raise NotFound(_("No such unit."))
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(_("No such unit."))
    return unit


def unit_order(user, order_id) -> Order:
    """An order of the user's unit (coordinator) or any order (operator).

    :raises Forbidden: neither a coordinator nor an operator.
    :raises NotFound: no such order, or another unit's.
    """
    if user.role != "operator":
        require_coordinator(user)
    order = db.session.get(Order, order_id)
    if order is None or (user.role != "operator" and order.unit_id != user.unit_id):
        raise NotFound(_("No such order."))
    return order


# ---------------------------------------------------------------- items


def campaign_items(campaign_id) -> list[CampaignItem]:
    return db.session.scalars(
        sa.select(CampaignItem)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(CampaignItem.position, CampaignItem.id)
        .execution_options(populate_existing=True)
    ).all()


def item_columns(items) -> list[sheets.ItemColumn]:
    return [
        sheets.ItemColumn(
            id=item.id,
            title=item.title,
            unit=item.unit,
            price_fen=item.price_fen,
            per_buyer_limit=item.per_buyer_limit,
            withdrawn=item.cancelled_below_minimum,
        )
        for item in items
    ]


# ---------------------------------------------------------------- the template


def sheet_template(user, campaign_id) -> tuple[str, bytes]:
    """The xlsx a coordinator fills in for a campaign: (file name, bytes).

    :raises Forbidden, NotFound: see coordinator_campaign.
    """
    from presentation import local_date, local_datetime

    campaign = coordinator_campaign(user, campaign_id)
    columns = item_columns(campaign_items(campaign.id))
    instructions = [
        _("Orders close at %(time)s; delivery on %(date)s.", time=local_datetime(campaign.closes_at), date=local_date(campaign.delivery_on)),
        _("One row a person: name, 11-digit mobile phone, and how many of each item (leave blank for none)."),
        _("Colleagues need no account; the same phone may appear only once."),
        _("Type numbers, not formulas; do not rename the item columns. A note goes in the last column."),
        _("Save as .xlsx (or as CSV UTF-8) and upload it on the unit page. Uploading again replaces the previous sheet."),
    ]
    data = sheets.template_xlsx(campaign, columns, instructions)
    return f"pinbang-sheet-{campaign.id}.xlsx", data


# ---------------------------------------------------------------- checking a sheet against the campaign


@dataclass
class PersonChange:
    """What a sheet does to one person's order: added, changed, removed or unchanged."""

    kind: str
    name: str
    phone: str
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    before_fen: int = 0
    after_fen: int = 0
    was_paid: bool = False
    order_id: int | None = None


@dataclass
class Plan:
    """A checked sheet, ready to be written in the transaction that checked it."""

    campaign: Campaign
    items: list
    rows: list
    skipped: int
    previous: GroupSheet | None
    previous_orders: dict  # phone → Order of the previous sheet
    changes: list
    filename: str = ""

    @property
    def added(self):
        return [c for c in self.changes if c.kind == "added"]

    @property
    def changed(self):
        return [c for c in self.changes if c.kind == "changed"]

    @property
    def removed(self):
        return [c for c in self.changes if c.kind == "removed"]

    @property
    def unchanged(self):
        return [c for c in self.changes if c.kind == "unchanged"]

    @property
    def total_fen(self):
        return sum(c.after_fen for c in self.changes)

    @property
    def line_count(self):
        return sum(len(row.quantities) for row in self.rows)

    @property
    def paid_affected(self):
        return [c for c in self.changes if c.was_paid and c.kind in ("changed", "removed")]

    def item_totals(self):
        """[(item, quantity before, quantity after)] for the items this sheet orders or ordered."""
        before, after = defaultdict(int), defaultdict(int)
        for change in self.changes:
            for item_id, quantity in change.before.items():
                before[item_id] += quantity
            for item_id, quantity in change.after.items():
                after[item_id] += quantity
        return [(item, before[item.id], after[item.id]) for item in self.items if before[item.id] or after[item.id]]


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


def _lock_unit_sheet(campaign_id, unit_id) -> None:
    """One sheet import per unit and campaign at a time (PostgreSQL; SQLite writers already take turns)."""
    session = db.session
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"pinbang:group-sheet:{campaign_id}:{unit_id}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _lock_buyers(campaign_id, rows, item_ids) -> None:
    """Take the per-buyer locks the building block will ask for, all now and in key order, before any item lock.

    A single order takes its buyer's lock, then its items; a sheet that took items first and a buyer's lock
    later could wait on that order while it waits on the sheet. Re-taking a lock already held is immediate.
    """
    if not item_ids or db.session.get_bind().dialect.name != "postgresql":
        return
    limited = set(
        db.session.scalars(
            sa.select(CampaignItem.id).where(CampaignItem.id.in_(sorted(item_ids)), CampaignItem.per_buyer_limit.is_not(None))
        )
    )
    phones = {row.phone for row in rows if limited & set(row.quantities)}
    for phone in sorted(phones, key=lambda p: zlib.crc32(p.encode())):
        lock_buyer(campaign_id, phone)


def _lock_items(item_ids) -> None:
    """Lock every item the sheet reserves or releases, in ascending id order, before touching any (PostgreSQL).

    The placement building block updates one order's items in ascending order, but a sheet's rows taken one
    after another would lock them in any order (row 1 wants item 3, row 2 item 1) and could deadlock with a
    single order; taking them all up front, in the same order single orders use, cannot. It also keeps what
    is left of each item as checked until the sheet commits. SQLite writers already take turns.

    FOR NO KEY UPDATE, the lock the capacity UPDATE itself takes: a plain FOR UPDATE would also wait for the
    key-share locks a single order's lines take on their items (foreign key checks) before that order waits
    for a buyer lock this sheet already holds, a deadlock.
    """
    if not item_ids or db.session.get_bind().dialect.name != "postgresql":
        return
    query = sa.select(_item_table.c.id).where(_item_table.c.id.in_(sorted(item_ids))).order_by(_item_table.c.id)
    db.session.execute(query.with_for_update(key_share=True))


def _chunks(values, size=PHONE_CHUNK):
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _held_elsewhere(campaign_id, phones, item_ids, exclude_sheet_id=None) -> dict:
    """{phone: {item_id: quantity}} each person has of ``item_ids`` in live orders outside the sheet being replaced."""
    held = defaultdict(lambda: defaultdict(int))
    if not phones or not item_ids:
        return held
    for chunk in _chunks(phones):
        query = (
            sa.select(_order_table.c.buyer_phone, _line_table.c.item_id, sa.func.sum(_line_table.c.quantity))
            .join(_order_table, _order_table.c.id == _line_table.c.order_id)
            .where(
                _order_table.c.campaign_id == campaign_id,
                _order_table.c.status != "cancelled",
                _order_table.c.buyer_phone.in_(chunk),
                _line_table.c.cancelled.is_(False),
                _line_table.c.item_id.in_(sorted(item_ids)),
            )
            .group_by(_order_table.c.buyer_phone, _line_table.c.item_id)
        )
        if exclude_sheet_id is not None:
            query = query.where(
                sa.or_(_order_table.c.group_sheet_id.is_(None), _order_table.c.group_sheet_id != exclude_sheet_id)
            )
        for phone, item_id, quantity in db.session.execute(query):
            held[phone][item_id] += int(quantity)
    return held


def _live_lines(order) -> dict:
    return {line.item_id: line.quantity for line in order.lines if not line.cancelled}


def _amount(quantities, prices) -> int:
    return sum(prices[item_id] * quantity for item_id, quantity in quantities.items())


def _column_positions(columns, headers) -> dict:
    """{item_id: (heading, index)} for naming an item's column in a problem."""
    return {role[1]: (headers[index], index) for index, role in columns.items() if isinstance(role, tuple)}


def _invalid(problems):
    problems = sheets.sort_problems(problems)
    return InvalidSheet(
        _("The sheet was not imported: %(n)d problem(s) found. Nothing was saved; correct them and upload again.", n=len(problems)),
        problems,
    )


def _read_sheet(campaign, file, filename=None, limits=sheets.LIMITS):
    """Read and check a file's rows, no database writes; returns (items, table, columns, parsed).

    :raises InvalidSheet, UploadTooLarge: see units.sheets.
    """
    data, upload_name = sheets.read_upload(file, limits)
    filename = filename or upload_name
    table = sheets.read_table(data, filename, limits)
    items = campaign_items(campaign.id)
    cols = item_columns(items)
    columns, problems = sheets.map_columns(table.headers, cols)
    if any(p["column"] is None for p in problems):
        # Without a name or phone column the rows cannot be read at all.
        raise _invalid(problems + table.problems)
    parsed = sheets.parse_rows(table, columns, cols, normalize_phone)
    parsed.problems = problems + parsed.problems
    return items, table, columns, parsed, filename


def _plan(coordinator, campaign, items, rows, skipped, problems, positions, *, replace, filename="") -> Plan:
    """Inside the write transaction: lock, check limits and capacity against the database, diff with the previous sheet.

    :param replace: True for a sheet (replaces the unit's previous sheet); False for grid rows (only adds orders).
    :raises CampaignNotOpen, Forbidden, NotFound: see orders.services.lock_open_campaign.
    :raises InvalidSheet: every problem found, parsing included.
    """
    unit_id = coordinator.unit_id
    lock_open_campaign(campaign.id, unit_id)
    _lock_unit_sheet(campaign.id, unit_id)
    previous, previous_orders = None, {}
    if replace:
        previous = db.session.scalar(
            sa.select(GroupSheet)
            .where(GroupSheet.campaign_id == campaign.id, GroupSheet.unit_id == unit_id, GroupSheet.replaced_at.is_(None))
            .order_by(GroupSheet.id.desc())
            .execution_options(populate_existing=True)
        )
        if previous is not None:
            for order in db.session.scalars(
                sa.select(Order)
                .where(Order.group_sheet_id == previous.id, Order.status != "cancelled")
                .options(selectinload(Order.lines))
                .order_by(Order.id)
                .execution_options(populate_existing=True)
            ):
                previous_orders[order.buyer_phone] = order
    touched = {item_id for row in rows for item_id in row.quantities}
    touched |= {line.item_id for order in previous_orders.values() for line in order.lines}
    _lock_buyers(campaign.id, rows, touched)
    _lock_items(touched)
    items = campaign_items(campaign.id)  # re-read under the locks: capacity and ordered as of now
    cols = item_columns(items)
    prices = {item.id: item.price_fen for item in items}
    released = defaultdict(int)
    for order in previous_orders.values():
        for item_id, quantity in _live_lines(order).items():
            released[item_id] += quantity
    remaining = {item.id: item.capacity - item.ordered + released[item.id] for item in items}
    phones = {row.phone for row in rows}
    limited = {item.id for item in items if item.per_buyer_limit}
    held = _held_elsewhere(campaign.id, phones, limited, previous.id if previous else None)
    problems = list(problems)
    if not replace:
        for phone, order_row in _existing_unit_orders(campaign.id, unit_id, phones).items():
            row = next(r for r in rows if r.phone == phone)
            label, index = positions.get("phone", (None, None))
            problems.append(
                sheets.problem(
                    row.row,
                    label,
                    _(
                        "%(name)s already has order %(id)d in this campaign; change that order instead.",
                        name=row.name,
                        id=order_row,
                    ),
                )
            )
    problems += sheets.check_limits_and_capacity(rows, cols, held, remaining, positions.get("items", {}))
    if problems:
        raise _invalid(problems)
    if not rows and not previous_orders:
        raise _invalid([sheets.problem(None, None, _("The sheet lists nobody with a quantity above zero."))])
    changes = []
    for row in rows:
        old = previous_orders.get(row.phone)
        if old is None:
            changes.append(PersonChange("added", row.name, row.phone, after=row.quantities, after_fen=_amount(row.quantities, prices)))
            continue
        before = _live_lines(old)
        same = before == row.quantities and old.buyer_name == row.name and (old.note or None) == (row.note or None)
        changes.append(
            PersonChange(
                "unchanged" if same else "changed",
                row.name,
                row.phone,
                before=before,
                after=row.quantities,
                before_fen=old.total_fen,
                after_fen=old.total_fen if same else _amount(row.quantities, prices),
                was_paid=old.payment_status == "paid",
                order_id=old.id,
            )
        )
    listed = {row.phone for row in rows}
    for phone, old in previous_orders.items():
        if phone not in listed:
            changes.append(
                PersonChange(
                    "removed",
                    old.buyer_name,
                    phone,
                    before=_live_lines(old),
                    before_fen=old.total_fen,
                    was_paid=old.payment_status == "paid",
                    order_id=old.id,
                )
            )
    return Plan(campaign, items, rows, skipped, previous, previous_orders, changes, filename)


def _existing_unit_orders(campaign_id, unit_id, phones) -> dict:
    """{phone: order id} of live orders the unit already has in the campaign for these people."""
    found = {}
    for chunk in _chunks(phones):
        for phone, order_id in db.session.execute(
            sa.select(Order.buyer_phone, sa.func.min(Order.id))
            .where(Order.campaign_id == campaign_id, Order.unit_id == unit_id, Order.status != "cancelled", Order.buyer_phone.in_(chunk))
            .group_by(Order.buyer_phone)
        ):
            found[phone] = order_id
    return found


def _sheet_positions(table, columns):
    items = _column_positions(columns, table.headers)
    phone = next(((table.headers[i], i) for i, role in columns.items() if role == "phone"), (None, None))
    return {"items": items, "phone": phone}


def preview_sheet(coordinator, campaign_id, file, filename=None, limits=sheets.LIMITS) -> Plan:
    """What importing this sheet would do (who is added, changed, removed), without saving anything.

    :raises Forbidden, NotFound: see coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises UploadTooLarge, InvalidSheet: a file too large, unreadable or hostile; every row problem at once.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    items, table, columns, parsed, filename = _read_sheet(campaign, file, filename, limits)
    try:
        return _plan(
            coordinator,
            campaign,
            items,
            parsed.rows,
            parsed.skipped,
            parsed.problems,
            _sheet_positions(table, columns),
            replace=True,
            filename=filename,
        )
    finally:
        db.session.rollback()


def import_sheet(coordinator, campaign_id, file, filename=None, limits=sheets.LIMITS) -> SheetResult:
    """Import a unit's sign-up sheet in one transaction, replacing the unit's previous sheet for the campaign.

    People whose name, lines and note did not change keep their order (and its payment record); the
    orders of people changed or no longer listed are cancelled and their capacity released; everyone
    else gets a new order (source "sheet", placed by the coordinator, belonging to the unit).
    :param file: an uploaded file (werkzeug FileStorage), a file object or bytes.
    :raises Forbidden, NotFound: see coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises UploadTooLarge, InvalidSheet: nothing is saved; InvalidSheet lists every problem by row and column.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    items, table, columns, parsed, filename = _read_sheet(campaign, file, filename, limits)
    try:
        plan = _plan(
            coordinator,
            campaign,
            items,
            parsed.rows,
            parsed.skipped,
            parsed.problems,
            _sheet_positions(table, columns),
            replace=True,
            filename=filename,
        )
        result = _write_sheet(coordinator, plan, _sheet_positions(table, columns))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    nudge_worker()
    return result


def _release(order, reason) -> None:
    """Cancel one order in the current transaction and give its capacity back (items in ascending id order)."""
    live = sorted((line for line in order.lines if not line.cancelled), key=lambda line: line.item_id)
    for line in live:
        db.session.execute(
            sa.update(_item_table)
            .where(_item_table.c.id == line.item_id, _item_table.c.ordered >= line.quantity)
            .values(ordered=_item_table.c.ordered - line.quantity)
        )
        line.cancelled, line.cancel_reason = True, reason
    order.status, order.cancelled_at, order.total_fen = "cancelled", utcnow(), 0


def _write_orders(coordinator, plan, rows, *, source, group_sheet_id, positions) -> list[Order]:
    """One order per row through the shared placement building block; a failure names its row."""
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
            # Checked a moment ago; only a concurrent order can get here. The caller rolls everything back.
            item_id = error.details.get("item_id") if isinstance(error.details, dict) else None
            label = positions.get("items", {}).get(item_id, (None, None))[0]
            raise _invalid([sheets.problem(row.row, label, error.message)]) from None
        written.append(order)
    _notify_colleagues(coordinator, plan.campaign, written, colleagues)
    return written


def _write_sheet(coordinator, plan, positions) -> SheetResult:
    sheet = GroupSheet(
        campaign_id=plan.campaign.id,
        unit_id=coordinator.unit_id,
        uploaded_by_id=coordinator.id,
        filename=(plan.filename or "sheet")[:255],
        rows=len(plan.rows),
    )
    db.session.add(sheet)
    db.session.flush()
    keep = {c.phone for c in plan.unchanged}
    for phone, order in plan.previous_orders.items():
        if phone in keep:
            order.group_sheet_id = sheet.id
        else:
            _release(order, "sheet_replaced")
            record_audit(coordinator, "order.cancel", order, on_behalf_of=order.buyer_name, reason="sheet_replaced")
    if plan.previous is not None:
        plan.previous.replaced_at = utcnow()
    db.session.flush()
    to_write = [row for row in plan.rows if row.phone not in keep]
    written = _write_orders(coordinator, plan, to_write, source="sheet", group_sheet_id=sheet.id, positions=positions)
    record_audit(
        coordinator,
        "group_sheet.import",
        sheet,
        filename=sheet.filename,
        rows=len(plan.rows),
        added=len(plan.added),
        changed=len(plan.changed),
        removed=len(plan.removed),
        unchanged=len(plan.unchanged),
        replaced_sheet_id=plan.previous.id if plan.previous else None,
    )
    kept_ids = [plan.previous_orders[phone].id for phone in sorted(keep)]
    return SheetResult(
        orders=len(plan.rows),
        lines=plan.line_count,
        total_fen=plan.total_fen,
        sheet_id=sheet.id,
        replaced_sheet_id=plan.previous.id if plan.previous else None,
        added=len(plan.added),
        changed=len(plan.changed),
        removed=len(plan.removed),
        unchanged=len(plan.unchanged),
        skipped=plan.skipped,
        order_ids=sorted([order.id for order in written] + kept_ids),
    )


def _colleagues(unit_id, phones) -> dict:
    """{phone: User} for the people of the sheet who have an account in the unit."""
    found = {}
    for chunk in _chunks(phones):
        for user in db.session.scalars(sa.select(User).where(User.unit_id == unit_id, User.phone.in_(chunk), User.active.is_(True))):
            found[user.phone] = user
    return found


def _notify_colleagues(coordinator, campaign, orders, colleagues) -> None:
    """Tell colleagues with an account that the coordinator ordered for them (not the coordinator themselves)."""
    from notifications.services import queue_notification
    from presentation import local_date, yuan

    for order in orders:
        user = colleagues.get(order.buyer_phone)
        if user is None or user.id == coordinator.id:
            continue
        with force_locale(user.locale or "zh_CN"):
            separator = _("; ")
            lines = separator.join(f"{line.item.title} × {line.quantity}{line.item.unit}" for line in order.lines if not line.cancelled)
            title = _("%(coordinator)s pre-ordered for you", coordinator=coordinator.name)
            body = _(
                "%(campaign)s: %(lines)s. Total %(total)s, paid to your unit's coordinator. Delivery on %(date)s.",
                campaign=campaign.title,
                lines=lines,
                total=yuan(order.total_fen),
                date=local_date(campaign.delivery_on),
            )
        queue_notification(kind="group_order_placed", subject=f"order:{order.id}:placed", title=title, body=body, user=user)


# ---------------------------------------------------------------- the coordinator's grid


@dataclass
class GridRow:
    """One row typed into the grid page."""

    name: str = ""
    phone: str = ""
    quantities: dict = field(default_factory=dict)  # item_id → raw text
    note: str = ""

    def is_blank(self):
        return not (self.name.strip() or self.phone.strip() or self.note.strip() or any(str(v).strip() for v in self.quantities.values()))


def enter_orders(coordinator, campaign_id, grid_rows) -> SheetResult:
    """Orders for colleagues typed into the grid, written all together or not at all (one order a row).

    Each row is checked like a sheet row; a colleague who already has an order of the unit in this
    campaign is refused (change that order instead), so the grid never doubles an order.
    :param grid_rows: GridRow objects; blank rows are ignored.
    :raises Forbidden, NotFound: see coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises InvalidSheet: every problem, by grid row and column.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    items = campaign_items(campaign.id)
    cols = item_columns(items)
    headers = [_("Full name"), _("Mobile phone"), *(item.title for item in items), _("Notes")]
    columns = {0: "name", 1: "phone", len(headers) - 1: "note"}
    for offset, item in enumerate(items, start=2):
        columns[offset] = ("item", item.id)
    table = sheets.Table("grid", headers, [])
    for number, grid_row in enumerate(grid_rows[:MAX_GRID_ROWS], start=1):
        if grid_row.is_blank():
            continue
        values = [grid_row.name, grid_row.phone, *(grid_row.quantities.get(item.id) or None for item in items), grid_row.note]
        table.rows.append((number, values))
    if not table.rows:
        raise _invalid([sheets.problem(None, None, _("Fill in at least one row: a name, a phone and a quantity."))])
    parsed = sheets.parse_rows(table, columns, cols, normalize_phone)
    positions = {"items": _column_positions(columns, headers), "phone": (headers[1], 1)}
    try:
        plan = _plan(coordinator, campaign, items, parsed.rows, parsed.skipped, parsed.problems, positions, replace=False)
        written = _write_orders(coordinator, plan, plan.rows, source="coordinator", group_sheet_id=None, positions=positions)
        for order in written:
            record_audit(coordinator, "order.place", order, on_behalf_of=order.buyer_name, source="coordinator")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    nudge_worker()
    return SheetResult(
        orders=len(written),
        lines=sum(len(order.lines) for order in written),
        total_fen=sum(order.total_fen for order in written),
        added=len(written),
        skipped=parsed.skipped,
        order_ids=[order.id for order in written],
    )


# ---------------------------------------------------------------- the unit's orders


def current_sheet(campaign_id, unit_id) -> GroupSheet | None:
    return db.session.scalar(
        sa.select(GroupSheet)
        .where(GroupSheet.campaign_id == campaign_id, GroupSheet.unit_id == unit_id, GroupSheet.replaced_at.is_(None))
        .order_by(GroupSheet.id.desc())
    )


@dataclass
class Person:
    """Everything one person of the unit ordered in a campaign (usually one order; more if they also ordered themselves)."""

    campaign_id: int
    name: str
    phone: str
    orders: list = field(default_factory=list)
    quantities: dict = field(default_factory=dict)
    due_fen: int = 0
    paid_fen: int = 0

    @property
    def outstanding_fen(self):
        return self.due_fen - self.paid_fen

    @property
    def payment_status(self):
        if self.due_fen and self.paid_fen >= self.due_fen:
            return "paid"
        return "partly_paid" if self.paid_fen else "unpaid"


@dataclass
class UnitOrders:
    unit: Unit
    campaign: Campaign | None
    items: list
    people: list
    item_totals: list  # [(item, quantity, amount_fen)]
    due_fen: int
    collected_fen: int
    sheet: GroupSheet | None = None

    @property
    def outstanding_fen(self):
        return self.due_fen - self.collected_fen

    @property
    def orders(self):
        return [order for person in self.people for order in person.orders]

    @property
    def unpaid_people(self):
        return [person for person in self.people if person.outstanding_fen > 0]


def order_amount(order) -> int:
    """What an order costs now: its live lines at their snapshot prices (cancelled lines never count)."""
    return sum(line.quantity * line.price_fen for line in order.lines if not line.cancelled)


def unit_orders(user, unit_id, campaign_id=None, unpaid_only=False) -> UnitOrders:
    """The unit's live orders grouped per person, totals per item, and money due against collected.

    :param campaign_id: one campaign (None: every campaign, people then per campaign).
    :param unpaid_only: only people who still owe something.
    :raises Forbidden, NotFound: see visible_unit; NotFound also for a campaign the unit may not see.
    """
    unit = visible_unit(user, unit_id)
    campaign = None
    if campaign_id is not None:
        campaign = shop_services.get_visible_campaign(user, campaign_id)
    query = (
        sa.select(Order)
        .where(Order.unit_id == unit.id, Order.status != "cancelled")
        .options(selectinload(Order.lines).selectinload(OrderLine.item))
        .order_by(Order.campaign_id, Order.buyer_name, Order.buyer_phone, Order.id)
    )
    if campaign is not None:
        query = query.where(Order.campaign_id == campaign.id)
    people, per_item = {}, {}
    due = collected = 0
    for order in db.session.scalars(query):
        lines = [line for line in order.lines if not line.cancelled]
        if not lines:
            continue
        person = people.get((order.campaign_id, order.buyer_phone))
        if person is None:
            person = people[(order.campaign_id, order.buyer_phone)] = Person(order.campaign_id, order.buyer_name, order.buyer_phone)
        person.orders.append(order)
        amount = order_amount(order)
        person.due_fen += amount
        due += amount
        if order.payment_status == "paid":
            person.paid_fen += amount
            collected += amount
        for line in lines:
            person.quantities[line.item_id] = person.quantities.get(line.item_id, 0) + line.quantity
            entry = per_item.setdefault(line.item_id, [line.item, 0, 0])
            entry[1] += line.quantity
            entry[2] += line.quantity * line.price_fen
    items = campaign_items(campaign.id) if campaign is not None else sorted({e[0] for e in per_item.values()}, key=lambda i: (i.campaign_id, i.position, i.id))
    item_totals = [(item, per_item[item.id][1], per_item[item.id][2]) for item in items if item.id in per_item]
    listed = sorted(people.values(), key=lambda p: (p.campaign_id, p.name, p.phone))
    if unpaid_only:
        listed = [person for person in listed if person.outstanding_fen > 0]
    sheet = current_sheet(campaign.id, unit.id) if campaign is not None else None
    return UnitOrders(unit, campaign, items, listed, item_totals, due, collected, sheet)


def unit_campaigns(coordinator) -> list[dict]:
    """Campaigns open to the coordinator's unit, newest first, with the unit's order count and money due in each."""
    require_coordinator(coordinator)
    campaigns = shop_services.visible_campaigns(coordinator)
    amount = OrderLine.quantity * OrderLine.price_fen
    counts = {
        campaign_id: (orders, people, int(due or 0))
        for campaign_id, orders, people, due in db.session.execute(
            sa.select(
                Order.campaign_id,
                sa.func.count(sa.distinct(Order.id)),
                sa.func.count(sa.distinct(Order.buyer_phone)),
                sa.func.sum(amount),
            )
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.unit_id == coordinator.unit_id, Order.status != "cancelled", OrderLine.cancelled.is_(False))
            .group_by(Order.campaign_id)
        )
    }
    return [
        {
            "campaign": campaign,
            "phase": shop_services.campaign_phase(campaign),
            "orders": counts.get(campaign.id, (0, 0, 0))[0],
            "people": counts.get(campaign.id, (0, 0, 0))[1],
            "due_fen": counts.get(campaign.id, (0, 0, 0))[2],
        }
        for campaign in campaigns
    ]


# ---------------------------------------------------------------- distribution list


def distribution_xlsx(overview: UnitOrders) -> tuple[str, bytes]:
    """The delivery-day list as xlsx: one row a person, one column an item, amount and payment; text stays text."""
    from presentation import local_date

    campaign, unit = overview.campaign, overview.unit
    items = [item for item, _quantity, _amount in overview.item_totals]
    heading = [
        (_("Campaign"), campaign.title),
        (_("Work unit"), unit.name),
        (_("Delivery address"), unit.address),
        (_("Delivery on"), local_date(campaign.delivery_on)),
    ]
    columns = [
        _("No."),
        _("Full name"),
        _("Mobile phone"),
        *(f"{item.title} ({item.unit})" for item in items),
        _("Amount (yuan)"),
        _("Paid"),
        _("Received (signature)"),
    ]
    rows = []
    for number, person in enumerate(overview.people, start=1):
        rows.append(
            [
                number,
                person.name,
                person.phone,
                *(person.quantities.get(item.id) or None for item in items),
                sheets.yuan_value(person.due_fen),
                _payment_label(person.payment_status),
                "",
            ]
        )
    totals = [_("Total"), "", "", *(quantity for _item, quantity, _amount in overview.item_totals), sheets.yuan_value(overview.due_fen)]
    data = sheets.distribution_xlsx(heading, columns, rows, totals)
    return f"pinbang-distribution-{campaign.id}-{unit.id}.xlsx", data


def _payment_label(status):
    return {"paid": _("paid"), "partly_paid": _("partly paid"), "unpaid": _("unpaid")}.get(status, status)


# ---------------------------------------------------------------- payments


def record_payment(user, order_id, method) -> Order:
    """Mark an order paid (cash or transfer), recording who recorded it and when. Marking it again with the same
    method changes nothing.

    :raises Forbidden, NotFound: see unit_order.
    :raises ValidationFailed: an unknown method.
    :raises Conflict: the order is cancelled.
    """
    order = unit_order(user, order_id)
    if method not in PAYMENT_METHODS:
        raise ValidationFailed(_("Choose how it was paid."), {"method": [_("Choose cash or transfer.")]})
    if order.status == "cancelled":
        raise Conflict(_("This order is cancelled; there is nothing to pay."))
    if order.payment_status == "paid" and order.payment_method == method:
        return order
    try:
        order.payment_status, order.payment_method = "paid", method
        order.paid_at, order.payment_recorded_by_id = utcnow(), user.id
        record_audit(user, "order.paid", order, on_behalf_of=order.buyer_name, method=method, amount_fen=order_amount(order))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return order


def clear_payment(user, order_id) -> Order:
    """Undo a payment recorded by mistake: the order is unpaid again (the audit log keeps both steps).

    :raises Forbidden, NotFound: see unit_order.
    """
    order = unit_order(user, order_id)
    if order.payment_status != "paid":
        return order
    try:
        order.payment_status, order.payment_method, order.paid_at, order.payment_recorded_by_id = "unpaid", None, None, None
        record_audit(user, "order.unpaid", order, on_behalf_of=order.buyer_name)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return order


def recorded_by_names(orders) -> dict:
    """{user id: name} of whoever recorded these orders' payments."""
    ids = {order.payment_recorded_by_id for order in orders if order.payment_recorded_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(sorted(ids)))).all())

