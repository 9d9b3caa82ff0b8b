"""Checking a sign-up sheet's rows: which column holds what, then each person's name, phone and quantities, then
per-buyer limits and what is left of each item counting the whole sheet.

Pure functions: the services pass in the campaign's items, what each person already has and what is left,
and get back rows and problems (every problem at once, not just the first).
"""

import re
import unicodedata
from dataclasses import dataclass

from flask_babel import gettext as _

from orders.lines import MAX_LINE_QUANTITY
from plain_text import line_break_message, strip_controls
from units.sheets import column_letter, header_label, is_blank, normalize_heading, problem

MAX_NAME = 80
MAX_NOTE = 500
MAX_QUANTITY = MAX_LINE_QUANTITY  # a sheet cell holds what one order line may


@dataclass
class SheetRow:
    """One person's wishes: quantities by item id (only those above zero)."""

    row: int
    name: str
    phone: str
    quantities: dict
    note: str | None = None


@dataclass
class ParsedSheet:
    rows: list
    problems: list
    skipped: int = 0


NAME_HEADERS = ("姓名", "名字", "Name", "Full name", "Buyer", "Buyer name")
PHONE_HEADERS = ("手机号", "手机", "手机号码", "电话", "联系电话", "Phone", "Mobile", "Mobile phone", "Phone number")
NOTE_HEADERS = ("备注", "说明", "Note", "Notes", "Remark", "Remarks")
IGNORED_HEADERS = ("序号", "编号", "No", "No.", "#", "Number")


@dataclass
class ItemColumn:
    """What the sheet needs to know of a campaign item."""

    id: int
    title: str
    unit: str
    price_fen: int = 0
    per_buyer_limit: int | None = None
    withdrawn: bool = False


def item_headers(items) -> dict[int, str]:
    """The heading of each item's column: its title, or title and id when two items share a title."""
    counts = {}
    for item in items:
        counts[normalize_heading(item.title)] = counts.get(normalize_heading(item.title), 0) + 1
    return {item.id: item.title if counts[normalize_heading(item.title)] == 1 else f"{item.title} #{item.id}" for item in items}


def map_columns(headers, items) -> tuple[dict, list]:
    """Which column holds what: {index: "name" | "phone" | "note" | ("item", id)}; problems for headings that fit nothing.

    Headings may be Chinese or English (姓名/Name, 手机号/Phone, 备注/Notes); an item column is headed by the item's
    title, optionally followed by its unit in brackets (``雪毛鸡（只）``).
    """
    known = {}
    for label in (*NAME_HEADERS, _("Full name")):
        known[normalize_heading(label)] = "name"
    for label in (*PHONE_HEADERS, _("Mobile phone")):
        known[normalize_heading(label)] = "phone"
    for label in (*NOTE_HEADERS, _("Notes")):
        known[normalize_heading(label)] = "note"
    for label in IGNORED_HEADERS:
        known[normalize_heading(label)] = "ignore"
    headings = item_headers(items)
    ambiguous = set()
    for item in items:
        labels = {headings[item.id], f"{headings[item.id]}({item.unit})", f"{item.title} #{item.id}"}
        for label in labels:
            key = normalize_heading(label)
            if key in known and known[key] != ("item", item.id):
                ambiguous.add(key)
            known.setdefault(key, ("item", item.id))
    columns, problems, seen = {}, [], {}
    for index, heading in enumerate(headers):
        if not heading:
            continue
        key = normalize_heading(heading)
        role = known.get(key)
        if role is None or key in ambiguous:
            if key in ambiguous:
                message = _(
                    "Two items are called “%(heading)s”; use the column headings of the downloaded template.", heading=heading
                )
            else:
                message = _("“%(heading)s” is not an item of this campaign (nor name, phone or notes).", heading=heading)
            problems.append(problem(1, heading, message, f"{column_letter(index)}1"))
            continue
        if role == "ignore":
            continue
        if role in seen:
            problems.append(
                problem(
                    1,
                    heading,
                    _("This column repeats the column “%(other)s”.", other=headers[seen[role]]),
                    f"{column_letter(index)}1",
                )
            )
            continue
        seen[role] = index
        columns[index] = role
    if "name" not in seen:
        problems.append(problem(1, None, _("The sheet needs a column headed “%(heading)s”.", heading=_("Full name"))))
    if "phone" not in seen:
        problems.append(problem(1, None, _("The sheet needs a column headed “%(heading)s”.", heading=_("Mobile phone"))))
    if not any(isinstance(role, tuple) for role in columns.values()) and not problems:
        problems.append(problem(1, None, _("The sheet has no item column; head one column with each item's title.")))
    return columns, problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return strip_controls(unicodedata.normalize("NFC", str(value))).strip()


