"""All configuration, read once from ZAPLECZE_* environment variables with safe defaults.

Nothing else in the code base reads the environment for configuration.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"ZAPLECZE_{name}")
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


ENV = env("ENV", "development")
PRODUCTION = ENV == "production"
DATA_DIR = Path(env("DATA_DIR", "./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    given = env("SECRET_KEY")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Written once, readable by the owner only; kept across restarts.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()]
BASE_URL = env("BASE_URL", "http://127.0.0.1:8000")
# Fernet key(s) for the shop credentials at rest (comma-separated: the first encrypts, all decrypt, for
# rotation); unset: a key generated once into DATA_DIR/credentials_key (see integrations/crypto.py).
CREDENTIALS_KEY = env("CREDENTIALS_KEY", "") or ""

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI from its own static files instead of a CDN
    "axes",
    "huey.contrib.djhuey",
    "zaplecze.core",
    "zaplecze.catalog",
    "zaplecze.inventory",
    "zaplecze.orders",
    "zaplecze.service",
    "zaplecze.shipping",
    "zaplecze.analytics",
    "zaplecze.purchasing",
    "zaplecze.fulfilment",
    "zaplecze.integrations",
    "zaplecze.promotions",
    "zaplecze.monitoring",
    "zaplecze.today",
    "zaplecze.reports",
    "zaplecze.web",
    "zaplecze.api",
]

MIDDLEWARE = [
    "zaplecze.core.requestlog.RequestLogMiddleware",  # first: request id, access log, request metrics
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "zaplecze.core.middleware.UserLanguageMiddleware",
    "zaplecze.core.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "zaplecze.urls"
WSGI_APPLICATION = "zaplecze.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "zaplecze.web.context.navigation",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'zaplecze.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0 if DATABASE_URL.startswith("sqlite") else 60)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers work while the worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
if env("TEST_DB_NAME"):
    # Lets several test runs share one PostgreSQL server without dropping each other's test database.
    _db["TEST"] = {"NAME": env("TEST_DB_NAME")}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "today:index"
LOGOUT_REDIRECT_URL = "login"
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
SESSION_COOKIE_AGE = int(env("SESSION_AGE", str(12 * 3600)))
IDLE_TIMEOUT_SECONDS = int(env("IDLE_TIMEOUT", str(2 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Security (production) --------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(env("HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)

# --- I18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE", "pl")
LANGUAGES = [("pl", _("Polish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", "Europe/Warsaw")
DEFAULT_CURRENCY = env("CURRENCY", "PLN")

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"  # `collectstatic` target; WhiteNoise also serves straight from the finders
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# --- Background worker (Huey) -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": env("QUEUE_NAME", "zaplecze"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "zaplecze",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
if env_bool("QUEUE_IMMEDIATE", False):
    HUEY["immediate"] = True

# --- Logging ----------------------------------------------------------------------------------
# text (default, for `make run`) or json: one JSON object per line with the request id (core/requestlog.py).
LOG_FORMAT = (env("LOG_FORMAT", "text") or "text").strip().lower()
# One access line per request (method, path without query string and with secret URL parts masked, status,
# duration, request id). It replaces gunicorn's access log, which prints query strings and webhook tokens.
ACCESS_LOG = env_bool("ACCESS_LOG", True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "zaplecze.core.requestlog.RequestContextFilter"}},
    "formatters": {
        "plain": {
            "()": "zaplecze.core.requestlog.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "zaplecze.core.requestlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "zaplecze.request": {"level": "INFO" if ACCESS_LOG else "WARNING"},
        "gunicorn.access": {"level": "CRITICAL", "propagate": False},  # see ACCESS_LOG
        "django.security": {"level": "INFO"},
        # A handler of its own: `run_huey` adds its plain-text handler (and INFO level) to a handler-less "huey".
        "huey": {"level": "WARNING", "handlers": ["console"], "propagate": False},
        "axes": {"level": "WARNING"},
        # PDF rendering reports every step and font subset at INFO: noise in the worker's and the CLI's log.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- E-mail and the shop's identity (used in customer e-mails, letters and public pages) ---------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = env("EMAIL_FROM", "sklep@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SHOP_NAME = env("SHOP_NAME", "Zaplecze Demo Shop")
SHOP_ADDRESS = env("SHOP_ADDRESS", "ul. Przykładowa 1, 00-001 Warszawa")
SHOP_EMAIL = env("SHOP_EMAIL", DEFAULT_FROM_EMAIL)
SHOP_RETURN_ADDRESS = env("SHOP_RETURN_ADDRESS", SHOP_ADDRESS)
TRACKING_URL = env("TRACKING_URL", "")  # e.g. https://shop.example/track?order={order}

# --- E-mail in: the customer service mailbox fetched over IMAP (empty host: fetching is off) ---------
IMAP_HOST = env("IMAP_HOST", "")
IMAP_SSL = env_bool("IMAP_SSL", False)  # IMAP over TLS (port 993)
IMAP_STARTTLS = env_bool("IMAP_STARTTLS", False)  # plain port, then STARTTLS
IMAP_PORT = int(env("IMAP_PORT", "993" if IMAP_SSL else "143"))
IMAP_USER = env("IMAP_USER", "")
IMAP_PASSWORD = env("IMAP_PASSWORD", "")
IMAP_FOLDER = env("IMAP_FOLDER", "INBOX")
IMAP_TIMEOUT = float(env("IMAP_TIMEOUT", "30"))  # seconds per network operation
IMAP_BATCH = int(env("IMAP_BATCH", "500"))  # messages per fetch run (the worker fetches every minute)
IMAP_MARK_SEEN = env_bool("IMAP_MARK_SEEN", True)  # flag imported messages \Seen
IMAP_MOVE_TO = env("IMAP_MOVE_TO", "")  # or move them to this folder, e.g. "Processed"
MAIL_MAX_BYTES = int(env("MAIL_MAX_BYTES", str(25 * 1024 * 1024)))  # larger: headers only + a note

# First start: administrator password (else generated and printed once) and the demo shop.
ADMIN_PASSWORD = env("ADMIN_PASSWORD")
DEMO_ON_FIRST_START = env_bool("DEMO", True)
DEMO_ORDERS = int(env("DEMO_ORDERS", "20000"))

# --- Shipping: InPost ShipX and delivery promises ---------------------------------------------
INPOST_API_URL = env(
    "INPOST_API_URL", "https://api-shipx-pl.easypack24.net"
)  # sandbox: sandbox-api-shipx-pl...
INPOST_TOKEN = env("INPOST_TOKEN", "")
INPOST_ORGANIZATION_ID = env("INPOST_ORGANIZATION_ID", "")
INPOST_TIMEOUT = float(env("INPOST_TIMEOUT", "20"))  # seconds per request
INPOST_LABEL_TYPE = env("INPOST_LABEL_TYPE", "A6")  # A6 (label printer) or normal (A4)
INPOST_SENDING_METHOD = env("INPOST_SENDING_METHOD", "dispatch_order")  # courier collects; or parcel_locker
INPOST_WEBHOOK_SECRET = env("INPOST_WEBHOOK_SECRET", "")  # part of the webhook address; empty: webhook off
SHIP_AT_RISK_HOURS = int(
    env("SHIP_AT_RISK_HOURS", "4")
)  # open orders due within this many hours are "at risk"

# Ninja: rate limits and size limits on API input
NINJA_PAGINATION_MAX_LIMIT = 500
API_MAX_STRING = 2000

# --- Analytics (traffic) ----------------------------------------------------------------------
ANALYTICS_RETENTION_DAYS = int(env("ANALYTICS_RETENTION_DAYS", "730"))  # events older than this are deleted
ANALYTICS_RATE_LIMIT = int(env("ANALYTICS_RATE_LIMIT", "600"))  # collector: events per minute per IP
ANALYTICS_MAX_BODY = int(env("ANALYTICS_MAX_BODY", "16384"))  # collector: bytes per request
ANALYTICS_TRUSTED_PROXY = env_bool("ANALYTICS_TRUSTED_PROXY", False)  # take the IP from X-Forwarded-For

# --- Operations endpoints: /healthz, /readyz, /metrics (monitoring/ops.py, docs/operations.md) ------------
# Bearer token for /metrics and the details of /readyz; unset: only direct loopback callers and signed-in
# users with monitoring access.
METRICS_TOKEN = env("METRICS_TOKEN", "") or ""
# Counters of every process (gunicorn workers, the worker) for /metrics: prometheus_client multiprocess
# files, local to this machine. prometheus_client reads the directory from its own variable.
METRICS_DIR = Path(env("METRICS_DIR", str(DATA_DIR / "metrics"))).resolve()
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
READY_DB_TIMEOUT = float(env("READY_DB_TIMEOUT", "2"))  # seconds for SELECT 1
# Probes may come over plain HTTP from inside the cluster: no HTTPS redirect for them (production).
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz)$"]
READY_HEARTBEAT_MAX_AGE = int(env("READY_HEARTBEAT_MAX_AGE", "300"))  # seconds; 0: worker not checked
READY_SPOOL_MAX_BYTES = int(env("READY_SPOOL_MAX_BYTES", str(256 * 1024 * 1024)))  # unflushed collector data
READY_SPOOL_MAX_AGE = int(env("READY_SPOOL_MAX_AGE", "900"))  # seconds the oldest unflushed event may wait
