"""Coordinator pages: the unit's campaigns, its orders per person, the grid, sheet upload, distribution list, payments."""

import base64
import binascii
import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from accounts.access import coordinator_required
from database import local_today
from errors import CampaignNotOpen, DomainError, InvalidSheet, UploadTooLarge
from measures import yuan
from shop import lifecycle as shop_lifecycle
from shop.qr import qr_png, qr_svg
from spreadsheets import XLSX_TYPE
from units import campaigns, invitations, payments, roster, sheet_import, sheets, unit_orders
from units import distribution as distribution_list
from units import grid as unit_grid
from units.access import coordinator_campaign, unit_order, visible_unit
from units.forms import (
    ClearPaymentForm,
    ConfirmRosterForm,
    ConfirmSheetForm,
    GridForm,
    PaymentForm,
    RosterUploadForm,
    RotateInvitationForm,
    SheetUploadForm,
)
from units.sheet_template import sheet_template

bp = Blueprint("units", __name__, url_prefix="/units")

DEFAULT_GRID_ROWS = 5
MORE_GRID_ROWS = 5


def _campaign(campaign_id):
    return coordinator_campaign(current_user, campaign_id)


@bp.route("/")
@coordinator_required
def index():
    """The campaigns open to the coordinator's unit, with what the unit has ordered in each."""
    return render_template(
        "units/index.html",
        rows=campaigns.unit_campaigns(current_user),
        unit=current_user.unit,
        invitation=invitations.current_invitation(current_user, current_user.unit_id),
        url_of=invitations.invitation_url,
        rotate_form=RotateInvitationForm(formdata=None),
        today_year=local_today().year,
    )


@bp.route("/campaigns/<int:campaign_id>")
@coordinator_required
def overview(campaign_id):
    unpaid = request.args.get("unpaid") == "1"
    campaign = _campaign(campaign_id)
    data = unit_orders.unit_orders(current_user, current_user.unit_id, campaign.id, unpaid_only=unpaid, paged=True)
    return render_template(
        "units/overview.html",
        data=data,
        campaign=campaign,
        phase=shop_lifecycle.campaign_phase(campaign),
        unpaid=unpaid,
        recorders=payments.recorded_by_names(data.orders),
        payment_form=PaymentForm(formdata=None),
        clear_form=ClearPaymentForm(formdata=None),
    )


# ---------------------------------------------------------------- grid


def _grid_rows_from(form, items, count):
    rows = []
    for number in range(1, count + 1):
        rows.append(
            unit_grid.GridRow(
                name=form.get(f"name-{number}", ""),
                phone=form.get(f"phone-{number}", ""),
                quantities={item.id: form.get(f"qty-{number}-{item.id}", "") for item in items},
                note=form.get(f"note-{number}", ""),
            )
        )
    return rows


def _grid_count(raw):
    try:
        count = int(raw)
    except (TypeError, ValueError):
        count = DEFAULT_GRID_ROWS
    return max(1, min(count, unit_grid.MAX_GRID_ROWS))


@bp.route("/campaigns/<int:campaign_id>/grid", methods=["GET", "POST"])
@coordinator_required
def grid(campaign_id):
    """Type colleagues' orders: one row a person (name, phone, quantity per item); all rows are saved together."""
    campaign = _campaign(campaign_id)
    items = campaigns.campaign_items(campaign.id)
    form = GridForm()
    count = _grid_count(request.form.get("rows") or request.args.get("rows"))
    rows = _grid_rows_from(request.form, items, count) if request.method == "POST" else _grid_rows_from({}, items, count)
    problems, status = [], 200
    if form.validate_on_submit():
        if form.more.data:
            count = min(count + MORE_GRID_ROWS, unit_grid.MAX_GRID_ROWS)
            rows += _grid_rows_from({}, items, count)[len(rows) :]
        else:
            try:
                result = unit_grid.enter_orders(current_user, campaign.id, rows)
            except InvalidSheet as error:
                problems, status = error.rows, 422
                flash(error.message, "danger")
            except (CampaignNotOpen, DomainError) as error:
                flash(error.message, "danger")
                status = error.status
            else:
                flash(_("%(n)d orders saved for your colleagues.", n=result.orders), "success")
                return redirect(url_for("units.overview", campaign_id=campaign.id))
    elif request.method == "POST":
        status = 400
        flash(_("The form has expired; please try again."), "danger")
    return (
        render_template(
            "units/grid.html",
            campaign=campaign,
            items=items,
            rows=rows,
            count=len(rows),
            form=form,
            problems=problems,
            bad_rows={p["row"] for p in problems},
            phase=shop_lifecycle.campaign_phase(campaign),
        ),
        status,
    )


