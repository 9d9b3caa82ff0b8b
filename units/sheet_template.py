"""The sign-up sheet a coordinator downloads, fills in and uploads: a column per item, and its instructions."""

from flask_babel import gettext as _

from measures import yuan_decimal
from presentation import local_date, local_datetime
from spreadsheets import TEXT, Sheet, WholeNumbers, write_workbook
from units.access import coordinator_campaign
from units.campaigns import campaign_items, item_columns
from units.sheet_rows import MAX_QUANTITY, item_headers

TEMPLATE_ROWS = 300  # rows formatted for typing in (phones as text, quantities as whole numbers)


def sheet_template(user, campaign_id) -> tuple[str, bytes]:
    """The xlsx a coordinator fills in for a campaign: (file name, bytes).

    :raises Forbidden, NotFound: see units.access.coordinator_campaign.
    """
    campaign = coordinator_campaign(user, campaign_id)
    columns = item_columns(campaign_items(campaign.id))
    instructions = [
        _(
            "Orders close at %(time)s; delivery on %(date)s.",
            time=local_datetime(campaign.closes_at),
            date=local_date(campaign.delivery_on),
        ),
        _("One row a person: name, 11-digit mobile phone, and how many of each item (leave blank for none)."),
        _("Colleagues need no account; the same phone may appear only once."),
        _("Type numbers, not formulas; do not rename the item columns. A note goes in the last column."),
        _("Save as .xlsx (or as CSV UTF-8) and upload it on the unit page. Uploading again replaces the previous sheet."),
    ]
    data = write_workbook([_sign_up_sheet(columns), _instructions_sheet(campaign, columns, instructions)])
    return f"pinbang-sheet-{campaign.id}.xlsx", data


def _sign_up_sheet(items) -> Sheet:
    """One row a person, one column an item headed by its title (``units.sheet_rows.map_columns`` reads it back)."""
    headings = item_headers(items)
    header = [_("Full name"), _("Mobile phone"), *(headings[item.id] for item in items), _("Notes")]
    return Sheet(
        title=_("Sign-up sheet"),
        header=header,
        widths={index: max(10, min(30, len(text) * 2 + 4)) for index, text in enumerate(header)} | {1: 16, len(header) - 1: 30},
        # Phones as text, or Excel shows 1.39E+10 and drops a leading +86.
        number_formats={1: TEXT},
        entry_rows=TEMPLATE_ROWS,
        whole_numbers=WholeNumbers(2, 1 + len(items), 0, MAX_QUANTITY, _("Type a whole number, 0 or more.")) if items else None,
        frozen_columns=2,
    )


def _instructions_sheet(campaign, items, instructions) -> Sheet:
    headings = item_headers(items)
    return Sheet(
        title=_("Instructions"),
        caption=campaign.title,
        notes=instructions,
        header=[_("Item"), _("Unit of sale"), _("Price (yuan)"), _("Limit per person")],
        rows=[
            [headings[item.id], item.unit, yuan_decimal(item.price_fen), item.per_buyer_limit or _("no limit")] for item in items
        ],
        widths={0: 28, 1: 16, 2: 16, 3: 16},
        number_formats={2: "0.00"},
        freeze=False,
    )
