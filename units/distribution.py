"""The delivery-day distribution list as xlsx: one row a person, one column an item, what they owe, a signature box."""

from flask_babel import gettext as _

from measures import yuan_decimal
from presentation import local_date, status_label
from spreadsheets import Sheet, write_workbook
from units.unit_orders import UnitOrders


def distribution_xlsx(overview: UnitOrders) -> tuple[str, bytes]:
    """(file name, xlsx bytes) of one campaign's list for the unit; names like ``=HYPERLINK(...)`` stay text."""
    campaign, unit = overview.campaign, overview.unit
    items = [item for item, _quantity, _amount in overview.item_totals]
    header = [
        _("No."),
        _("Full name"),
        _("Mobile phone"),
        *(f"{item.title} ({item.unit})" for item in items),
        _("Amount (yuan)"),
        _("Paid"),
        _("Received (signature)"),
    ]
    rows = [
        [
            number,
            person.name,
            person.phone,
            *(person.quantities.get(item.id) or None for item in items),
            yuan_decimal(person.due_fen),
            _payment_label(person.payment_status),
            "",
        ]
        for number, person in enumerate(overview.people, start=1)
    ]
    totals = [
        _("Total"),
        "",
        "",
        *(quantity for _item, quantity, _amount in overview.item_totals),
        yuan_decimal(overview.due_fen),
    ]
    sheet = Sheet(
        title=_("Distribution list"),
        labelled=[
            (_("Campaign"), campaign.title),
            (_("Work unit"), unit.name),
            (_("Delivery address"), unit.address),
            (_("Delivery on"), local_date(campaign.delivery_on)),
        ],
        header=header,
        rows=rows,
        footer=totals,
        number_formats={3 + len(items): "0.00"},
    )
    return f"pinbang-distribution-{campaign.id}-{unit.id}.xlsx", write_workbook([sheet])


def _payment_label(status):
    return status_label(status, "payment")
