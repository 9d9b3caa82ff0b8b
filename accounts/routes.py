"""Pages: log in and out, password, language, and operators' unit and user management."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME
from wtforms import SelectChoice

from accounts import agenda, codes, preferences, registration, services
from accounts.access import role_required
from accounts.forms import (
    ChangePasswordForm,
    CodeLoginForm,
    JoinForm,
    LoginForm,
    RemindersForm,
    ResetPasswordForm,
    UnitForm,
    UserForm,
)
from accounts.throttle import login_limited, note_wrong_login
from errors import AlreadyRegistered, DomainError, RateLimited, SmsNotSent, ValidationFailed
from extensions import db
from producers.models import Producer
from producers.towns import town_names
from shop.progress import item_sold_pct
from units import invitations

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _safe_next(target):
    """Only redirect back to a path on this site: ``/...``, never ``//host``, ``/\\host`` or a path hiding one behind
    a tab or newline (browsers read a backslash as a slash and drop those characters)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    return target if parts.scheme == "" and parts.netloc == "" else None


def home_for(user):
    if user.role == "operator":
        return url_for("accounts.operator_home")
    if user.role == "producer":
        return url_for("producers.home")
    if user.role == "cadre":
        return url_for("cadres.index")
    if user.is_coordinator and user.unit_id is not None:
        # A coordinator's work is the unit's orders: their unit's page, with its campaigns, one tap from each.
        return url_for("units.index")
    return url_for("shop.index")


def show_field_errors(form, error: ValidationFailed):
    """Put a service's field errors on the form so the page shows them beside each field."""
    for field_name, messages in error.fields.items():
        field = getattr(form, field_name, None)
        if field is not None:
            field.errors = list(field.errors) + messages
        else:
            for message in messages:
                flash(message, "danger")
    flash(error.message, "danger")


def _form_page(template, **context):
    """A form page; a POST that lands here instead of redirecting was refused, and says so with 422."""
    return render_template(template, **context), 422 if request.method == "POST" else 200


@bp.route("/login", methods=["GET", "POST"])
@login_limited
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")) or home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            note_wrong_login()
            flash(_("Wrong phone/email or password."), "danger")
        else:
            login_user(user, remember=form.remember.data)
            if user.locale is None and session.get("lang"):
                services.set_locale(user, session["lang"])
            elif user.locale:
                # Kept in the session too, so an error page can speak it while the database is down.
                session["lang"] = user.locale
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("accounts/login.html", form=form), 200 if request.method == "GET" or not form.errors else 422


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        services.log_out(current_user)
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            show_field_errors(form, error)
        else:
            _stay_logged_in(current_user._get_current_object())
            flash(_("Your password has been changed."), "success")
            return redirect(home_for(current_user))
    return _form_page("accounts/password.html", form=form)


@bp.route("/reminders", methods=["GET", "POST"])
@login_required
def reminders():
    """Reminders before a campaign closes, on or off: the link every reminder ends with, one tap to change."""
    form = RemindersForm()
    choice = request.form.get("campaign_reminders")
    if request.method == "POST" and choice not in ("on", "off"):
        flash(_("Choose on or off."), "danger")
        return render_template("accounts/reminders.html", form=form), 422
    if form.validate_on_submit():
        on = choice == "on"
        preferences.set_campaign_reminders(current_user, on)
        flash(
            _("Reminders are on.") if on else _("Reminders are off: Pinbang will not remind you before campaigns close."),
            "success",
        )
        return redirect(url_for("accounts.reminders"))
    return render_template("accounts/reminders.html", form=form)


def _stay_logged_in(user):
    """After the user's sessions were ended on purpose, keep this browser (the one that did it) logged in."""
    login_user(user, remember=current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies)


@bp.route("/language/<lang>", methods=["POST"])
def set_language(lang):
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            services.set_locale(current_user, lang)
    return redirect(_safe_next(request.form.get("next")) or url_for("shop.index"))


@bp.route("/operator")
@role_required("operator")
def operator_home():
    """What needs doing: reviews, campaigns taking orders, pick lists not confirmed, failed messages, lagging units."""
    return render_template("accounts/operator_home.html", agenda=agenda.operator_agenda(), item_sold_pct=item_sold_pct)


@bp.route("/units")
@role_required("operator")
def units():
    return render_template("accounts/units.html", units=services.list_units())


@bp.route("/units/new", methods=["GET", "POST"])
@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@role_required("operator")
def edit_unit(unit_id=None):
    unit = services.get_unit(unit_id) if unit_id else None
    form = UnitForm(obj=unit)
    if form.validate_on_submit():
        try:
            if unit is None:
                services.create_unit(current_user, form.name.data, form.address.data, form.contact_phone.data)
            else:
                services.update_unit(current_user, unit, form.name.data, form.address.data, form.contact_phone.data)
        except ValidationFailed as error:
            show_field_errors(form, error)
        else:
            flash(_("Unit saved."), "success")
            return redirect(url_for("accounts.units"))
    return _form_page("accounts/unit_form.html", form=form, unit=unit)


