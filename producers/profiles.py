"""Producer records: the registry operators keep (kind, place, poverty registration, linked households) and its audit trail."""

import re

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import AuditEntry
from accounts.services import EMAIL_RE, normalize_phone, record_audit
from dashboard.kept_figures import producer_moved
from database import transaction
from errors import NotFound
from extensions import db
from producers.access import is_operator, owns, require_operator
from producers.fields import plain, raise_if, refuse_unknown, text, whole_number
from producers.households import listed_count
from producers.models import PRODUCER_KINDS, Listing, Producer
from producers.towns import town_names

MAX_LINKED_HOUSEHOLDS = 100_000
PRODUCER_NAME_MAX, VILLAGE_MAX = 120, 80
POVERTY_ID_RE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")

PRODUCER_FIELDS = ("name", "kind", "town", "village", "phone", "email", "poverty_household", "poverty_id", "linked_households")
# Vetted facts: the poverty registry and the household links decide who is helped first.
OPERATOR_ONLY_PRODUCER_FIELDS = ("kind", "poverty_household", "poverty_id", "linked_households")


def producers_query(user, *, town=None, kind=None, poverty=None, status=None, search=None):
    """Producers the user may see, filtered; a producer user sees only its own, a village cadre its town's."""
    query = sa.select(Producer).order_by(Producer.town, Producer.name, Producer.id)
    if user is not None and user.role == "cadre":
        query = query.where(Producer.town == user.town)
    elif not is_operator(user):
        query = query.where(Producer.id == (user.producer_id if user and user.role == "producer" else -1))
    if town:
        query = query.where(Producer.town == town)
    if kind:
        query = query.where(Producer.kind == kind)
    if poverty is not None:
        query = query.where(Producer.poverty_household.is_(bool(poverty)))
    if status:
        query = query.where(Producer.status == status)
    if search:
        query = query.where(Producer.name.contains(text(search)[:PRODUCER_NAME_MAX], autoescape=True))
    return query


