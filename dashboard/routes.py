"""Operators' dashboard pages (totals, charts, delivery, settlement, exports) and the public results page."""

import io
from datetime import datetime, time
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from accounts.access import role_required
from accounts.routes import show_field_errors
from dashboard import charts, delivery, export_jobs, exports, payouts, settlement
from dashboard.forms import MarkDeliveredForm, PayoutForm, RetryExportForm
from dashboard.kept_reading import (
    figures_breakdown,
    figures_results,
    figures_rows,
    figures_series,
    figures_summary,
    figures_totals,
)
from dashboard.sales import GROUPINGS, get_campaign, reported_campaigns
from database import local_today, local_zone, utcnow
from earnings.services import overdue_payouts
from errors import Conflict, DomainError, ValidationFailed
from list_filters import ListFilter, filter_choices
from measures import kg, yuan
from paging import page_of

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _trimmed(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@bp.app_template_filter("tonnes")
def tonnes(grams) -> str:
    """Integer grams as tonnes, exactly: 80,000,500 g → "80.0005 t"."""
    return _trimmed(Decimal(int(grams or 0)) / 1_000_000) + " t"


@bp.app_template_filter("jin")
def jin(grams) -> str:
    """Integer grams as 斤 (0.5 kg), exactly."""
    return _trimmed(Decimal(int(grams or 0)) / 500) + " 斤"


def _selected_campaign():
    campaign_id = request.args.get("campaign_id", type=int)
    return get_campaign(campaign_id) if campaign_id is not None else None


@bp.route("/")
@role_required("operator")
def index():
    campaign = _selected_campaign()
    campaign_id = campaign.id if campaign else None
    totals, reach = figures_totals(campaign_id)
    products = figures_rows(campaign_id, "product")
    # The charts need sums only; the cheaper series queries spare two sorts of every sold line.
    towns = figures_series(campaign_id, "town")
    days = figures_series(campaign_id, "day")
    chart_svgs = {
        "days": charts.line_chart([(row["key"], row["revenue_fen"]) for row in days], _("Sales per day (yuan)"), yuan),
        "towns": charts.bar_chart([(row["label"], row["weight_g"]) for row in towns], _("Weight sold per town (kg)"), kg),
        "products": charts.bar_chart(
            [(row["label"], row["revenue_fen"]) for row in products], _("Sales per product (yuan)"), yuan
        ),
    }
    return render_template(
        "dashboard/index.html",
        campaign=campaign,
        campaigns=reported_campaigns(),
        per_campaign=figures_rows(None, "campaign") if campaign is None else [],
        totals=totals,
        reach=reach,
        products=products,
        charts=chart_svgs,
        outstanding=delivery.count_outstanding(campaign_id),
        overdue=overdue_payouts(),
    )


@bp.route("/sales")
@role_required("operator")
def sales():
    campaign = _selected_campaign()
    group_by = request.args.get("group_by", "product")
    if group_by not in GROUPINGS:
        group_by = "product"
    campaign_id = campaign.id if campaign else None
    summary = figures_summary(campaign_id, group_by)
    breakdown = figures_breakdown(campaign_id, group_by) if group_by != "product" else {}
    return render_template(
        "dashboard/sales.html",
        campaign=campaign,
        campaigns=reported_campaigns(),
        group_by=group_by,
        summary=summary,
        breakdown=breakdown,
    )


@bp.route("/outstanding")
@role_required("operator")
def outstanding():
    campaign = _selected_campaign()
    filters = ListFilter.from_args(request.args)
    return render_template(
        "dashboard/outstanding.html",
        rows=delivery.outstanding_page(campaign.id if campaign else None, filters),
        campaign=campaign,
        campaigns=reported_campaigns(),
        filters=filters,
        choices=filter_choices(),
    )


@bp.route("/campaigns/<int:campaign_id>/delivery", methods=["GET", "POST"])
@role_required("operator")
def campaign_delivery(campaign_id):
    form = MarkDeliveredForm()
    if form.validate_on_submit():
        unit_id, producer_id = form.ids()
        try:
            added = delivery.mark_delivered(current_user, campaign_id, unit_id, producer_id, note=form.note.data or None)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(
                _("Delivery recorded.") if added else _("This was already recorded as delivered."), "success" if added else "info"
            )
        return redirect(url_for("dashboard.campaign_delivery", campaign_id=campaign_id))
    if request.method == "POST":
        flash(_("The form was not valid; please try again."), "danger")
        return redirect(url_for("dashboard.campaign_delivery", campaign_id=campaign_id))
    filters = ListFilter.from_args(request.args)
    return render_template(
        "dashboard/delivery.html",
        overview=delivery.delivery_overview(campaign_id, filters),
        form=form,
        filters=filters,
        choices=filter_choices(),
    )


@bp.route("/campaigns/<int:campaign_id>/delivery/<int:unit_id>")
@role_required("operator")
def delivery_sheet(campaign_id, unit_id):
    return render_template("dashboard/delivery_sheet.html", sheet=delivery.delivery_sheet(campaign_id, unit_id))


def _paid_at(day):
    """A chosen payment day as a time: now for today (or no day), local noon for another day."""
    if day is None or day == local_today():
        return None
    return datetime.combine(day, time(12), local_zone())


@bp.route("/campaigns/<int:campaign_id>/settlement", methods=["GET", "POST"])
@role_required("operator")
def campaign_settlement(campaign_id):
    data = settlement.reconciliation(campaign_id)
    form = PayoutForm()
    form.producer_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(s["producer"].id, _("%(name)s (balance %(amount)s)", name=s["producer"].name, amount=yuan(s["balance_fen"])))
        for s in data["statements"]
    ]
    if form.validate_on_submit():
        try:
            settlement.record_payout(
                current_user,
                campaign_id,
                form.producer_id.data,
                form.amount_fen(),
                form.method.data,
                reference=form.reference.data,
                paid_at=_paid_at(form.paid_on.data),
            )
        except ValidationFailed as error:
            if "amount_fen" in error.fields:
                error.fields["amount"] = error.fields.pop("amount_fen")
            if "paid_at" in error.fields:
                error.fields["paid_on"] = error.fields.pop("paid_at")
            show_field_errors(form, error)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("Payout recorded."), "success")
            return redirect(url_for("dashboard.campaign_settlement", campaign_id=campaign_id))
    filters = ListFilter.from_args(request.args)
    producers, statements = settlement.statements_page(campaign_id, filters)
    payout_page = page_of(settlement.payouts_query(campaign_id), request.args.get("payouts_page"))
    page = render_template(
        "dashboard/settlement.html",
        data=data,
        form=form,
        producers=producers,
        statements=statements,
        payouts=payout_page,
        reversed_ids=payouts.reversed_ids(payout_page.items),
        filters=filters,
        choices=filter_choices(),
    )
    return page, 422 if form.errors else 200


