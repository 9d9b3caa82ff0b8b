"""Pages for units' yearly targets (units.targets): a unit's own, for its coordinator or an operator, and every
unit's progress for operators, lagging units first."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from accounts.access import role_required
from accounts.routes import show_field_errors
from database import local_today
from errors import DomainError, ValidationFailed
from measures import parse_yuan, yuan_amount
from units import targets
from units.forms import TargetForm
from units.routes import bp


@bp.route("/targets")
@role_required("operator")
def all_targets():
    year = request.args.get("year", type=int) or local_today().year
    if not targets.EARLIEST_YEAR <= year <= targets.LATEST_YEAR:
        abort(404)
    return render_template("units/targets.html", year=year, rows=targets.all_units_progress(year))


@bp.route("/<int:unit_id>/targets/<int:year>", methods=["GET", "POST"])
@login_required
def unit_target(unit_id, year):
    try:
        progress = targets.unit_progress(current_user, unit_id, year)
    except DomainError as error:
        abort(error.status)
    form = TargetForm()
    if request.method == "GET" and progress.target is not None:
        form.canteen_budget.data = yuan_amount(progress.target.canteen_budget_fen)
        form.canteen_share_pct.data = progress.target.canteen_share_pct
        form.union_budget.data = yuan_amount(progress.target.union_budget_fen)
        form.union_share_pct.data = progress.target.union_share_pct
    if form.validate_on_submit():
        try:
            budgets = {}
            for field, name in ((form.canteen_budget, "canteen_budget_fen"), (form.union_budget, "union_budget_fen")):
                try:
                    budgets[name] = parse_yuan(field.data)
                except ValueError as problem:
                    raise ValidationFailed(_("Please correct the marked fields."), {field.name: [str(problem)]}) from None
            progress = targets.set_target(
                current_user,
                unit_id,
                year,
                canteen_share_pct=form.canteen_share_pct.data,
                union_share_pct=form.union_share_pct.data,
                **budgets,
            )
        except ValidationFailed as error:
            for name in ("canteen_budget", "union_budget"):
                if f"{name}_fen" in error.fields:
                    error.fields[name] = error.fields.pop(f"{name}_fen")
            show_field_errors(form, error)
        else:
            flash(_("Target saved."), "success")
            return redirect(url_for("units.unit_target", unit_id=unit_id, year=year))
    status = 422 if request.method == "POST" else 200
    return render_template("units/target.html", progress=progress, form=form), status
