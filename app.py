"""The application factory."""

from flask import Flask, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from accounts.access import bearer_user
from accounts.services import user_for_session
from config import load_config
from database import CONNECTION_ERRORS, database_unavailable, mark_database_unavailable
from errors import DomainError
from extensions import babel, bootstrap, cache, csrf, db, limiter, login_manager, migrate
from static_files import serve_static_files
from worker import celery_init_app


def create_app(config=None, **overrides):
    """Build the app.

    :param config: a config object, a name (development, testing, production) or None for PINBANG_ENV.
    :param overrides: settings that win over the config (tests use these).
    """
    config = config if config is not None and not isinstance(config, str) else load_config(config)
    app = Flask(__name__, instance_path=config.INSTANCE_PATH, instance_relative_config=False)
    app.url_map.converters["int"] = IdConverter
    app.session_interface = CookieSessionInterface()
    app.config.from_object(config)
    app.config.update(overrides)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_helpers(app)
    register_commands(app)
    register_security_headers(app)
    serve_static_files(app, security_header_values(app.config))
    celery_init_app(app)
    return app


def trust_proxies(app):
    """Behind ``TRUSTED_PROXIES`` proxies, take the client's address (and scheme) from the headers they add, and
    only as many entries of X-Forwarded-For as there are proxies: what a client forges before them is ignored.
    With none (the default) the headers are ignored and the socket's address counts."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


class IdConverter(IntegerConverter):
    """``<int:id>`` in URLs: a number too large for an id column matches no route (404) instead of failing in the database."""

    def __init__(self, map, *args, max=2**31 - 1, **kwargs):  # noqa: A002 - werkzeug's argument name
        super().__init__(map, *args, max=max, **kwargs)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, answering a request without a session cookie (every API call) and a response
    with nothing to store before building the signer and cookie settings: the same sessions and headers, cheaper."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)
        if response.cache_control.public and "Set-Cookie" in response.headers:
            # Someone's session cookie must never be stored by a shared cache and handed to the next visitor.
            response.cache_control.public = False
            response.cache_control.max_age = None
            response.cache_control.no_store = True


def select_locale():
    """The user's saved choice, then the session's, then the browser's; Chinese when nothing says."""
    languages = ["zh_CN", "en"]
    if not has_request_context():
        return "zh_CN"
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    user = _signed_in_user()
    if user is not None and user.locale in languages:
        return user.locale
    if session.get("lang") in languages:
        return session["lang"]
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("zh"):
        return "zh_CN"
    return best.replace("-", "_") if best else "zh_CN"


def _signed_in_user():
    """The request's user for their saved language; None when finding them would need a database that is down."""
    if database_unavailable():
        return None
    try:
        user = g.get("api_user") or (current_user if current_user and current_user.is_authenticated else None)
        if user is None and request.path.startswith("/api/"):
            user = bearer_user()
        return user
    except CONNECTION_ERRORS:
        # No rollback here: the request's own next statement fails too, and its error answer rolls back.
        mark_database_unavailable()
        return None


def import_models():
    """Every area's models, so SQLAlchemy and Alembic see the whole schema."""
    import accounts.models  # noqa: F401
    import claims.models  # noqa: F401
    import dashboard.models  # noqa: F401
    import delivery.models  # noqa: F401
    import fulfilment.models  # noqa: F401
    import notifications.models  # noqa: F401
    import orders.models  # noqa: F401
    import producers.models  # noqa: F401
    import shop.models  # noqa: F401
    import units.models  # noqa: F401


def register_extensions(app):
    import_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message_category = "warning"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    bootstrap.init_app(app)
    limiter.init_app(app)
    cache.init_app(app)

    @login_manager.user_loader
    def load_user(session_token):
        if database_unavailable():
            return None  # an outage's error page is shown as to a visitor; the session stays for later
        return user_for_session(session_token)

    from flask_babel import lazy_gettext

    login_manager.login_message = lazy_gettext("Please log in to see this page.")