# ---------------------------------------------------------------- sheets


@bp.route("/campaigns/<int:campaign_id>/template.xlsx")
@coordinator_required
def template(campaign_id):
    filename, data = sheet_template(current_user, campaign_id)
    return send_file(io.BytesIO(data), mimetype=XLSX_TYPE, as_attachment=True, download_name=filename)


def _upload_page(campaign, form, problems=(), status=200):
    return (
        render_template(
            "units/upload.html",
            campaign=campaign,
            form=form,
            problems=list(problems),
            sheet=sheet_import.current_sheet(campaign.id, current_user.unit_id),
            phase=shop_lifecycle.campaign_phase(campaign),
        ),
        status,
    )


def _imported(campaign, result):
    flash(
        _(
            "Sheet imported: %(orders)d people, %(lines)d lines, total %(total)s.",
            orders=result.orders,
            lines=result.lines,
            total=yuan(result.total_fen),
        ),
        "success",
    )
    return redirect(url_for("units.overview", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/sheet", methods=["GET", "POST"])
@coordinator_required
def upload(campaign_id):
    """Upload a filled-in sheet. The first one is imported at once; a new one first shows what it would change."""
    campaign = _campaign(campaign_id)
    form = SheetUploadForm()
    if not form.validate_on_submit():
        return _upload_page(campaign, form, status=422 if request.method == "POST" else 200)
    upload_file = form.file.data
    try:
        if sheet_import.current_sheet(campaign.id, current_user.unit_id) is None:
            return _imported(campaign, sheet_import.import_sheet(current_user, campaign.id, upload_file))
        data = upload_file.stream.read(sheets.LIMITS.max_bytes + 1)
        plan = sheet_import.preview_sheet(current_user, campaign.id, data, filename=upload_file.filename)
    except InvalidSheet as error:
        flash(error.message, "danger")
        return _upload_page(campaign, form, error.rows, 422)
    except (UploadTooLarge, CampaignNotOpen) as error:
        flash(error.message, "danger")
        return _upload_page(campaign, form, status=error.status)
    confirm = ConfirmSheetForm(formdata=None, sheet=base64.b64encode(data).decode(), filename=upload_file.filename or "")
    return render_template(
        "units/preview.html",
        campaign=campaign,
        plan=plan,
        confirm=confirm,
        titles={item.id: item for item in plan.items},
    )


@bp.route("/campaigns/<int:campaign_id>/sheet/confirm", methods=["POST"])
@coordinator_required
def confirm_upload(campaign_id):
    campaign = _campaign(campaign_id)
    form = ConfirmSheetForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please upload the sheet again."), "danger")
        return redirect(url_for("units.upload", campaign_id=campaign.id))
    try:
        data = base64.b64decode(form.sheet.data, validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    try:
        result = sheet_import.import_sheet(current_user, campaign.id, data, filename=form.filename.data or "sheet")
    except InvalidSheet as error:
        flash(error.message, "danger")
        return _upload_page(campaign, SheetUploadForm(formdata=None), error.rows, 422)
    except (UploadTooLarge, CampaignNotOpen) as error:
        flash(error.message, "danger")
        return _upload_page(campaign, SheetUploadForm(formdata=None), status=error.status)
    return _imported(campaign, result)


# ---------------------------------------------------------------- distribution


@bp.route("/campaigns/<int:campaign_id>/distribution")
@coordinator_required
def distribution(campaign_id):
    """The delivery-day list to print: one row a person, what to hand over, what they owe, a signature box."""
    campaign = _campaign(campaign_id)
    data = unit_orders.unit_orders(current_user, current_user.unit_id, campaign.id)
    return render_template("units/distribution.html", data=data, campaign=campaign)


@bp.route("/campaigns/<int:campaign_id>/distribution.xlsx")
@coordinator_required
def distribution_xlsx(campaign_id):
    campaign = _campaign(campaign_id)
    data = unit_orders.unit_orders(current_user, current_user.unit_id, campaign.id)
    filename, content = distribution_list.distribution_xlsx(data)
    return send_file(io.BytesIO(content), mimetype=XLSX_TYPE, as_attachment=True, download_name=filename)


# ---------------------------------------------------------------- payments


def _back_to(order):
    unpaid = "1" if request.form.get("unpaid") == "1" else None
    return redirect(url_for("units.overview", campaign_id=order.campaign_id, unpaid=unpaid) + f"#person-{order.buyer_phone}")


@bp.route("/orders/<int:order_id>/payment", methods=["POST"])
@coordinator_required
def mark_paid(order_id):
    order = unit_order(current_user, order_id)
    form = PaymentForm()
    if not form.validate_on_submit():
        flash(_("Choose cash or transfer."), "danger")
        return _back_to(order)
    try:
        order = payments.record_payment(current_user, order.id, form.method.data)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("%(name)s: paid %(amount)s.", name=order.buyer_name, amount=yuan(unit_orders.order_amount(order))), "success")
    return _back_to(order)


@bp.route("/orders/<int:order_id>/payment/clear", methods=["POST"])
@coordinator_required
def clear_paid(order_id):
    order = unit_order(current_user, order_id)
    if ClearPaymentForm().validate_on_submit():
        order = payments.clear_payment(current_user, order.id)
        flash(_("%(name)s: marked unpaid again.", name=order.buyer_name), "info")
    return _back_to(order)


# ---------------------------------------------------------------- invitation and roster


def _people_page(unit, form=None, status=200):
    invitation = invitations.current_invitation(current_user, unit.id)
    return (
        render_template(
            "units/people.html",
            unit=unit,
            invitation=invitation,
            url_of=invitations.invitation_url,
            rotate_form=RotateInvitationForm(formdata=None),
            form=form or RosterUploadForm(formdata=None),
        ),
        status,
    )


@bp.route("/<int:unit_id>/people")
@login_required
def people(unit_id):
    """The unit's invitation (link, QR code, replace) and the staff-list upload; its coordinator and operators."""
    return _people_page(visible_unit(current_user, unit_id))


@bp.route("/<int:unit_id>/invite.<any(svg, png):kind>")
@login_required
def invite_qr(unit_id, kind):
    invitation = invitations.current_invitation(current_user, unit_id)
    url = invitations.invitation_url(invitation.code)
    if kind == "svg":
        return send_file(io.BytesIO(qr_svg(url)), mimetype="image/svg+xml", max_age=0)
    return send_file(io.BytesIO(qr_png(url)), mimetype="image/png", as_attachment=True, download_name=f"invitation-{unit_id}.png")


@bp.route("/<int:unit_id>/invite/rotate", methods=["POST"])
@login_required
def rotate_invite(unit_id):
    unit = visible_unit(current_user, unit_id)
    if RotateInvitationForm().validate_on_submit():
        invitations.rotate_invitation(current_user, unit.id)
        flash(_("The invitation link and QR code are new; the old ones no longer work."), "success")
    back = url_for("units.index") if request.form.get("back") == "index" else url_for("units.people", unit_id=unit.id)
    return redirect(back)


@bp.route("/<int:unit_id>/roster", methods=["POST"])
@login_required
def upload_roster(unit_id):
    """Check a staff list: who is new, who already has an account, which rows are wrong; nothing is sent yet."""
    unit = visible_unit(current_user, unit_id)
    form = RosterUploadForm()
    if not form.validate_on_submit():
        return _people_page(unit, form, 422)
    upload_file = form.file.data
    try:
        data = upload_file.stream.read(sheets.LIMITS.max_bytes + 1)
        plan = roster.plan_roster(current_user, unit.id, data, filename=upload_file.filename or "")
    except (InvalidSheet, UploadTooLarge) as error:
        flash(error.message, "danger")
        problems = error.rows if isinstance(error, InvalidSheet) else []
        return render_template("units/roster_preview.html", unit=unit, plan=None, problems=problems, confirm=None), error.status
    confirm = None
    if not plan.problems:
        confirm = ConfirmRosterForm(formdata=None, roster=base64.b64encode(data).decode(), filename=upload_file.filename or "")
    return (
        render_template("units/roster_preview.html", unit=unit, plan=plan, problems=plan.problems, confirm=confirm),
        422 if plan.problems else 200,
    )


@bp.route("/<int:unit_id>/roster/confirm", methods=["POST"])
@login_required
def confirm_roster(unit_id):
    unit = visible_unit(current_user, unit_id)
    form = ConfirmRosterForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; please upload the staff list again."), "danger")
        return redirect(url_for("units.people", unit_id=unit.id))
    try:
        data = base64.b64decode(form.roster.data, validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    try:
        plan = roster.import_roster(current_user, unit.id, data, filename=form.filename.data or "roster")
    except (InvalidSheet, UploadTooLarge) as error:
        flash(error.message, "danger")
        problems = error.rows if isinstance(error, InvalidSheet) else []
        return render_template("units/roster_preview.html", unit=unit, plan=None, problems=problems, confirm=None), error.status
    flash(_("%(n)d invitations sent by SMS.", n=plan.invited), "success")
    return redirect(url_for("units.people", unit_id=unit.id))
