"""A unit's roster: the staff list (姓名, 手机号) a coordinator uploads so that each new colleague is invited by SMS.

The file is read by units.sheets, with the sign-up sheets' limits and hostile-file rules. A preview sorts the rows
into new people, people who already have an account, and invalid rows with the reason; confirming sends each new
person the unit's invitation through the outbox (once per person and invitation: uploading again sends nothing
twice, until the invitation is rotated). A roster with any bad row is refused whole.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from accounts.models import User
from accounts.services import normalize_phone, record_audit
from database import transaction
from extensions import db
from notifications import messages
from notifications.services import queue_sms_to_phone
from units import invitations
from units.access import visible_unit
from units.sheet_plan import in_chunks, invalid
from units.sheet_rows import NAME_HEADERS, PHONE_HEADERS
from units.sheets import column_letter, is_blank, normalize_heading, problem, read_table, read_upload

MAX_NAME = 80
INVITATION_KIND = "unit_invitation"


@dataclass
class RosterPerson:
    row: int
    name: str
    phone: str
    unit_name: str | None = None  # for someone who already has an account: their unit


@dataclass
class RosterPlan:
    added: list = field(default_factory=list)
    existing: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    invited: int = 0


def _columns(headers) -> tuple[int | None, int | None, list]:
    names = {normalize_heading(h) for h in (*NAME_HEADERS, _("Full name"))}
    phones = {normalize_heading(h) for h in (*PHONE_HEADERS, _("Mobile phone"))}
    name_at = phone_at = None
    for index, heading in enumerate(headers):
        key = normalize_heading(heading)
        if key in names and name_at is None:
            name_at = index
        elif key in phones and phone_at is None:
            phone_at = index
    problems = []
    if name_at is None:
        problems.append(problem(1, None, _("The roster needs a column headed “%(heading)s”.", heading="姓名")))
    if phone_at is None:
        problems.append(problem(1, None, _("The roster needs a column headed “%(heading)s”.", heading="手机号")))
    return name_at, phone_at, problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def read_roster(file, filename="") -> RosterPlan:
    """The roster's rows as new people and problems; who already has an account is sorted out by plan_roster.

    :raises UploadTooLarge: over the sheets' size limit.
    :raises InvalidSheet: not a spreadsheet, or a hostile or damaged one.
    """
    data, uploaded_name = read_upload(file)
    table = read_table(data, filename or uploaded_name)
    plan = RosterPlan(problems=list(table.problems))
    name_at, phone_at, problems = _columns(table.headers)
    plan.problems += problems
    if problems:
        return plan
    first_row_of = {}
    for row_number, values in table.rows:
        name = _text(values[name_at]) if name_at < len(values) else ""
        raw_phone = values[phone_at] if phone_at < len(values) else None
        phone = normalize_phone(_text(raw_phone))
        heading_name, heading_phone = table.headers[name_at], table.headers[phone_at]
        ok = True
        if not name:
            plan.problems.append(problem(row_number, heading_name, _("Enter a name."), f"{column_letter(name_at)}{row_number}"))
            ok = False
        elif len(name) > MAX_NAME:
            plan.problems.append(
                problem(
                    row_number, heading_name, _("At most %(n)d characters.", n=MAX_NAME), f"{column_letter(name_at)}{row_number}"
                )
            )
            ok = False
        cell = f"{column_letter(phone_at)}{row_number}"
        if is_blank(raw_phone):
            plan.problems.append(problem(row_number, heading_phone, _("Enter an 11-digit mobile number."), cell))
            ok = False
        elif phone is None:
            message = _("“%(value)s” is not an 11-digit mobile number.", value=_text(raw_phone)[:40])
            plan.problems.append(problem(row_number, heading_phone, message, cell))
            ok = False
        elif phone in first_row_of:
            message = _("This phone number is already in row %(row)d.", row=first_row_of[phone])
            plan.problems.append(problem(row_number, heading_phone, message, cell))
            ok = False
        else:
            first_row_of[phone] = row_number
        if ok:
            plan.added.append(RosterPerson(row_number, name, phone))
    if not table.rows:
        plan.problems.append(problem(None, None, _("The roster has no one in it: one row a person under the headings.")))
    return plan


def plan_roster(actor, unit_id, file, filename="") -> RosterPlan:
    """What confirming the roster would do; nothing is saved.

    :raises Forbidden: neither the unit's coordinator nor an operator.
    :raises NotFound: no such unit, or another unit (for a coordinator).
    :raises UploadTooLarge, InvalidSheet: as read_roster.
    """
    visible_unit(actor, unit_id)
    plan = read_roster(file, filename)
    accounts = {}
    for chunk in in_chunks({person.phone for person in plan.added}):
        for user in db.session.scalars(sa.select(User).where(User.phone.in_(chunk))):
            accounts[user.phone] = user
    new = []
    for person in plan.added:
        user = accounts.get(person.phone)
        if user is None:
            new.append(person)
        else:
            person.unit_name = user.unit.name if user.unit else None
            plan.existing.append(person)
    plan.added = new
    return plan


def import_roster(actor, unit_id, file, filename="") -> RosterPlan:
    """Send each new person on the roster the unit's invitation by SMS (through the outbox).

    :raises InvalidSheet: any bad row (every problem listed); nothing is sent.
    :raises Forbidden, NotFound, UploadTooLarge: as plan_roster.
    """
    plan = plan_roster(actor, unit_id, file, filename)
    if plan.problems:
        raise invalid(plan.problems)
    invitation = invitations.current_invitation(actor, unit_id)
    url = invitations.invitation_url(invitation.code)
    with transaction():
        unit = visible_unit(actor, unit_id)
        with force_locale("zh_CN"):
            title, body = messages.unit_invitation(unit.name, url)
        for person in plan.added:
            plan.invited += queue_sms_to_phone(
                phone=person.phone, kind=INVITATION_KIND, subject=f"invitation:{invitation.id}", title=title, body=body
            )
        record_audit(actor, "unit.roster_imported", unit, new=len(plan.added), existing=len(plan.existing), invited=plan.invited)
    return plan