def parse_quantity(value):
    """A quantity cell as an int (blank is 0), or a message saying why it is not one."""
    if value is None:
        return 0, None
    if isinstance(value, bool):
        return None, _("“%(value)s” is not a quantity; type a whole number.", value=value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None, _("%(value)s is not a whole number.", value=_text(value) if value == value else "NaN")
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        if text == "":
            return 0, None
        if re.fullmatch(r"[+-]?\d+(\.0*)?", text):
            number = int(float(text)) if "." in text else int(text)
        elif re.fullmatch(r"[+-]?\d*\.\d+", text):
            return None, _("%(value)s is not a whole number.", value=text)
        else:
            return None, _("“%(value)s” is not a quantity; type a whole number.", value=str(value)[:40])
    if number < 0:
        return None, _("The quantity cannot be negative (%(value)d).", value=number)
    if number > MAX_QUANTITY:
        return None, _("At most %(max)d of one item per person.", max=MAX_QUANTITY)
    return number, None


def parse_rows(table, columns, items, normalize_phone) -> ParsedSheet:
    """Every data row as a SheetRow, and every problem found (all rows are checked, not just up to the first error).

    :param columns: from map_columns.
    :param items: ItemColumn objects of the campaign.
    :param normalize_phone: turns a raw phone into 11 digits, or None.
    """
    by_id = {item.id: item for item in items}
    roles = {role: index for index, role in columns.items() if isinstance(role, str)}
    problems = list(table.problems)
    rows, skipped, first_row_of = [], 0, {}
    for row_number, values in table.rows:
        found = []
        parsed = _parse_row(row_number, values, columns, roles, by_id, table.headers, normalize_phone, first_row_of, found)
        problems.extend(found)
        if parsed == "skip":
            skipped += 1
        elif parsed is not None:
            rows.append(parsed)
    return ParsedSheet(rows, problems, skipped)


def _parse_row(row_number, values, columns, roles, by_id, headers, normalize_phone, first_row_of, problems):
    """One row as a SheetRow, "skip" for a row that orders nothing, or None when it has problems (added to ``problems``)."""

    def cell(index):
        return values[index] if index is not None and index < len(values) else None

    def report(index, message):
        label = header_label(headers, index) if index is not None else None
        problems.append(problem(row_number, label, message, f"{column_letter(index)}{row_number}" if index is not None else None))

    quantities, row_ok = {}, True
    for index, role in columns.items():
        if not isinstance(role, tuple):
            continue
        item = by_id[role[1]]
        number, message = parse_quantity(cell(index))
        if message:
            report(index, message)
            row_ok = False
        elif number and item.withdrawn:
            report(index, _("%(title)s has been withdrawn and cannot be ordered.", title=item.title))
            row_ok = False
        elif number:
            quantities[item.id] = number
    for index, value in enumerate(values):
        if index not in columns and not is_blank(value) and (index >= len(headers) or not headers[index]):
            report(index, _("This column has no heading; head it with an item's title or clear it."))
            row_ok = False
    if not quantities and row_ok:
        # A person listed with nothing wanted (or a row of notes only) orders nothing.
        return "skip"
    name_index, phone_index, note_index = roles.get("name"), roles.get("phone"), roles.get("note")
    name, raw_phone, note = _text(cell(name_index)), _text(cell(phone_index)), _text(cell(note_index))
    if not name:
        report(name_index, _("The name is missing."))
        row_ok = False
    elif len(name) > MAX_NAME:
        report(name_index, _("The name is longer than %(n)d characters.", n=MAX_NAME))
        row_ok = False
    elif "\n" in name or "\r" in name:
        report(name_index, str(line_break_message()))
        row_ok = False
    phone = normalize_phone(raw_phone)
    if not raw_phone:
        report(phone_index, _("The mobile phone number is missing."))
        row_ok = False
    elif phone is None:
        report(phone_index, _("“%(value)s” is not an 11-digit mobile phone number.", value=raw_phone[:40]))
        row_ok = False
    elif phone in first_row_of:
        report(
            phone_index, _("The same person (phone %(phone)s) is already in row %(row)d.", phone=phone, row=first_row_of[phone])
        )
        row_ok = False
    else:
        first_row_of[phone] = row_number
    if len(note) > MAX_NOTE:
        report(note_index, _("The note is longer than %(n)d characters.", n=MAX_NOTE))
        row_ok = False
    return SheetRow(row_number, name, phone, quantities, note or None) if row_ok else None


def check_limits_and_capacity(rows, items, already, remaining, columns_of, unseen=None) -> list:
    """Per-buyer limits and what is left of each item, counting the whole sheet.

    :param already: {phone: {item_id: quantity}} that person has in other orders of the campaign.
    :param unseen: the part of ``already`` in orders the coordinator may not see: a problem then names no figure.
    :param remaining: {item_id: quantity} the sheet may take (what is left, plus what it replaces).
    :param columns_of: {item_id: (label, index)} to name the column in a problem.
    """
    by_id = {item.id: item for item in items}
    problems = []
    running = {}
    for row in rows:
        for item_id in sorted(row.quantities):
            item, wanted = by_id[item_id], row.quantities[item_id]
            label, index = columns_of.get(item_id, (item.title, None))
            cell = f"{column_letter(index)}{row.row}" if index is not None else None
            if item.per_buyer_limit:
                have = already.get(row.phone, {}).get(item_id, 0)
                if have + wanted > item.per_buyer_limit:
                    if (unseen or {}).get(row.phone, {}).get(item_id):
                        message = _(
                            "%(title)s is limited to %(limit)d %(unit)s per person; with %(name)s's orders placed elsewhere, this would be over the limit.",
                            title=item.title,
                            limit=item.per_buyer_limit,
                            unit=item.unit,
                            name=row.name,
                        )
                    elif have:
                        message = _(
                            "%(title)s is limited to %(limit)d %(unit)s per person, and %(name)s already has %(have)d in other orders.",
                            title=item.title,
                            limit=item.per_buyer_limit,
                            unit=item.unit,
                            name=row.name,
                            have=have,
                        )
                    else:
                        message = _(
                            "%(title)s is limited to %(limit)d %(unit)s per person.",
                            title=item.title,
                            limit=item.per_buyer_limit,
                            unit=item.unit,
                        )
                    problems.append(problem(row.row, label, message, cell))
            before = running.get(item_id, 0)
            running[item_id] = before + wanted
            left = remaining.get(item_id, 0)
            if before <= left < running[item_id]:
                problems.append(
                    problem(
                        row.row,
                        label,
                        _(
                            "Not enough %(title)s: %(left)d %(unit)s left, and the sheet asks for %(total)d up to this row.",
                            title=item.title,
                            left=max(left, 0),
                            unit=item.unit,
                            total=running[item_id],
                        ),
                        cell,
                    )
                )
    return problems
