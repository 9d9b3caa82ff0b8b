"""Importing a unit's sign-up sheet: it goes in whole or not at all, replacing the unit's previous sheet.

1. the file is read and every row checked without touching the database (``units.sheets``, ``units.sheet_rows``);
2. one transaction locks the campaign (and, on PostgreSQL, this unit's sheet for this campaign), checks
   per-buyer limits and what is left of each item counting the whole sheet, and reports every problem
   at once (``units.sheet_plan``); then
3. the unit's previous sheet is replaced: people whose lines did not change keep their order (and any
   payment recorded for it); the others' orders are cancelled and their capacity released; new orders
   are written one per person (``units.colleague_orders``); one commit. Any failure rolls everything back,
   naming the row.
"""

import sqlalchemy as sa

import after_commit
from accounts.services import normalize_phone, record_audit
from dashboard.open_figures import count_order, sold_part
from database import transaction, utcnow
from extensions import db
from orders import capacity
from orders.models import GroupSheet
from units import sheet_rows, sheets
from units.access import coordinator_campaign
from units.campaigns import campaign_items, item_columns
from units.colleague_orders import SheetResult, write_orders
from units.sheet_plan import Plan, column_positions, invalid, plan_orders


def current_sheet(campaign_id, unit_id) -> GroupSheet | None:
    """The unit's sheet for the campaign that has not been replaced, if any."""
    return db.session.scalar(
        sa.select(GroupSheet)
        .where(GroupSheet.campaign_id == campaign_id, GroupSheet.unit_id == unit_id, GroupSheet.replaced_at.is_(None))
        .order_by(GroupSheet.id.desc())
    )


def preview_sheet(coordinator, campaign_id, file, filename=None, limits=sheets.LIMITS) -> Plan:
    """What importing this sheet would do (who is added, changed, removed), without saving anything.

    :raises Forbidden, NotFound: see units.access.coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises UploadTooLarge, InvalidSheet: a file too large, unreadable or hostile; every row problem at once.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    parsed, positions, filename = _read_sheet(campaign, file, filename, limits)
    try:
        return plan_orders(
            coordinator, campaign, parsed.rows, parsed.skipped, parsed.problems, positions, replace=True, filename=filename
        )
    finally:
        db.session.rollback()


def import_sheet(coordinator, campaign_id, file, filename=None, limits=sheets.LIMITS) -> SheetResult:
    """Import a unit's sign-up sheet in one transaction, replacing the unit's previous sheet for the campaign.

    People whose name, lines and note did not change keep their order (and its payment record); the
    orders of people changed or no longer listed are cancelled and their capacity released; everyone
    else gets a new order (source "sheet", placed by the coordinator, belonging to the unit).
    :param file: an uploaded file (werkzeug FileStorage), a file object or bytes.
    :raises Forbidden, NotFound: see units.access.coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises UploadTooLarge, InvalidSheet: nothing is saved; InvalidSheet lists every problem by row and column.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    parsed, positions, filename = _read_sheet(campaign, file, filename, limits)
    with transaction():
        plan = plan_orders(
            coordinator, campaign, parsed.rows, parsed.skipped, parsed.problems, positions, replace=True, filename=filename
        )
        result = _write_sheet(coordinator, plan, positions)
        after_commit.dispatch_notifications()
    return result


def _read_sheet(campaign, file, filename, limits):
    """Read and check a file's rows, no database writes; returns (parsed rows, column positions, file name).

    :raises InvalidSheet, UploadTooLarge: see units.sheets.
    """
    data, upload_name = sheets.read_upload(file, limits)
    filename = filename or upload_name
    table = sheets.read_table(data, filename, limits)
    columns_of_items = item_columns(campaign_items(campaign.id))
    columns, problems = sheet_rows.map_columns(table.headers, columns_of_items)
    if any(p["column"] is None for p in problems):
        # Without a name or phone column the rows cannot be read at all.
        raise invalid(problems + table.problems)
    parsed = sheet_rows.parse_rows(table, columns, columns_of_items, normalize_phone)
    parsed.problems = problems + parsed.problems
    phone = next(((table.headers[i], i) for i, role in columns.items() if role == "phone"), (None, None))
    positions = {"items": column_positions(columns, table.headers), "phone": phone}
    return parsed, positions, filename


def _release(order, reason) -> None:
    """Cancel one order in the current transaction and give its capacity back (items in ascending id order)."""
    live, before = [line for line in order.lines if not line.cancelled], sold_part(order)
    capacity.release({line.item_id: line.quantity for line in live})
    for line in live:
        line.cancelled, line.cancel_reason = True, reason
    order.status, order.cancelled_at, order.total_fen = "cancelled", utcnow(), 0
    count_order(order, before)


def _write_sheet(coordinator, plan, positions) -> SheetResult:
    """Replace the previous sheet by this one: keep the unchanged orders, cancel the rest, write the new ones."""
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
    written = write_orders(coordinator, plan, to_write, source="sheet", group_sheet_id=sheet.id, positions=positions)
    counts = {kind: len(getattr(plan, kind)) for kind in ("added", "changed", "removed", "unchanged")}
    replaced_id = plan.previous.id if plan.previous else None
    record_audit(
        coordinator,
        "group_sheet.import",
        sheet,
        filename=sheet.filename,
        rows=len(plan.rows),
        replaced_sheet_id=replaced_id,
        **counts,
    )
    kept_ids = [plan.previous_orders[phone].id for phone in sorted(keep)]
    return SheetResult(
        orders=len(plan.rows),
        lines=plan.line_count,
        total_fen=plan.total_fen,
        sheet_id=sheet.id,
        replaced_sheet_id=replaced_id,
        skipped=plan.skipped,
        order_ids=sorted([order.id for order in written] + kept_ids),
        **counts,
    )
