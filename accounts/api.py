"""JSON endpoints: tokens, units, users."""

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint

from accounts import services
from accounts.access import api_auth
from accounts.models import ROLES, Unit, User
from api import EMAIL, NO_NUL, PHONE, PageArgs, id_field, page_of, page_schema, text_field
from errors import NotLoggedIn
from extensions import limiter

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="Log in, work units and users")


class TokenRequestSchema(ma.Schema):
    login = ma.fields.Str(required=True, validate=[ma.validate.Length(min=1, max=254), NO_NUL])
    password = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))


class UserSchema(ma.Schema):
    id = ma.fields.Int()
    name = ma.fields.Str()
    phone = ma.fields.Str()
    email = ma.fields.Str(allow_none=True)
    role = ma.fields.Str()
    unit_id = ma.fields.Int(allow_none=True)
    producer_id = ma.fields.Int(allow_none=True)
    coordinator = ma.fields.Bool()
    active = ma.fields.Bool()
    locale = ma.fields.Str(allow_none=True)


class TokenSchema(ma.Schema):
    token = ma.fields.Str()
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
    password = ma.fields.Str(required=True, validate=ma.validate.Length(min=services.MIN_PASSWORD_LENGTH, max=200))
    role = ma.fields.Str(required=True, validate=ma.validate.OneOf(ROLES))
    unit_id = id_field(strict=True, allow_none=True, load_default=None, metadata={"description": "a buyer's unit (buyers only)"})
    coordinator = ma.fields.Bool(load_default=False, metadata={"description": "buyers only"})
    producer_id = id_field(
        strict=True,
        allow_none=True,
        load_default=None,
        metadata={"description": "a producer account's producer (producers only)"},
    )


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@blp.route("/auth/token")
class Token(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    def post(self, data):
        """Exchange a phone or email and password for a bearer token."""
        user = services.authenticate(data["login"], data["password"])
        if user is None:
            raise NotLoggedIn(_("Wrong phone/email or password."))
        return {"token": services.issue_token(user), "user": user}

    @api_auth()
    @blp.response(204)
    def delete(self):
        """Revoke the token this request carries."""
        services.revoke_token(request.headers["Authorization"].partition(" ")[2].strip())


@blp.route("/me")
class Me(MethodView):
    @api_auth()
    @blp.response(200, UserSchema)
    def get(self):
        """The logged-in user."""
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
