"""Certificates: a producer's admission (扶贫产品认定 / 832) and a listing's certificates, and the one rule that an
expired one keeps the listing out of new campaigns."""

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from accounts.services import record_audit
from database import local_today, transaction
from errors import NotFound, ValidationFailed
from extensions import db
from producers.access import acting_for, check_may_change, get_listing, get_producer
from producers.fields import plain, raise_if
from producers.models import CERTIFICATE_KINDS, HOUSEHOLD_LINKS, Certificate, Listing, Producer

NUMBER_MAX, ISSUER_MAX, LABEL_MAX, REASON_MAX = 60, 80, 60, 200
# A certificate valid further ahead than this is a typing slip, not a certificate.
MAX_YEARS_AHEAD = 30
# The producer is told this many days before a certificate expires.
NOTICE_DAYS = 30

LISTING_CERTIFICATE_KINDS = tuple(kind for kind in CERTIFICATE_KINDS if kind != "admission")
KIND_LABELS = {
    "admission": _l("Poverty-alleviation product admission (扶贫产品认定 / 832)"),
    "animal_quarantine": _l("Animal quarantine certificate (动物检疫合格证明)"),
    "compliance_promise": _l("Compliance promise certificate (承诺达标合格证)"),
    "other": _l("Other certificate"),
}
LINK_LABELS = {"wages": _l("Wages for work"), "purchase": _l("Purchase agreement"), "dividend": _l("Dividends")}


def kind_name(certificate) -> str:
    """What a certificate is called: its own label for an 'other' one."""
    if certificate.kind == "other" and certificate.label:
        return certificate.label
    return str(KIND_LABELS[certificate.kind])


def is_expired(certificate, today=None) -> bool:
    """Valid through its valid-until day; expired the day after."""
    return certificate.valid_until < (today or local_today())


def expires_soon(certificate, today=None) -> bool:
    today = today or local_today()
    return not is_expired(certificate, today) and certificate.valid_until <= today + timedelta(days=NOTICE_DAYS)


def expired_certificates(listing, today=None) -> list:
    """The producer's admission and the listing's certificates that have expired."""
    today = today or local_today()
    held = [listing.producer.admission] if listing.producer.admission is not None else []
    return [c for c in held + list(listing.certificates) if is_expired(c, today)]


def campaign_problem(listing, today=None) -> str | None:
    """Why the listing may not go into a new campaign (or take more in one), or None: an expired certificate."""
    expired = expired_certificates(listing, today)
    if not expired:
        return None
    return _(
        "%(name)s from %(producer)s cannot go into campaigns: %(certificates)s expired. Record the renewed certificate first.",
        name=listing.name,
        producer=listing.producer.name,
        certificates=_("; ").join(
            _("%(kind)s no. %(number)s on %(date)s", kind=kind_name(c), number=c.number, date=c.valid_until.isoformat())
            for c in expired
        ),
    )


def held_back_listings(today=None) -> list[Listing]:
    """Approved listings with something left that an expired certificate keeps out of new campaigns (for review)."""
    today = today or local_today()
    expired = sa.select(Certificate.id).where(Certificate.valid_until < today)
    candidates = db.session.scalars(
        sa.select(Listing)
        .where(
            Listing.status == "approved",
            Listing.quantity > Listing.quantity_committed,
            sa.or_(
                sa.exists(expired.where(Certificate.listing_id == Listing.id)),
                sa.exists(expired.where(Certificate.producer_id == Listing.producer_id, Certificate.kind == "admission")),
            ),
        )
        .order_by(Listing.id)
    ).all()
    return list(candidates)


# ---------------------------------------------------------------- cleaning


def _clean_date(errors, field, value):
    if value in (None, ""):
        errors[field] = [_("Enter the date it is valid until.")]
        return None
    if not isinstance(value, date):
        errors[field] = [_("Enter a date as YYYY-MM-DD.")]
        return None
    today = local_today()
    if not today - timedelta(days=366 * MAX_YEARS_AHEAD) <= value <= today + timedelta(days=366 * MAX_YEARS_AHEAD):
        errors[field] = [_("Enter a date within %(n)d years of today.", n=MAX_YEARS_AHEAD)]
        return None
    return value


def clean_links(errors, links, *, required=True) -> str | None:
    """How a producer or a household is linked: one or more of wages, purchase, dividend; stored comma-joined."""
    if isinstance(links, str):
        links = [links]
    links = [link for link in (links or []) if link]
    if any(link not in HOUSEHOLD_LINKS for link in links):
        errors["links"] = [_("Choose wages, purchase agreement or dividends.")]
        return None
    if not links and required:
        errors["links"] = [_("Choose at least one way the poor households are linked.")]
        return None
    return ",".join(link for link in HOUSEHOLD_LINKS if link in links) or None


def _clean_reason(errors, reason):
    return plain(errors, "reason", reason, max_length=REASON_MAX)


# ---------------------------------------------------------------- the producer's admission


