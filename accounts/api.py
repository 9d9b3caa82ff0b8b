"""JSON endpoints: tokens, units, users."""

import marshmallow as ma
import sqlalchemy as sa
from flask import g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from accounts import agenda, codes, preferences, registration, services
from accounts.access import api_auth
from accounts.models import ROLES, SMS_CODE_PURPOSES, Unit, User
from accounts.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from accounts.throttle import login_limited, note_wrong_login
from api import EMAIL, NO_NUL, PHONE, PageArgs, StrictBool, id_field, page_of, page_schema, text_field
from errors import NotLoggedIn, ValidationFailed
from plain_text import PlainText
from shop.api import LocalDateTime

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="Log in, work units and users")


class TokenRequestSchema(ma.Schema):
    """Either ``login`` and ``password``, or ``phone`` and ``sms_code`` (a login code from POST /auth/sms-code)."""

    login = ma.fields.Str(validate=[ma.validate.Length(min=1, max=254), NO_NUL])
    password = ma.fields.Str(validate=ma.validate.Length(min=1, max=200))
    phone = ma.fields.Str(metadata=PHONE)
    sms_code = ma.fields.Str(validate=ma.validate.Regexp(r"^[0-9]{1,12}$"), metadata={"description": "the digits of the code"})

    @ma.validates_schema
    def _one_way(self, data, **kwargs):
        if not ({"login", "password"} <= data.keys() or {"phone", "sms_code"} <= data.keys()):
            raise ma.ValidationError(_("Send login and password, or phone and sms_code."), "_schema")


class UserSchema(ma.Schema):
    id = ma.fields.Int()
    name = PlainText()
    phone = PlainText()
    email = PlainText(allow_none=True)
    role = PlainText()
    unit_id = ma.fields.Int(allow_none=True)
    producer_id = ma.fields.Int(allow_none=True)
    coordinator = ma.fields.Bool()
    town = PlainText(allow_none=True)
    active = ma.fields.Bool()
    locale = PlainText(allow_none=True)


class MeSchema(UserSchema):
    """The logged-in user, with their own choices."""

    campaign_reminders = ma.fields.Bool(metadata={"description": "reminders before a campaign closes (in-app)"})


class TokenSchema(ma.Schema):
    token = PlainText()
    user = ma.fields.Nested(UserSchema)


class UnitSchema(ma.Schema):
    id = ma.fields.Int(dump_only=True)
    name = text_field(120, multiline=True, required=True, metadata={"description": "unique"})
    address = text_field(255, multiline=True, required=True)
    contact_phone = ma.fields.Str(allow_none=True, load_default=None, validate=[ma.validate.Length(max=20), NO_NUL])


class UserCreateSchema(ma.Schema):
    name = text_field(80, multiline=True, required=True)
    phone = ma.fields.Str(required=True, metadata={**PHONE, "description": f"{PHONE['description']}; not yet registered"})
    email = ma.fields.Str(allow_none=True, load_default=None, validate=EMAIL, metadata={"description": "not yet registered"})
    # The length is declared here and checked by the password rule, whose message says why (accounts.passwords).
    password = ma.fields.Str(required=True, validate=ma.validate.Length(max=200), metadata={"minLength": MIN_PASSWORD_LENGTH})
    role = ma.fields.Str(required=True, validate=ma.validate.OneOf(ROLES))
    unit_id = id_field(strict=True, allow_none=True, load_default=None, metadata={"description": "a buyer's unit (buyers only)"})
    coordinator = ma.fields.Bool(load_default=False, metadata={"description": "buyers only"})
    producer_id = id_field(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "a producer account's producer (producers only)"},
    )
    town = text_field(40, allow_none=True, load_default=None, metadata={"description": "a village cadre's town (cadres only)"})


@blp.route("/auth/token")
class Token(MethodView):
    decorators = [login_limited]

    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange a phone or email and password, or a phone and its SMS login code, for a bearer token."""
        if not {"login", "password"} <= data.keys():
            try:
                user = registration.login_with_code(phone=data["phone"], sms_code=data["sms_code"])
            except ValidationFailed:
                note_wrong_login()
                raise
            return {"token": services.issue_token(user), "user": user}
        user = services.authenticate(data["login"], data["password"])
        if user is None:
            note_wrong_login()
            raise NotLoggedIn(_("Wrong phone/email or password."))
        return {"token": services.issue_token(user), "user": user}

    @api_auth()
    @blp.response(204)
    def delete(self):
        """Revoke the token this request carries."""
        services.revoke_token(request.headers["Authorization"].partition(" ")[2].strip())


class MeChangeSchema(ma.Schema):
    campaign_reminders = StrictBool(required=True, metadata={"description": "false: no reminders before campaigns close"})


@blp.route("/me")
class Me(MethodView):
    @api_auth()
    @blp.response(200, MeSchema)
    def get(self):
        """The logged-in user."""
        return g.api_user

    @api_auth()
    @blp.arguments(MeChangeSchema)
    @blp.response(200, MeSchema)
    def patch(self, data):
        """Change one's own choices: ``campaign_reminders`` false stops the reminders before campaigns close."""
        preferences.set_campaign_reminders(g.api_user, data["campaign_reminders"])
        return g.api_user