def register_blueprints(app):
    from accounts.api import blp as accounts_api
    from accounts.routes import bp as accounts_bp
    from api import api
    from cadres.routes import bp as cadres_bp
    from claims.api import blp as claims_api
    from claims.routes import bp as claims_bp
    from dashboard.api import blp as dashboard_api
    from dashboard.routes import bp as dashboard_bp
    from delivery.api import blp as delivery_api
    from delivery.routes import bp as delivery_bp
    from earnings.api import blp as earnings_api
    from earnings.routes import bp as earnings_bp
    from fulfilment.api import blp as fulfilment_api
    from fulfilment.routes import bp as fulfilment_bp
    from notifications.api import blp as notifications_api
    from notifications.routes import bp as notifications_bp
    from orders.api import blp as orders_api
    from orders.routes import bp as orders_bp
    from producers.api import blp as producers_api
    from producers.certificate_api import ProducerAdmission  # noqa: F401  (adds the certificate endpoints to producers_api)
    from producers.certificate_routes import admission  # noqa: F401  (adds the certificate pages to producers_bp)
    from producers.routes import bp as producers_bp
    from shop.api import blp as shop_api
    from shop.routes import bp as shop_bp
    from shop.running_routes import change_campaign  # noqa: F401  (adds the running-campaign pages to shop_bp)
    from units.api import blp as units_api
    from units.routes import bp as units_bp
    from units.target_routes import unit_target  # noqa: F401  (adds the targets pages to units_bp)

    for blueprint in (
        accounts_bp,
        producers_bp,
        shop_bp,
        orders_bp,
        fulfilment_bp,
        notifications_bp,
        dashboard_bp,
        units_bp,
        claims_bp,
        earnings_bp,
        cadres_bp,
        delivery_bp,
    ):
        app.register_blueprint(blueprint)

    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    for blueprint in (
        accounts_api,
        producers_api,
        shop_api,
        orders_api,
        fulfilment_api,
        notifications_api,
        dashboard_api,
        units_api,
        claims_api,
        earnings_api,
        delivery_api,
    ):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)


def register_error_handlers(app):
    from flask_wtf.csrf import CSRFError

    from api import handle_domain_error, handle_expired_form, handle_unexpected_error

    app.register_error_handler(CSRFError, handle_expired_form)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected_error)


def register_template_helpers(app):
    from presentation import TEMPLATE_FILTERS, TEMPLATE_GLOBALS
    from shop.lifecycle import campaign_phase

    app.jinja_env.filters.update(TEMPLATE_FILTERS, campaign_phase=campaign_phase)
    app.jinja_env.globals.update(TEMPLATE_GLOBALS)

    @app.context_processor
    def inject_locale():
        locale = get_locale()
        return {
            "current_language": "en" if locale.language == "en" else "zh_CN",
            "html_lang": "en" if locale.language == "en" else "zh-CN",
            # The menu shows who is logged in, which needs the database: left out of an outage's error page.
            "database_unavailable": database_unavailable(),
        }


def register_commands(app):
    from accounts.cli import create_user_command
    from demo.seed import seed_demo_command

    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_demo_command)

    from dashboard.cli import check_totals_command, rebuild_figures_command

    app.cli.add_command(check_totals_command)
    app.cli.add_command(rebuild_figures_command)


def security_header_values(config) -> dict[str, str]:
    """The headers every answer carries, pages (after_request) and static files (WhiteNoise) alike."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'",
    }
    if config["STRICT_TRANSPORT_SECURITY"]:
        headers["Strict-Transport-Security"] = config["STRICT_TRANSPORT_SECURITY"]
    return headers


def register_security_headers(app):
    @app.after_request
    def security_headers(response):
        for name, value in security_header_values(app.config).items():
            response.headers.setdefault(name, value)
        chosen = response.cache_control.public or response.cache_control.private or _is_static(request.endpoint)
        if request.path.startswith("/api/") or not chosen:
            # Pages, downloads and API answers are personal unless a view says who may keep a copy (public results,
            # photos and QR codes in the browser's own cache, static files).
            response.headers["Cache-Control"] = "no-store"
        return response


def _is_static(endpoint):
    return endpoint is not None and endpoint.rsplit(".", 1)[-1] == "static"