def record_admission(actor, producer_id, *, number, county, valid_until, links, reason=None) -> Certificate:
    """Record or renew a producer's 扶贫产品认定 / 832 admission: operators for any producer, a producer for itself.

    A renewal (a later valid-until date) arms the 30-day notice again.
    :param links: how it links to poor households, one or more of wages, purchase, dividend.
    :raises NotFound: a producer user naming another producer.
    :raises Forbidden: a suspended producer's own user.
    :raises ValidationFailed: every wrong field at once; nothing is saved.
    """
    producer = get_producer(actor, producer_id)
    check_may_change(actor, producer)
    errors = {}
    clean = {
        "number": plain(errors, "number", number, required_message=_("Enter the certificate number."), max_length=NUMBER_MAX),
        "issuer": plain(errors, "county", county, required_message=_("Enter the issuing county."), max_length=ISSUER_MAX),
        "valid_until": _clean_date(errors, "valid_until", valid_until),
        "links": clean_links(errors, links),
    }
    reason = _clean_reason(errors, reason)
    raise_if(errors)
    with transaction(write=True):
        # The producer's row is the lock (SQLite's write lock, write=True): two first recordings at once cannot both insert an admission.
        db.session.get(Producer, producer.id, with_for_update=True, populate_existing=True)
        admission = db.session.scalar(
            sa.select(Certificate).where(Certificate.producer_id == producer.id, Certificate.kind == "admission")
        )
        before = None
        if admission is None:
            admission = Certificate(producer_id=producer.id, kind="admission", created_by_id=actor.id if actor else None)
            db.session.add(admission)
        else:
            before = {name: str(getattr(admission, name)) for name in clean}
        changed = sorted(name for name, value in clean.items() if getattr(admission, name, None) != value)
        for name, value in clean.items():
            setattr(admission, name, value)
        db.session.flush()
        if changed:
            record_audit(
                actor,
                "producer.admission",
                producer,
                on_behalf_of=acting_for(actor, producer),
                reason=reason,
                number=admission.number,
                valid_until=admission.valid_until.isoformat(),
                changes={name: [before[name] if before else None, str(clean[name])] for name in changed},
            )
    db.session.expire(producer, ["admission"])
    return admission


# ---------------------------------------------------------------- a listing's certificates


def add_listing_certificate(actor, listing_id, *, kind, number, valid_until, issuer=None, label=None, reason=None) -> Certificate:
    """Record one of a listing's certificates (animal quarantine for poultry, 承诺达标合格证, another named one).

    :raises NotFound: another producer's listing.
    :raises Forbidden: a suspended producer's own user.
    :raises ValidationFailed: every wrong field at once, or the same kind and number twice on the listing.
    """
    listing = get_listing(actor, listing_id)
    check_may_change(actor, listing.producer)
    errors = {}
    if kind not in LISTING_CERTIFICATE_KINDS:
        errors["kind"] = [_("Choose animal quarantine, compliance promise or another certificate.")]
    label = plain(
        errors,
        "label",
        label,
        required_message=_("Name the certificate.") if kind == "other" else None,
        max_length=LABEL_MAX,
    )
    number = plain(errors, "number", number, required_message=_("Enter the certificate number."), max_length=NUMBER_MAX)
    issuer = plain(errors, "issuer", issuer, max_length=ISSUER_MAX)
    valid_until = _clean_date(errors, "valid_until", valid_until)
    reason = _clean_reason(errors, reason)
    if number and "kind" not in errors and any(c.kind == kind and c.number == number for c in listing.certificates):
        errors["number"] = [_("This listing already has this certificate.")]
    raise_if(errors)
    with transaction():
        certificate = Certificate(
            producer_id=listing.producer_id,
            listing_id=listing.id,
            kind=kind,
            label=label if kind == "other" else None,
            number=number,
            issuer=issuer,
            valid_until=valid_until,
            created_by_id=actor.id if actor else None,
        )
        db.session.add(certificate)
        db.session.flush()
        record_audit(
            actor,
            "listing.certificate.add",
            listing,
            on_behalf_of=acting_for(actor, listing.producer),
            reason=reason,
            listing_id=listing.id,
            certificate_id=certificate.id,
            kind=kind,
            number=number,
            valid_until=valid_until.isoformat(),
        )
    db.session.expire(listing, ["certificates"])
    return certificate


def remove_listing_certificate(actor, listing_id, certificate_id, *, reason=None) -> None:
    """Remove a certificate recorded by mistake (an expired one is replaced by adding the renewed one).

    :raises NotFound: another producer's listing, or no such certificate on it.
    """
    listing = get_listing(actor, listing_id)
    check_may_change(actor, listing.producer)
    errors = {}
    reason = _clean_reason(errors, reason)
    raise_if(errors)
    certificate = db.session.get(Certificate, certificate_id) if isinstance(certificate_id, int) else None
    if certificate is None or certificate.listing_id != listing.id:
        raise NotFound(_("No such certificate."))
    with transaction():
        record_audit(
            actor,
            "listing.certificate.remove",
            listing,
            on_behalf_of=acting_for(actor, listing.producer),
            reason=reason,
            listing_id=listing.id,
            certificate_id=certificate.id,
            kind=certificate.kind,
            number=certificate.number,
        )
        db.session.delete(certificate)
    db.session.expire(listing, ["certificates"])


def check_listing_fit(listing) -> None:
    """:raises ValidationFailed: an expired certificate keeps the listing out of new campaigns (field ``listing_id``)."""
    problem = campaign_problem(listing)
    if problem:
        raise ValidationFailed(_("Please correct the marked fields."), {"listing_id": [problem]})
