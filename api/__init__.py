"""The JSON API under /api/v1: the Api object, its error format, pagination."""

import marshmallow as ma
import sqlalchemy as sa
from apispec import BasePlugin
from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

import paging
from database import CONNECTION_ERRORS, database_unavailable, mark_database_unavailable, outcome_unknown_in_request
from errors import DomainError, OutcomeUnknown
from extensions import db
from plain_text import PlainText

API_PREFIX = "/api/"
MAX_PER_PAGE = paging.MAX_PER_PAGE
MAX_ID = 2**31 - 1

# What the services strip from both ends of a text (str.strip), and the characters they refuse inside one.
_ENDS = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
SINGLE_LINE = rf"[^<>{_ENDS}](?:[^<>\x00-\x1f\x7f-\x9f]*[^<>{_ENDS}])?"
MULTILINE = rf"[^{_ENDS}](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^{_ENDS}])?"

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def error_response(status, code, message, details=None, headers=None):
    response = jsonify({"error": {"code": code, "message": str(message), "details": details or {}}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_message(status):
    return {
        400: _("The request is malformed."),
        401: _("Log in first."),
        403: _("You may not do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        409: _("This conflicts with the current state."),
        413: _("The upload is too large."),
        415: _("Send JSON (Content-Type: application/json)."),
        422: _("Some fields are not valid."),
        429: _("Too many requests; wait a moment and try again."),
        503: _("The service is briefly unavailable; nothing was saved. Please try again in a moment."),
    }.get(status, _("Something went wrong on our side; please try again."))


class ErrorDetailSchema(ma.Schema):
    code = PlainText(
        required=True,
        metadata={
            "description": "machine-readable, e.g. insufficient_stock, validation_error; on 503 service_unavailable "
            "(nothing saved) or outcome_unknown (may have been saved: retry with the same Idempotency-Key)"
        },
    )
    message = PlainText(required=True, metadata={"description": "human text in the user's language"})
    details = ma.fields.Dict(
        required=True, metadata={"description": "fields: field → messages (422); rows: [{row, column, message}] (invalid_sheet)"}
    )


class ErrorSchema(ma.Schema):
    """Every error answer: ``{"error": {code, message, details}}``."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


# Statuses any operation may answer with the error format: documented on every operation of the spec.
DOCUMENTED_ERRORS = {
    "400": "BAD_REQUEST",
    "401": "UNAUTHORIZED",
    "403": "FORBIDDEN",
    "404": "NOT_FOUND",
    "405": "METHOD_NOT_ALLOWED",
    "409": "CONFLICT",
    "413": "REQUEST_ENTITY_TOO_LARGE",
    "414": "URI_TOO_LONG",
    "415": "UNSUPPORTED_MEDIA_TYPE",
    "422": "UNPROCESSABLE_ENTITY",
    "429": "TOO_MANY_REQUESTS",
    "500": "INTERNAL_SERVER_ERROR",
    "503": "SERVICE_UNAVAILABLE",
}


class ErrorResponsesPlugin(BasePlugin):
    """Document the error statuses and their body (ErrorSchema) on every operation, so clients and fuzzers know them;
    and the whole-object constraints a schema class declares in ``OPENAPI`` (e.g. a PATCH body's minProperties)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            for status, name in DOCUMENTED_ERRORS.items():
                responses.setdefault(status, name)

    def schema_helper(self, name, definition, **kwargs):
        return getattr(kwargs.get("schema"), "OPENAPI", None)


class PatchSchema(ma.Schema):
    """A PATCH body: only the fields to change, and at least one of them."""

    OPENAPI = {"minProperties": 1}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)

    @ma.validates_schema(pass_original=True)
    def _not_empty(self, data, original, **kwargs):
        if isinstance(original, dict) and not original:
            raise ma.ValidationError(_("Send at least one field to change."), "_schema")


def text_field(max_length, *, multiline=False, min_length=1, **kwargs):
    """A text field declared exactly as the API takes it: no space at either end; on one line without < or >, or
    (multiline) without control characters; at most ``max_length`` characters."""
    pattern = MULTILINE if multiline else SINGLE_LINE
    pattern = f"^(?:{pattern})?$" if min_length == 0 else f"^{pattern}$"
    message = (
        _l("Remove control characters and spaces at either end.")
        if multiline
        else _l("Use plain text on one line, without < or >, and no space at either end.")
    )
    validators = [
        ma.validate.Length(min=min_length, max=max_length, error=_l("Use {min} to {max} characters.")),
        ma.validate.Regexp(pattern, error=message),
    ]
    return PlainText(multiline=multiline, refuse=True, validate=validators, **kwargs)


# A mainland mobile number as accounts.services.normalize_phone reads it: 11 digits, maybe after +86 or 0086, with
# spaces, dashes and brackets anywhere. The service checks it (with the request's other fields, all at once).
_SEPARATORS = r"[\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000()-]*"
PHONE = {
    "pattern": f"^{_SEPARATORS}(?:\\+{_SEPARATORS}8{_SEPARATORS}6|0{_SEPARATORS}0{_SEPARATORS}8{_SEPARATORS}6)?"
    f"{_SEPARATORS}1{_SEPARATORS}[3-9](?:{_SEPARATORS}[0-9]){{9}}{_SEPARATORS}$",
    "description": "a mainland mobile number: 11 digits (1[3-9]…), +86 and separators allowed",
}
EMAIL = [
    ma.validate.Length(max=254, error=_l("Enter a valid email address.")),
    ma.validate.Regexp(rf"^(?:[^@{_ENDS}]+@[^@{_ENDS}]+\.[^@{_ENDS}]+)?$", error=_l("Enter a valid email address.")),
]


# PostgreSQL text cannot hold NUL: a text the API passes on as it is (a login, a search) must not carry one.
NO_NUL = ma.validate.Regexp(r"^[^\x00]*$", error=_l("Remove the control characters."))


def id_field(**kwargs):
    """An id in a query or body: a whole number the database can hold."""
    return ma.fields.Int(validate=ma.validate.Range(min=1, max=MAX_ID, error=_l("Not a valid id.")), **kwargs)


class PinbangApi(Api):
    """flask-smorest registers its handler app-wide; answer JSON in our format under /api, HTML pages elsewhere."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app, *args, **kwargs):
        super().init_app(app, *args, **kwargs)
        self.spec.plugins.append(ErrorResponsesPlugin())
        # The web server (gunicorn's limit_request_line) refuses a URL that is too long before the app sees it.
        self.spec.components.response("URI_TOO_LONG", {"description": "The URL is too long; the web server refused it."})

    def handle_http_exception(self, error):
        if not is_api_request():
            return render_error_page(error.code or 500, _limit_message(error))
        status = error.code or 500
        details = {}
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") or data.get("errors")
        if messages:
            fields = {}
            for location_errors in messages.values():
                fields.update(location_errors if isinstance(location_errors, dict) else {"_": location_errors})
            details["fields"] = fields
        headers = dict(data.get("headers") or {})
        # werkzeug's 405 carries the Allow header; keep it.
        headers.update({k: v for k, v in error.get_headers() if k.lower() == "allow"})
        if status == 429:
            headers.update(getattr(error, "headers", {}) or {})
        return error_response(
            status, HTTP_CODES.get(status, "error"), _limit_message(error) or _http_message(status), details, headers
        )


def _limit_message(error):
    """A rate limit's own message (e.g. the photo uploads'), when it has one."""
    limit = getattr(error, "limit", None)
    return error.description if limit is not None and limit.error_message else None


def handle_expired_form(error):
    """A form whose CSRF token is missing or stale: tell a phone user to reload, not that the request is malformed."""
    message = _("This form has expired or was sent from elsewhere. Go back, reload the page and try again.")
    return error_page(400, message), 400


def render_error_page(status, message=None):
    status = status if status in (400, 401, 403, 404, 405, 413, 429, 500, 503) else 500
    return error_page(status, message or _http_message(status)), status


def error_page(status, message):
    """The error page; if the database fails while it renders (the menu's user), again without what needs it."""
    try:
        return render_template("errors/error.html", status=status, message=message)
    except CONNECTION_ERRORS:
        mark_database_unavailable()
        return render_template("errors/error.html", status=status, message=message)


RETRY_AFTER_SECONDS = "5"


def handle_domain_error(error: DomainError):
    retry_after = getattr(error, "retry_after", None) or (RETRY_AFTER_SECONDS if error.status == 503 else None)
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if is_api_request():
        message = _outcome_unknown_message() if isinstance(error, OutcomeUnknown) else error.message
        return error_response(error.status, error.code, message, error.details, headers)
    page = error_page(error.status, error.message)
    return page, error.status, headers


def _outcome_unknown_message():
    return _(
        "The connection to the database broke while this was being saved, so it may have been saved. "
        "Retry with the same Idempotency-Key: a retry with it is never saved twice."
    )


def handle_database_unavailable():
    """The database was unreachable, dropped the connection or stayed locked: a 503 with Retry-After, in the
    language the request itself says (the user's saved choice would need the database). Nothing was saved, unless
    a COMMIT of this request was cut, whose outcome is unknown: then the answer says so."""
    unknown = outcome_unknown_in_request()
    if unknown is not None:
        return handle_domain_error(unknown)
    if is_api_request():
        return error_response(503, "service_unavailable", _http_message(503), headers={"Retry-After": RETRY_AFTER_SECONDS})
    page, status = render_error_page(503)
    return page, status, {"Retry-After": RETRY_AFTER_SECONDS}


def handle_unexpected_error(error):
    """Last resort: log it, and never show a traceback or an HTML page to an API client."""
    from flask import current_app

    if isinstance(error, HTTPException):
        return api.handle_http_exception(error)
    if isinstance(error, CONNECTION_ERRORS) or (isinstance(error, sa.exc.PendingRollbackError) and database_unavailable()):
        # Before anything else asks the database again (the rollback below, the user's language).
        mark_database_unavailable()
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection may refuse even the rollback; the pool replaces it
        current_app.logger.warning("Rollback failed after an error", exc_info=True)
    if isinstance(error, OverflowError | sa.exc.DataError):
        # A number or text the database cannot hold (e.g. an id of 40 digits): bad input, not our failure.
        current_app.logger.info("Refused a value out of range on %s %s: %s", request.method, request.path, error)
        message = _("A number or text in the request is out of range.")
        if is_api_request():
            return error_response(400, "bad_request", message)
        return error_page(400, message), 400
    if database_unavailable():
        current_app.logger.warning("Database unavailable on %s %s", request.method, request.path, exc_info=True)
        return handle_database_unavailable()
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    if is_api_request():
        return error_response(500, "internal_error", _http_message(500))
    return render_error_page(500)


class PageArgs(ma.Schema):
    page = ma.fields.Int(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Int(load_default=paging.DEFAULT_PER_PAGE, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE))


def page_of(query, page, per_page):
    """One page of a select as the API's list envelope (items still ORM objects), paged in SQL by :mod:`paging`."""
    return paging.envelope(paging.page_of(query, page, per_page))


def page_schema(item_schema):
    """The list envelope schema for ``item_schema``."""
    return type(
        f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Int(),
            "per_page": ma.fields.Int(),
            "total": ma.fields.Int(),
        },
    )


api = PinbangApi()


class StrictBool(ma.fields.Boolean):
    """true or false only; not "yes", 1 or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