@bp.route("/users")
@role_required("operator")
def users():
    role = request.args.get("role") or None
    return render_template("accounts/users.html", users=services.list_users(role), role=role)


def _user_form_choices(form):
    form.unit_id.choices = [SelectChoice("", "—")] + [SelectChoice(u.id, u.name) for u in services.list_units()]
    producers = db.session.scalars(sa.select(Producer).order_by(Producer.name)).all()
    form.producer_id.choices = [SelectChoice("", "—")] + [SelectChoice(p.id, p.name) for p in producers]
    form.town.choices = [SelectChoice("", "—")] + [SelectChoice(town, town) for town in town_names()]


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@role_required("operator")
def edit_user(user_id=None):
    user = services.get_user(user_id) if user_id else None
    form = UserForm(obj=user)
    _user_form_choices(form)
    if form.validate_on_submit():
        fields = dict(
            name=form.name.data,
            phone=form.phone.data,
            email=form.email.data,
            role=form.role.data,
            unit_id=form.unit_id.data,
            coordinator=form.coordinator.data,
            producer_id=form.producer_id.data,
            town=form.town.data,
        )
        try:
            if user is None:
                services.create_user(current_user, password=form.password.data or "", **fields)
            else:
                services.update_user(current_user, user, active=form.active.data, password=form.password.data, **fields)
                if user is current_user._get_current_object():
                    _stay_logged_in(user)
        except DomainError as error:
            if isinstance(error, ValidationFailed):
                show_field_errors(form, error)
            else:
                flash(error.message, "danger")
        else:
            flash(_("User saved."), "success")
            return redirect(url_for("accounts.users"))
    return _form_page("accounts/user_form.html", form=form, user=user)


# ---------------------------------------------------------------- the front door: invitation, SMS code, reset


def _send_code(form, purpose):
    """The form's "send me a code" button: the same words whether or not the phone has an account."""
    try:
        codes.request_code(form.phone.data, purpose, request.remote_addr)
    except ValidationFailed as error:
        show_field_errors(form, error)
        return 422
    except (RateLimited, SmsNotSent) as error:
        flash(error.message, "danger")
        return error.status
    flash(_("An SMS is on its way to %(phone)s; type the code below.", phone=services.normalize_phone(form.phone.data)), "info")
    return 200


def _code_page(template, form, status, **context):
    return render_template(template, form=form, next=_safe_next(request.args.get("next")), **context), status


def _logged_in(user, remember=False):
    login_user(user, remember=remember)
    if user.locale is None and session.get("lang"):
        services.set_locale(user, session["lang"])
    flash(_("Welcome, %(name)s.", name=user.name), "success")
    return redirect(_safe_next(request.args.get("next")) or home_for(user))


@bp.route("/join/<code>", methods=["GET", "POST"])
@login_limited
def join(code):
    """A unit's invitation: name, phone and SMS code make a buyer of the unit, then back to ``next``."""
    unit = invitations.find_unit_for_invitation(code)
    form = JoinForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 422
        elif form.send_code.data:
            status = _send_code(form, "register")
        else:
            try:
                user = registration.register(
                    invite=code,
                    phone=form.phone.data,
                    sms_code=form.sms_code.data,
                    name=form.name.data,
                    password=form.password.data or None,
                    locale=session.get("lang"),
                )
            except ValidationFailed as error:
                show_field_errors(form, error)
                status = 422
            except AlreadyRegistered as error:
                flash(error.message, "warning")
                status = error.status
            else:
                return _logged_in(user)
    return _code_page("accounts/join.html", form, status, unit=unit)


@bp.route("/login/sms", methods=["GET", "POST"])
@login_limited
def login_by_code():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = CodeLoginForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 422
        elif form.send_code.data:
            status = _send_code(form, "login")
        else:
            try:
                user = registration.login_with_code(phone=form.phone.data, sms_code=form.sms_code.data)
            except ValidationFailed as error:
                note_wrong_login()
                show_field_errors(form, error)
                status = 422
            else:
                return _logged_in(user, remember=form.remember.data)
    return _code_page("accounts/login_sms.html", form, status)


@bp.route("/password/forgot", methods=["GET", "POST"])
@login_limited
def forgot_password():
    """忘记密码: a code to the phone, then a new password; every other login of the account ends."""
    form = ResetPasswordForm()
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 422
        elif form.send_code.data:
            status = _send_code(form, "reset")
        else:
            try:
                registration.reset_password(
                    phone=form.phone.data, sms_code=form.sms_code.data, new_password=form.new_password.data
                )
            except ValidationFailed as error:
                show_field_errors(form, error)
                status = 422
            else:
                logout_user()
                flash(_("Your password has been changed; log in with it."), "success")
                return redirect(url_for("accounts.login", next=_safe_next(request.args.get("next"))))
    return _code_page("accounts/forgot_password.html", form, status)
