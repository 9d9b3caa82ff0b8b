"""How the API shows certificates, linked households and a listing's price check (shared by the producer and
listing answers and by the certificate endpoints)."""

import marshmallow as ma

from api import text_field
from plain_text import PlainText
from producers import certificates as certificate_rules
from producers import households
from producers.listings import MAX_PRICE_FEN, REFERENCE_NOTE_MAX
from producers.models import CERTIFICATE_KINDS, HOUSEHOLD_LINKS
from producers.pricing import listing_price_check


class CertificateSchema(ma.Schema):
    id = ma.fields.Int()
    kind = PlainText(metadata={"enum": list(CERTIFICATE_KINDS)})
    kind_name = ma.fields.Function(lambda c: certificate_rules.kind_name(c), metadata={"type": "string"})
    number = PlainText()
    issuer = PlainText(allow_none=True, metadata={"description": "the issuing county, for an admission"})
    valid_until = ma.fields.Date()
    expired = ma.fields.Function(lambda c: certificate_rules.is_expired(c), metadata={"type": "boolean"})
    expires_soon = ma.fields.Function(
        lambda c: certificate_rules.expires_soon(c), metadata={"type": "boolean", "description": "within 30 days"}
    )


class AdmissionSchema(CertificateSchema):
    """A producer's 扶贫产品认定 / 832 admission."""

    class Meta:
        exclude = ("issuer",)

    county = PlainText(attribute="issuer")
    links = ma.fields.Function(
        lambda c: c.link_list, metadata={"type": "array", "items": {"type": "string", "enum": list(HOUSEHOLD_LINKS)}}
    )


class HouseholdSchema(ma.Schema):
    id = ma.fields.Int()
    name = PlainText()
    town = PlainText()
    village = PlainText()
    registry_number = PlainText()
    links = ma.fields.Function(
        lambda h: h.link_list, metadata={"type": "array", "items": {"type": "string", "enum": list(HOUSEHOLD_LINKS)}}
    )
    share_pct = ma.fields.Int(allow_none=True, metadata={"description": "agreed share of the producer's income"})


def household_list(producer) -> list[dict]:
    """The listed households, each with the income share it is attributed (basis points: agreed, or equal split)."""
    listed = list(producer.households)
    shares = households.income_shares(listed)
    rows = HouseholdSchema(many=True).dump(listed)
    for row in rows:
        row["income_share_bp"] = shares[row["id"]]
    return rows


class PriceCheckSchema(ma.Schema):
    reference_price_fen = ma.fields.Int()
    difference_fen = ma.fields.Int(metadata={"description": "price_fen − reference_price_fen"})
    above_pct = ma.fields.Float(metadata={"description": "how far above the reference, in percent (negative: below)"})
    flagged = ma.fields.Bool(metadata={"description": "above it by more than the configured share (20 % by default)"})


def price_check_of(listing):
    check = listing_price_check(listing)
    return None if check is None else PriceCheckSchema().dump(check)


class ProducerRecordFields(ma.Schema):
    """What a producer answer carries besides its registry entry."""

    admission = ma.fields.Nested(AdmissionSchema, allow_none=True, metadata={"description": "扶贫产品认定 / 832"})
    households = ma.fields.Function(
        household_list,
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": "linked poor households, each with income_share_bp (agreed share, or an equal split)",
        },
    )


class ListingRecordFields(ma.Schema):
    """What a listing answer carries besides its goods: market price, its check, certificates."""

    reference_price_fen = ma.fields.Int(allow_none=True, metadata={"description": "market price per sale unit"})
    reference_price_note = PlainText(allow_none=True)
    price_check = ma.fields.Function(price_check_of, allow_none=True, metadata={"type": "object", "nullable": True})
    certificates = ma.fields.List(ma.fields.Nested(CertificateSchema))
    campaign_problem = ma.fields.Function(
        lambda listing: certificate_rules.campaign_problem(listing),
        allow_none=True,
        metadata={"type": "string", "nullable": True, "description": "why it cannot go into new campaigns (expired)"},
    )


class ReferencePriceInFields(ma.Schema):
    reference_price_fen = ma.fields.Int(
        strict=True, allow_none=True, metadata={"minimum": 1, "maximum": MAX_PRICE_FEN, "description": "market price per unit"}
    )
    reference_price_note = text_field(REFERENCE_NOTE_MAX, min_length=0, allow_none=True)
