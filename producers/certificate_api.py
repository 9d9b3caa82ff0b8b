"""JSON endpoints for a producer's admission (扶贫产品认定 / 832), its linked poor households, and a listing's
certificates; thin: the rules live in producers.certificates and producers.households."""

import marshmallow as ma
from flask import g
from flask.views import MethodView

from accounts.access import api_auth
from api import text_field
from producers import access, certificates, households
from producers.api import Schema, blp
from producers.models import HOUSEHOLD_LINKS
from producers.record_schemas import AdmissionSchema, CertificateSchema, HouseholdSchema, household_list

LINKS = ma.fields.List(
    ma.fields.Str(validate=ma.validate.OneOf(HOUSEHOLD_LINKS)),
    required=True,
    validate=ma.validate.Length(min=1, max=len(HOUSEHOLD_LINKS)),
)
REASON = text_field(certificates.REASON_MAX, allow_none=True, metadata={"description": "for the audit log"})
VALID_UNTIL = {"description": "within 30 years of today"}


class AdmissionInSchema(Schema):
    number = text_field(certificates.NUMBER_MAX, required=True)
    county = text_field(certificates.ISSUER_MAX, required=True, metadata={"description": "the issuing county"})
    valid_until = ma.fields.Date(required=True, metadata=VALID_UNTIL)
    links = LINKS
    reason = REASON


class HouseholdInSchema(Schema):
    name = text_field(households.NAME_MAX, required=True)
    town = text_field(households.TOWN_MAX, required=True)
    village = text_field(households.VILLAGE_MAX, required=True)
    registry_number = ma.fields.Str(
        required=True, validate=ma.validate.Regexp(r"^[A-Za-z0-9-]{4,40}$"), metadata={"description": "建档立卡编号"}
    )
    links = LINKS
    share_pct = ma.fields.Int(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "its agreed share of the producer's income; none: an equal split"},
    )
    reason = REASON


class RemoveSchema(Schema):
    reason = text_field(households.REASON_MAX, required=True)


class CertificateInSchema(Schema):
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf(certificates.LISTING_CERTIFICATE_KINDS))
    label = text_field(certificates.LABEL_MAX, allow_none=True, metadata={"description": "required for kind other"})
    number = text_field(certificates.NUMBER_MAX, required=True)
    issuer = text_field(certificates.ISSUER_MAX, allow_none=True)
    valid_until = ma.fields.Date(required=True, metadata=VALID_UNTIL)
    reason = REASON


class HouseholdListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Dict())


@blp.route("/producers/<int:producer_id>/admission")
class ProducerAdmission(MethodView):
    @api_auth("operator", "producer")
    @blp.arguments(AdmissionInSchema)
    @blp.response(200, AdmissionSchema)
    def put(self, data, producer_id):
        """Record or renew the producer's 扶贫产品认定 / 832 admission: operators any producer, a producer itself."""
        return certificates.record_admission(g.api_user, producer_id, **data)


@blp.route("/producers/<int:producer_id>/households")
class ProducerHouseholds(MethodView):
    @api_auth("operator", "producer")
    @blp.response(200, HouseholdListSchema)
    def get(self, producer_id):
        """The poor households a cooperative or enterprise is linked to, each with its registry number and share."""
        return {"items": household_list(access.get_producer(g.api_user, producer_id))}

    @api_auth("operator")
    @blp.arguments(HouseholdInSchema)
    @blp.response(201, HouseholdSchema)
    def post(self, data, producer_id):
        """List a linked poor household (operators); the producer's linked_households count follows the list."""
        return households.add_household(g.api_user, producer_id, **data)


@blp.route("/producers/<int:producer_id>/households/<int:household_id>")
class ProducerHousehold(MethodView):
    @api_auth("operator")
    @blp.arguments(RemoveSchema)
    @blp.response(204)
    def delete(self, data, producer_id, household_id):
        """Take a household off the list (operators), with a reason for the audit log."""
        households.remove_household(g.api_user, producer_id, household_id, reason=data["reason"])


@blp.route("/listings/<int:listing_id>/certificates")
class ListingCertificates(MethodView):
    @api_auth("operator", "producer")
    @blp.arguments(CertificateInSchema)
    @blp.response(201, CertificateSchema)
    def post(self, data, listing_id):
        """Record a listing's certificate (animal_quarantine, compliance_promise, other); once expired, the listing
        cannot go into new campaigns."""
        return certificates.add_listing_certificate(g.api_user, listing_id, **data)


@blp.route("/listings/<int:listing_id>/certificates/<int:certificate_id>")
class ListingCertificate(MethodView):
    @api_auth("operator", "producer")
    @blp.response(204)
    def delete(self, listing_id, certificate_id):
        """Remove a certificate recorded by mistake."""
        certificates.remove_listing_certificate(g.api_user, listing_id, certificate_id)