@blp.route("/units")
class Units(MethodView):
    @api_auth()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(UnitSchema))
    def get(self, args):
        """Work units."""
        return page_of(sa.select(Unit).order_by(Unit.name), args["page"], args["per_page"])

    @api_auth("operator")
    @blp.arguments(UnitSchema)
    @blp.response(201, UnitSchema)
    def post(self, data):
        """Create a work unit (operators)."""
        return services.create_unit(g.api_user, data["name"], data["address"], data.get("contact_phone"))


@blp.route("/users")
class Users(MethodView):
    @api_auth("operator")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(UserSchema))
    def get(self, args):
        """All users (operators)."""
        return page_of(sa.select(User).order_by(User.id), args["page"], args["per_page"])

    @api_auth("operator")
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create a user (operators)."""
        return services.create_user(g.api_user, **data)


class SmsCodeRequestSchema(ma.Schema):
    phone = ma.fields.Str(required=True, metadata=PHONE)
    purpose = ma.fields.Str(required=True, validate=ma.validate.OneOf(SMS_CODE_PURPOSES))


SMS_CODE = {"validate": ma.validate.Regexp(r"^[0-9]{1,12}$"), "metadata": {"description": "the code's digits"}}
NEW_PASSWORD = {
    "validate": ma.validate.Length(max=200),
    "metadata": {
        "minLength": MIN_PASSWORD_LENGTH,
        "description": "not the phone number, not a common password (accounts.passwords)",
    },
}


class RegisterSchema(ma.Schema):
    invite = ma.fields.Str(
        required=True,
        validate=ma.validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"),
        metadata={"description": "the unit's invitation code (a live one)"},
    )
    phone = ma.fields.Str(required=True, metadata=PHONE)
    sms_code = ma.fields.Str(required=True, **SMS_CODE)
    name = text_field(80, required=True)
    password = ma.fields.Str(load_default=None, allow_none=True, **NEW_PASSWORD)


class PasswordResetSchema(ma.Schema):
    phone = ma.fields.Str(required=True, metadata=PHONE)
    sms_code = ma.fields.Str(required=True, **SMS_CODE)
    new_password = ma.fields.Str(required=True, **NEW_PASSWORD)


class EmptySchema(ma.Schema):
    pass


@blp.route("/auth/sms-code")
class SmsCodeRequest(MethodView):
    @blp.arguments(SmsCodeRequestSchema)
    @blp.response(202, EmptySchema)
    @blp.alt_response(429, description="rate_limited: asked again too soon; details.retry_after in seconds")
    def post(self, data):
        """Send a one-time code by SMS now; the same answer whether or not the phone has an account."""
        codes.request_code(data["phone"], data["purpose"], request.remote_addr)
        return {}


@blp.route("/auth/register")
class Register(MethodView):
    decorators = [login_limited]

    @blp.arguments(RegisterSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(409, description="already_registered: the phone already has an account")
    def post(self, data):
        """Join the invitation's unit as a buyer with the SMS code sent for "register"; answers with a token."""
        user = registration.register(**data)
        return {"token": services.issue_token(user), "user": user}


@blp.route("/auth/password-reset")
class PasswordReset(MethodView):
    decorators = [login_limited]

    @blp.arguments(PasswordResetSchema)
    @blp.response(200, EmptySchema)
    def post(self, data):
        """Set a new password with the SMS code sent for "reset"; every token of the user stops working."""
        registration.reset_password(**data)
        return {}


class HomeItemSchema(ma.Schema):
    id = ma.fields.Int()
    title = PlainText()
    unit = PlainText()
    ordered = ma.fields.Int()
    capacity = ma.fields.Int()
    min_total = ma.fields.Int(allow_none=True)
    short_of_minimum = ma.fields.Int(allow_none=True)


class HomeCampaignSchema(ma.Schema):
    id = ma.fields.Int(attribute="campaign.id")
    title = PlainText(attribute="campaign.title")
    closes_at = LocalDateTime()
    sold_pct = ma.fields.Int(allow_none=True, metadata={"description": "ordered ÷ offered, by value, rounded down"})
    items = ma.fields.List(ma.fields.Nested(HomeItemSchema))


class HomeOverdueSchema(ma.Schema):
    campaign_id = ma.fields.Int(attribute="campaign.id")
    campaign_title = PlainText(attribute="campaign.title")
    producer_id = ma.fields.Int()
    producer_name = PlainText()
    quantity = ma.fields.Int()
    sent_at = LocalDateTime()


class HomeLaggingSchema(ma.Schema):
    unit_id = ma.fields.Int(attribute="unit.id")
    unit_name = PlainText(attribute="unit.name")
    completed_pct = ma.fields.Int(allow_none=True)
    expected_pct = ma.fields.Int()


class OperatorHomeSchema(ma.Schema):
    pending_reviews = ma.fields.Int()
    failed_messages = ma.fields.Int()
    year = ma.fields.Int()
    open_campaigns = ma.fields.List(ma.fields.Nested(HomeCampaignSchema))
    overdue_confirmations = ma.fields.List(ma.fields.Nested(HomeOverdueSchema))
    lagging_units = ma.fields.List(ma.fields.Nested(HomeLaggingSchema))


@blp.route("/operator/home")
class OperatorHome(MethodView):
    @api_auth("operator")
    @blp.response(200, OperatorHomeSchema)
    def get(self):
        """What needs doing (operators): listings to review, campaigns taking orders with their progress and closing
        times, pick lists not confirmed PICKLIST_ACK_HOURS after they were sent, failed messages, lagging units."""
        return agenda.operator_agenda()