@bp.route("/payouts/<int:payout_id>/reverse", methods=["POST"])
@role_required("operator")
def reverse_payout(payout_id):
    """A payout recorded wrongly is reversed by an entry with a reason; the right one is then recorded anew."""
    payout = payouts.get_payout(payout_id)
    try:
        payouts.reverse_payout(current_user, payout_id, request.form.get("reason"))
    except DomainError as error:
        flash(error.message, "danger")
        for messages in getattr(error, "fields", {}).values():
            for message in messages:
                flash(message, "danger")
    else:
        flash(_("Payout reversed; record the right amount as a new payout."), "success")
    return redirect(url_for("dashboard.campaign_settlement", campaign_id=payout.campaign_id))


@bp.route("/campaigns/<int:campaign_id>/settlement/<int:producer_id>")
@role_required("operator", "producer")
def producer_statement(campaign_id, producer_id):
    """A producer's statement: operators any; a producer only its own (another producer's is not found)."""
    if current_user.role == "producer" and current_user.producer_id != producer_id:
        abort(404)
    return render_template(
        "dashboard/statement.html",
        campaign=get_campaign(campaign_id),
        statement=settlement.producer_statement(campaign_id, producer_id),
    )


@bp.route("/export/<name>.<fmt>")
@role_required("operator")
def export(name, fmt):
    args = {
        "campaign_id": request.args.get("campaign_id", type=int),
        "group_by": request.args.get("group_by"),
        "unit_id": request.args.get("unit_id", type=int),
        "producer_id": request.args.get("producer_id", type=int),
    }
    try:
        if export_jobs.needs_background(name, args):
            job = export_jobs.request_export(current_user, name, fmt, args)
            return redirect(url_for("dashboard.export_status", job_id=job.id))
        content, mimetype, filename = exports.export_table(name, fmt, args)
    except ValidationFailed as error:
        flash(error.message, "danger")
        for messages in error.fields.values():
            for message in messages:
                flash(message, "danger")
        return redirect(url_for("dashboard.index"))
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=filename)


@bp.route("/exports")
@role_required("operator")
def my_exports():
    return render_template("dashboard/exports.html", jobs=page_of(export_jobs.my_exports_query(current_user)))


@bp.route("/exports/<int:job_id>")
@role_required("operator")
def export_status(job_id):
    job = export_jobs.get_export(current_user, job_id)
    return render_template("dashboard/export_status.html", job=job, status=export_jobs.status_of(job))


@bp.route("/exports/<int:job_id>.json")
@role_required("operator")
def export_status_json(job_id):
    status = export_jobs.status_of(export_jobs.get_export(current_user, job_id))
    if status["ready"]:
        status["url"] = url_for("dashboard.export_download", job_id=job_id)
    return status, 200, {"Cache-Control": "no-store"}


@bp.route("/exports/<int:job_id>/file")
@role_required("operator")
def export_download(job_id):
    path, name, mimetype = export_jobs.export_file(current_user, job_id)
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=name)


@bp.route("/exports/<int:job_id>/retry", methods=["POST"])
@role_required("operator")
def export_retry(job_id):
    form = RetryExportForm()
    if form.validate_on_submit():
        try:
            export_jobs.retry_export(current_user, job_id)
        except Conflict as error:
            flash(error.message, "info")
        else:
            flash(_("The export is queued again."), "success")
    return redirect(url_for("dashboard.export_status", job_id=job_id))


@bp.route("/results/<slug>")
def results(slug):
    """Public: what a campaign achieved, fit to share in a chat group. No login, nothing personal."""
    data = figures_results(slug)
    products_chart = charts.bar_chart(
        [(row["label"], row["weight_g"]) for row in data["products"]], _("Weight sold per product (kg)"), kg
    )
    page = render_template("dashboard/results.html", data=data, chart=products_chart, now=utcnow(), public_page=True)
    # The language follows ?lang=, then a logged-in user's choice (cookie), then the browser's.
    return page, 200, {"Cache-Control": "public, max-age=60", "Vary": "Accept-Language, Cookie"}
