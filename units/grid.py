"""The coordinator's grid: colleagues' orders typed in rows on a page, saved all together or not at all."""

from dataclasses import dataclass, field

from flask_babel import gettext as _

import after_commit
from accounts.services import normalize_phone, record_audit
from database import transaction
from units import sheet_rows, sheets
from units.access import coordinator_campaign
from units.campaigns import campaign_items, item_columns
from units.colleague_orders import SheetResult, write_orders
from units.sheet_plan import column_positions, invalid, plan_orders

MAX_GRID_ROWS = 50


@dataclass
class GridRow:
    """One row typed into the grid page."""

    name: str = ""
    phone: str = ""
    quantities: dict = field(default_factory=dict)  # item_id → raw text
    note: str = ""

    def is_blank(self):
        return not (
            self.name.strip() or self.phone.strip() or self.note.strip() or any(str(v).strip() for v in self.quantities.values())
        )


def enter_orders(coordinator, campaign_id, grid_rows) -> SheetResult:
    """Orders for colleagues typed into the grid, written all together or not at all (one order a row).

    Each row is checked like a sheet row; a colleague who already has an order of the unit in this
    campaign is refused (change that order instead), so the grid never doubles an order.
    :param grid_rows: GridRow objects; blank rows are ignored.
    :raises Forbidden, NotFound: see units.access.coordinator_campaign.
    :raises CampaignNotOpen: the campaign does not take orders now.
    :raises InvalidSheet: every problem, by grid row and column.
    """
    campaign = coordinator_campaign(coordinator, campaign_id)
    items = campaign_items(campaign.id)
    table, columns = _as_table(items, grid_rows)
    parsed = sheet_rows.parse_rows(table, columns, item_columns(items), normalize_phone)
    positions = {"items": column_positions(columns, table.headers), "phone": (table.headers[1], 1)}
    with transaction():
        plan = plan_orders(coordinator, campaign, parsed.rows, parsed.skipped, parsed.problems, positions, replace=False)
        written = write_orders(coordinator, plan, plan.rows, source="coordinator", group_sheet_id=None, positions=positions)
        for order in written:
            record_audit(coordinator, "order.place", order, on_behalf_of=order.buyer_name, source="coordinator")
        after_commit.dispatch_notifications()
    return SheetResult(
        orders=len(written),
        lines=sum(len(order.lines) for order in written),
        total_fen=sum(order.total_fen for order in written),
        added=len(written),
        skipped=parsed.skipped,
        order_ids=[order.id for order in written],
    )


def _as_table(items, grid_rows):
    """The grid's non-blank rows as a sheet table (name, phone, a column per item, notes) and its column roles.

    :raises InvalidSheet: every row is blank.
    """
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
        raise invalid([sheets.problem(None, None, _("Fill in at least one row: a name, a phone and a quantity."))])
    return table, columns
