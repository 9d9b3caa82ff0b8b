"""Certificate pages: a producer's admission (扶贫产品认定 / 832), its linked poor households, and a listing's
certificates; thin: the rules live in producers.certificates and producers.households."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from accounts.routes import show_field_errors
from database import local_today
from errors import DomainError, ValidationFailed
from producers import access, certificates, households
from producers.forms import AdmissionForm, CertificateForm, HouseholdForm, RemoveForm
from producers.routes import bp


def _show(form, error):
    if isinstance(error, ValidationFailed):
        show_field_errors(form, error)
    else:
        flash(error.message, "danger")


def _status():
    return 422 if request.method == "POST" else 200


@bp.route("/admission", methods=["GET", "POST"])
@bp.route("/registry/<int:producer_id>/admission", methods=["GET", "POST"])
@role_required("producer", "operator")
def admission(producer_id=None):
    """The admission: a producer its own, an operator any producer's."""
    if producer_id is None:
        producer_id = current_user.producer_id
    producer = access.get_producer(current_user, producer_id)
    current = producer.admission
    form = AdmissionForm()
    if request.method == "GET" and current is not None:
        form.number.data, form.county.data = current.number, current.issuer
        form.valid_until.data, form.links.data = current.valid_until, current.link_list
    if form.validate_on_submit():
        try:
            certificates.record_admission(
                current_user,
                producer.id,
                number=form.number.data,
                county=form.county.data,
                valid_until=form.valid_until.data,
                links=form.links.data,
                reason=form.reason.data,
            )
        except DomainError as error:
            _show(form, error)
        else:
            flash(_("The admission is saved."), "success")
            if current_user.role == "operator":
                return redirect(url_for("producers.producer_detail", producer_id=producer.id))
            return redirect(url_for("producers.home"))
    elif form.errors:
        flash(_("Please correct the marked fields."), "danger")
    return render_template(
        "producers/admission_form.html",
        form=form,
        producer=producer,
        admission=current,
        today=local_today(),
        rules=certificates,
    ), _status()


@bp.route("/registry/<int:producer_id>/households", methods=["GET", "POST"])
@role_required("operator")
def households_page(producer_id):
    """A cooperative's or enterprise's linked poor households, by registry number; operators add and remove them."""
    producer = access.get_producer(current_user, producer_id)
    form = HouseholdForm()
    if form.validate_on_submit():
        try:
            households.add_household(
                current_user,
                producer.id,
                name=form.name.data,
                town=form.town.data,
                village=form.village.data,
                registry_number=form.registry_number.data,
                links=form.links.data,
                share_pct=form.share_pct.data,
                reason=form.reason.data,
            )
        except DomainError as error:
            _show(form, error)
        else:
            flash(_("Household added."), "success")
            return redirect(url_for("producers.households_page", producer_id=producer.id))
    elif form.errors:
        flash(_("Please correct the marked fields."), "danger")
    listed = list(producer.households)
    return render_template(
        "producers/households.html",
        producer=producer,
        households=listed,
        shares=households.income_shares(listed),
        form=form,
        remove_form=RemoveForm(),
        links=certificates.LINK_LABELS,
    ), _status()


@bp.route("/registry/<int:producer_id>/households/<int:household_id>/remove", methods=["POST"])
@role_required("operator")
def remove_household(producer_id, household_id):
    access.get_producer(current_user, producer_id)
    form = RemoveForm()
    try:
        households.remove_household(current_user, producer_id, household_id, reason=form.reason.data)
    except DomainError as error:
        for messages in (error.details.get("fields") or {"": [error.message]}).values():
            for message in messages:
                flash(message, "danger")
    else:
        flash(_("Household removed."), "info")
    return redirect(url_for("producers.households_page", producer_id=producer_id))


@bp.route("/listings/<int:listing_id>/certificates", methods=["GET", "POST"])
@role_required("producer", "operator")
def listing_certificates(listing_id):
    listing = access.get_listing(current_user, listing_id)
    form = CertificateForm()
    if form.validate_on_submit():
        try:
            certificates.add_listing_certificate(
                current_user,
                listing.id,
                kind=form.kind.data,
                label=form.label.data,
                number=form.number.data,
                issuer=form.issuer.data,
                valid_until=form.valid_until.data,
            )
        except DomainError as error:
            _show(form, error)
        else:
            flash(_("Certificate added."), "success")
            return redirect(url_for("producers.listing_certificates", listing_id=listing.id))
    elif form.errors:
        flash(_("Please correct the marked fields."), "danger")
    return render_template(
        "producers/listing_certificates.html",
        listing=listing,
        form=form,
        remove_form=RemoveForm(),
        rules=certificates,
        problem=certificates.campaign_problem(listing),
    ), _status()


@bp.route("/listings/<int:listing_id>/certificates/<int:certificate_id>/remove", methods=["POST"])
@role_required("producer", "operator")
def remove_certificate(listing_id, certificate_id):
    access.get_listing(current_user, listing_id)
    form = RemoveForm()
    try:
        certificates.remove_listing_certificate(current_user, listing_id, certificate_id, reason=form.reason.data)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("Certificate removed."), "info")
    return redirect(url_for("producers.listing_certificates", listing_id=listing_id))
