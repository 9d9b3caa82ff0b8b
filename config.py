"""Configuration: the only module that reads os.environ."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _instance_dir():
    path = Path(_env("INSTANCE_PATH", BASE_DIR / "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance):
    """Use SECRET_KEY, or generate one once and keep it under instance/ so sessions survive restarts."""
    key = _env("SECRET_KEY")
    if key:
        return key
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url(instance):
    url = _env("DATABASE_URL", f"sqlite:///{instance / 'pinbang.sqlite3'}")
    # Heroku-style URLs name the old driver; psycopg 3 is the one installed.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Config:
    """Embedded defaults: SQLite under instance/, a filesystem Celery broker, mail to a file."""

    ENV_NAME = "development"

    def __init__(self):
        self.INSTANCE_PATH = str(_instance_dir())
        instance = Path(self.INSTANCE_PATH)
        self.SECRET_KEY = _secret_key(instance)
        self.SQLALCHEMY_DATABASE_URI = _database_url(instance)
        self.REDIS_URL = _env("REDIS_URL")
        self.BROKER_DIR = str(instance / "broker")
        self.CELERY_QUEUE = _env("CELERY_QUEUE", "pinbang")
        self.UPLOAD_DIR = _env("UPLOAD_DIR", str(instance / "uploads"))
        # Background exports' files: shared storage when web processes and workers run on different machines.
        self.EXPORT_DIR = _env("EXPORT_DIR", str(instance / "exports"))
        # An export of more lines than this (and every campaign's order lines) is built by the worker.
        self.EXPORT_INLINE_MAX_ROWS = int(_env("EXPORT_INLINE_MAX_ROWS", "5000"))
        self.EXPORT_KEEP_HOURS = float(_env("EXPORT_KEEP_HOURS", "24"))
        self.MAX_PHOTO_BYTES = int(_env("MAX_PHOTO_BYTES", str(8 * 1024 * 1024)))
        self.PRODUCER_TOWNS = [t.strip() for t in _env("PRODUCER_TOWNS", "").split(",") if t.strip()]
        # Producers are paid within this many days of delivery, unless a campaign sets its own terms.
        self.PAYMENT_TERMS_DAYS = int(_env("PAYMENT_TERMS_DAYS", "15"))
        # A buyer (or their coordinator) may file a claim (售后) on a delivered line for this many days.
        self.CLAIM_DAYS = int(_env("CLAIM_DAYS", "3"))
        self.MAIL_BACKEND = _env("MAIL_BACKEND", "smtp" if _env("MAIL_SERVER") else "file")
        self.MAIL_FILE_DIR = _env("MAIL_FILE_DIR", str(instance / "mail"))
        self.MAIL_SERVER = _env("MAIL_SERVER", "localhost")
        self.MAIL_PORT = int(_env("MAIL_PORT", "25"))
        self.MAIL_USERNAME = _env("MAIL_USERNAME")
        self.MAIL_PASSWORD = _env("MAIL_PASSWORD")
        self.MAIL_USE_TLS = _env("MAIL_USE_TLS", "0") == "1"
        self.MAIL_SENDER = _env("MAIL_SENDER", "Pinbang <noreply@pinbang.local>")
        self.SMS_BACKEND = _env("SMS_BACKEND", "http" if _env("SMS_GATEWAY_URL") else "log")
        self.SMS_GATEWAY_URL = _env("SMS_GATEWAY_URL")
        self.SMS_API_KEY = _env("SMS_API_KEY")
        self.SMS_SENDER = _env("SMS_SENDER", "拼帮")
        self.SMS_LOG_FILE = _env("SMS_LOG_FILE", str(instance / "sms.log"))
        self.PORT = int(_env("PORT", "5000"))
        # By default short links and QR codes point where `flask run --port $PORT` (and so `make run`) serves.
        self.PUBLIC_URL = _env("PUBLIC_URL", f"http://127.0.0.1:{self.PORT}")
        # A font with Chinese glyphs for share posters; unset: the usual system places are searched (shop/poster.py).
        self.POSTER_FONT = _env("POSTER_FONT")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # The campaign page's catalogue and rendered page (shop.page_cache), shared by every web worker through Redis;
        # on the embedded defaults, in this process's memory (one `flask run` process).
        self.CACHE_REDIS_URL = _env("CACHE_REDIS_URL", self.REDIS_URL)
        self.CACHE_TYPE = "RedisCache" if self.CACHE_REDIS_URL else "SimpleCache"
        # A Redis that is down or unreachable must cost a page half a second at most, then the page is built without it.
        self.CACHE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5} if self.CACHE_REDIS_URL else None
        self.CACHE_KEY_PREFIX = _env("CACHE_KEY_PREFIX", "pinbang:page:")
        # Items, photos, producers and prices: kept this long unless a change forgets them first (in-process caches
        # of other processes never hear of a change, hence the shorter time there).
        self.CATALOGUE_CACHE_SECONDS = int(_env("CATALOGUE_CACHE_SECONDS", "60" if self.CACHE_REDIS_URL else "5"))
        # A visitor's whole page, with what is left and sold: at most this old (never more than PAGE_STALE_SECONDS,
        # while one worker renders the next copy), so a sold-out item shows sold out within 2 seconds.
        self.PAGE_CACHE_SECONDS = float(_env("PAGE_CACHE_SECONDS", "1"))
        self.PAGE_STALE_SECONDS = float(_env("PAGE_STALE_SECONDS", "1.8"))
        # Per client address, every attempt: a whole unit behind one office address logs in at a campaign's launch.
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "300 per minute")
        # Per account, wrong passwords and codes only.
        self.LOGIN_FAILURE_LIMIT = _env("LOGIN_FAILURE_LIMIT", "10 per 15 minutes")
        self.TRUSTED_PROXIES = int(_env("TRUSTED_PROXIES", "0"))
        # Photos per user (a listing form's five count as five), across pages and API.
        self.PHOTO_UPLOAD_RATE_LIMIT = _env("PHOTO_UPLOAD_RATE_LIMIT", "20 per minute;120 per hour")
        # Web workers of one machine that may decode photos at once; the others keep serving pages meanwhile.
        self.PHOTO_SLOTS = int(_env("PHOTO_SLOTS", "1"))
        self.PHOTO_SLOT_WAIT = float(_env("PHOTO_SLOT_WAIT", "5"))
        # Reminders go out this many hours before a campaign closes (shop.reminders).
        self.REMINDER_HOURS_BEFORE_CLOSE = int(_env("REMINDER_HOURS_BEFORE_CLOSE", "24"))
        # A producer that has not confirmed its pick list this many hours after the close is overdue (operators' home).
        self.PICKLIST_ACK_HOURS = int(_env("PICKLIST_ACK_HOURS", "12"))
        # Review flags a listing priced above its reference market price by more than this share (percent).
        self.PRICE_ABOVE_REFERENCE_PCT = int(_env("PRICE_ABOVE_REFERENCE_PCT", "20"))

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    BOOTSTRAP_SERVE_LOCAL = True
    BOOTSTRAP_BTN_SIZE = "md"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    STRICT_TRANSPORT_SECURITY = None
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None
    RATELIMIT_ENABLED = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    API_TITLE = "Pinbang API"
    API_VERSION = "1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_TOKEN_DAYS = 30
    CELERY_ALWAYS_EAGER = False
    # Werkzeug's default (scrypt, n=32768): about 0.1 s of one core per login, what makes a stolen hash slow to guess.
    PASSWORD_HASH_METHOD = "scrypt"


class TestingConfig(Config):
    """Tests: same engines as production when DATABASE_URL/REDIS_URL are set, else embedded."""

    ENV_NAME = "testing"
    TESTING = True
    WTF_CSRF_ENABLED = False
    # The suite creates and logs in thousands of users; what it checks of a hash is which one is verified, not its cost.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"

    def __init__(self):
        super().__init__()
        # Tests share one Redis: each app's cache keys are its own.
        self.CACHE_KEY_PREFIX = f"pinbang-test:{secrets.token_hex(6)}:"


class ProductionConfig(Config):
    """Refuses to start without the settings that must never be defaulted."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    # Served behind a TLS-terminating proxy: browsers must never fall back to plain HTTP.
    STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
    # No pre-ping: it cost every request three extra round trips (BEGIN, SELECT 1, ROLLBACK). Connections are
    # renewed after 5 minutes instead; after a database restart each web worker's first request gets a 503 with
    # Retry-After (nothing saved), the pool drops its dead connections, and the next request works.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": False, "pool_recycle": 300}

    def __init__(self):
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not _env(name)]
        if missing:
            raise RuntimeError(f"Production configuration needs {', '.join(missing)} in the environment")
        super().__init__()


CONFIGS = {"development": Config, "testing": TestingConfig, "production": ProductionConfig}


def load_config(name=None):
    """Build the config object named by the argument or by PINBANG_ENV."""
    name = name or _env("PINBANG_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"Unknown PINBANG_ENV {name!r}; use one of {', '.join(CONFIGS)}")
    return CONFIGS[name]()