def audit_trail(producer, limit=50):
    """Recent audit entries about a producer and its listings, newest first."""
    listing_ids = sa.select(Listing.id).where(Listing.producer_id == producer.id)
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(
            sa.or_(
                sa.and_(AuditEntry.object_type == "Producer", AuditEntry.object_id == producer.id),
                sa.and_(AuditEntry.object_type == "Listing", AuditEntry.object_id.in_(listing_ids)),
                sa.and_(AuditEntry.object_type == "ListingPhoto", AuditEntry.details["listing_id"].as_integer().in_(listing_ids)),
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()


def _clean_producer(values, producer=None):
    errors = {}
    clean = {}
    clean["name"] = plain(
        errors, "name", values.get("name"), required_message=_("Enter the producer's name."), max_length=PRODUCER_NAME_MAX
    )
    kind = values.get("kind")
    if kind not in PRODUCER_KINDS:
        errors["kind"] = [_("Choose cooperative, enterprise or household.")]
    clean["kind"] = kind
    town = text(values.get("town"))
    if town not in town_names() and (producer is None or town != producer.town):
        errors["town"] = [_("Choose one of the towns in the list.")]
    clean["town"] = town
    clean["village"] = plain(
        errors, "village", values.get("village"), required_message=_("Enter the village."), max_length=VILLAGE_MAX
    )
    clean["phone"] = normalize_phone(values.get("phone"))
    if clean["phone"] is None:
        errors["phone"] = [_("Enter an 11-digit mobile number.")]
    email = text(values.get("email")).lower() or None
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        errors["email"] = [_("Enter a valid email address.")]
    clean["email"] = email
    clean.update(_clean_poverty(errors, values, kind, producer))
    raise_if(errors)
    return clean


def _clean_poverty(errors, values, kind, producer):
    """The poverty registration of a household, or the linked households of a cooperative or enterprise."""
    poverty = values.get("poverty_household")
    if not isinstance(poverty, bool):
        errors["poverty_household"] = [_("Say yes or no.")]
    poverty = poverty is True
    poverty_id = text(values.get("poverty_id")) or None
    if poverty:
        if kind in PRODUCER_KINDS and kind != "household":
            errors["poverty_household"] = [
                _(
                    "Only a household can be a registered poor household; for a cooperative or enterprise give the number of linked poor households."
                )
            ]
        if poverty_id is None:
            errors["poverty_id"] = [_("Enter the household's poverty registry number.")]
        elif not POVERTY_ID_RE.match(poverty_id):
            errors["poverty_id"] = [_("Use 4 to 40 letters, digits or dashes.")]
        else:
            clash = db.session.scalar(sa.select(Producer).where(Producer.poverty_id == poverty_id))
            if clash is not None and clash is not producer:
                errors["poverty_id"] = [_("Another producer already has this registry number.")]
    elif poverty_id is not None:
        errors["poverty_id"] = [_("Only a registered poor household has a registry number.")]
    linked = values.get("linked_households")
    number = whole_number(0 if linked in (None, "") else linked)
    if number is None:
        errors["linked_households"] = [_("Enter a whole number.")]
    elif not 0 <= number <= MAX_LINKED_HOUSEHOLDS:
        errors["linked_households"] = [_("Enter a whole number between 0 and %(max)s.", max="100,000")]
    elif number and kind == "household":
        errors["linked_households"] = [_("Only cooperatives and enterprises have linked households.")]
    elif producer is not None and number != producer.linked_households and listed_count(producer):
        errors["linked_households"] = [
            _("The count follows the %(n)d households listed: add or remove households instead.", n=listed_count(producer))
        ]
    return {"poverty_household": poverty, "poverty_id": poverty_id if poverty else None, "linked_households": number or 0}


def check_producer_fields(values, producer=None) -> None:
    """Check producer fields without saving anything.

    :raises ValidationFailed: as create_producer and update_producer would.
    """
    merged = (
        {field: getattr(producer, field) for field in PRODUCER_FIELDS} if producer is not None else {"poverty_household": False}
    )
    merged.update(values)
    _clean_producer(merged, producer)


def create_producer(actor, **values) -> Producer:
    """Register a producer (operators); it starts pending until an operator approves it.

    :param values: name, kind, town, village, phone, email?, poverty_household, poverty_id?, linked_households?
    :raises Forbidden: the actor is not an operator.
    :raises ValidationFailed: every wrong field at once.
    """
    require_operator(actor)
    refuse_unknown(values, PRODUCER_FIELDS, "producer")
    values.setdefault("poverty_household", False)
    clean = _clean_producer(values)
    with transaction():
        producer = Producer(**clean, status="pending")
        db.session.add(producer)
        db.session.flush()
        record_audit(actor, "producer.create", producer, name=producer.name, kind=producer.kind)
    return producer


def _same_value(given, current):
    if isinstance(current, str) or current is None:
        return (text(given) or None) == current
    return given == current


def update_producer(actor, producer, **changes) -> Producer:
    """Change a producer's profile: operators every field, the producer's own users only name, town, village and contacts.

    :param changes: only the fields to change.
    :raises NotFound: a producer user editing another producer.
    :raises ValidationFailed: a wrong field, or a producer user changing a vetted field.
    """
    if not is_operator(actor):
        if not owns(actor, producer.id):
            raise NotFound(_("No such producer."))
        denied = {
            field: [_("Only an operator can change this.")]
            for field in OPERATOR_ONLY_PRODUCER_FIELDS
            if field in changes and not _same_value(changes[field], getattr(producer, field))
        }
        raise_if(denied)
    refuse_unknown(changes, PRODUCER_FIELDS, "producer")
    values = {field: getattr(producer, field) for field in PRODUCER_FIELDS}
    values.update(changes)
    clean = _clean_producer(values, producer)
    changed = sorted(field for field in PRODUCER_FIELDS if clean[field] != getattr(producer, field))
    if changed:
        with transaction():
            for field in changed:
                setattr(producer, field, clean[field])
            record_audit(actor, "producer.update", producer, fields=changed)
            if "town" in changed:
                producer_moved(producer.id)
    return producer


def _set_producer_status(actor, producer, status, action):
    require_operator(actor)
    if producer.status != status:
        with transaction():
            producer.status = status
            record_audit(actor, action, producer, name=producer.name)
    return producer


def approve_producer(actor, producer) -> Producer:
    """Approve (or reinstate) a producer; only an approved producer's listings can be approved or go into campaigns.

    :raises Forbidden: the actor is not an operator.
    """
    return _set_producer_status(actor, producer, "approved", "producer.approve")


def suspend_producer(actor, producer) -> Producer:
    """Suspend a producer: its listings can no longer be approved, changed by it, or added to campaigns.

    :raises Forbidden: the actor is not an operator.
    """
    return _set_producer_status(actor, producer, "suspended", "producer.suspend")
