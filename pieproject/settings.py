"""The one settings module: everything that differs between machines comes from the environment.

With ``DATABASE_URL`` and ``REDIS_URL`` unset, the defaults point at the embedded servers that
``make run`` and ``make test`` start from the virtualenv (``pieproject/devservers.py``), so the
code path is the same everywhere: PostgreSQL and Redis.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dj_database_url

from pieproject.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

DEBUG = env_bool("DEBUG", False)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
# Outside DEBUG, at least 50 characters: the length Django's deploy check asks for (W009).
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else None, min_length=None if DEBUG else 50)
if not DEBUG and (
    SECRET_KEY == _DEV_SECRET
    or SECRET_KEY.startswith("django-insecure-")
    or len(set(SECRET_KEY)) < 5  # Django's deploy check (W009) asks for 5 distinct characters
):
    raise ConfigError("SECRET_KEY must be set to a secret value when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ConfigError(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} needs a scheme, e.g. https://{_origin}."
        )

EMBEDDED_DATABASE_URL = f"postgresql://postgres@/pies?host={DATA_DIR / 'postgres'}"
EMBEDDED_REDIS_PORT = env_int("PIES_EMBEDDED_REDIS_PORT", 6389, minimum=1, maximum=65535)
DATABASE_URL = env_url(
    "DATABASE_URL", EMBEDDED_DATABASE_URL, schemes=("postgres", "postgresql", "pgsql")
)
REDIS_URL = env_url(
    "REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0", schemes=("redis", "rediss")
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "trading",
    "pies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "pieproject.headers.permissions_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "pieproject.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the outcome of authentication (django-axes docs).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pieproject.urls"
WSGI_APPLICATION = "pieproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_pies")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pies",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lock an account+IP out after repeated failed logins.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Reverse proxies in front of the app that append to X-Forwarded-For (0: none, the header is
# ignored). The lockout's address is the client the outermost trusted proxy saw.
PIES_TRUSTED_PROXIES = env_int("PIES_TRUSTED_PROXIES", 0, minimum=0, maximum=10)
AXES_CLIENT_IP_CALLABLE = "pieproject.clientip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en-us"
# Stored times are UTC; trade windows are computed in New York time, the exchange's time zone,
# which is not a setting: trading.calendar.MARKET_TZ is its one definition.
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# With DEBUG on, serve straight from the app folders (no collectstatic needed on a laptop).
WHITENOISE_AUTOREFRESH = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "pies@localhost")

# Production safety when DEBUG is off. Behind a TLS-terminating proxy, set
# SECURE_PROXY_SSL_HEADER=1 so Django trusts X-Forwarded-Proto (only if the proxy sets it).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No inline script or style anywhere (the admin's few styles are in static/css/admin.css,
# htmx's indicator style in app.css, Swagger UI's start-up script is served as a file).
# Images may be data: URIs (Swagger UI's and the admin's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# Features no page uses, refused for the pages and anything they embed.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Strict JSON: numbers as Decimal, no duplicate keys, NaN, NUL or absurd nesting.
    "DEFAULT_PARSER_CLASSES": ["trading.renderers.DecimalJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "pieproject.pagination.PagePagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "pieproject.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pies API",
    "DESCRIPTION": "Pie brokerage engine: accounts, pies, cash flows, rebalances, windows.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name "kind": name them instead of hashing.
    "ENUM_NAME_OVERRIDES": {
        "AccountKindEnum": "pies.serializers.ACCOUNT_KINDS",
        "SecurityKindEnum": "trading.models.SecurityKind",
    },
}

# Celery: one Redis URL for the broker, the results and the cache.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True  # a worker that dies mid-task leaves the message for another
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660, minimum=1)
if CELERY_TASK_TIME_LIMIT <= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ConfigError(
        f"CELERY_TASK_TIME_LIMIT={CELERY_TASK_TIME_LIMIT} must be greater than "
        f"CELERY_TASK_SOFT_TIME_LIMIT={CELERY_TASK_SOFT_TIME_LIMIT}: the soft limit lets a task "
        "stop cleanly before the hard one kills it."
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Product settings (product.md).
# Money: a plain non-negative amount with at most 2 decimals, a Decimal from here on.
PIES_AUTO_INVEST_TRIGGER = env_decimal("PIES_AUTO_INVEST_TRIGGER", Decimal("25.00"), places=2)
# Accounts per plan/post chunk: the unit of work a worker claims (trading.window.chunks).
PIES_WINDOW_CHUNK_SIZE = env_int("PIES_WINDOW_CHUNK_SIZE", 5000, minimum=1)
# The simulated broker fills net orders this many basis points away from the window price:
# positive against the trader (buys higher, sells lower), negative in the trader's favour.
PIES_BROKER_SLIPPAGE_BP = env_int("PIES_BROKER_SLIPPAGE_BP", 0, minimum=-5000, maximum=5000)
# The largest slippage a window accepts (allocation.md, Execution): net sells are limit orders
# at floor4(w * (1 - b / 10,000)), and sells are sized at that price so funding is certain.
PIES_MAX_SLIPPAGE_BP = env_int("PIES_MAX_SLIPPAGE_BP", 0, minimum=0, maximum=5000)
# A window run by a worker sends its plan and post chunks to the workers as tasks (one per
# chunk), so every worker process shares the window (trading.window.chunks).
PIES_WINDOW_SPREAD_CHUNKS = env_bool("PIES_WINDOW_SPREAD_CHUNKS", True)
# A window run without workers (the run_trade_window command, or PIES_WINDOW_SPREAD_CHUNKS=0)
# does its plan and post chunks on this many threads at a time, each with its own database
# connection: one chunk's Python runs while PostgreSQL writes another's (one per core).
PIES_WINDOW_THREADS = env_int("PIES_WINDOW_THREADS", 2, minimum=1, maximum=64)
# A running window whose heartbeat is older than this is re-enqueued by the tick.
PIES_WINDOW_STALL_SECONDS = env_int("PIES_WINDOW_STALL_SECONDS", 300, minimum=10)
# A failed window is retried by the tick until it has run this many times in all.
PIES_WINDOW_MAX_ATTEMPTS = env_int("PIES_WINDOW_MAX_ATTEMPTS", 3, minimum=1)
# Trade confirmations (trading.services.confirmations): owners per Celery task, and how old a
# claimed-but-unsent (or queued-but-unclaimed) confirmation must be before the tick sends it
# again. Longer than a task may live, so a slow send is never claimed twice.
PIES_CONFIRMATION_BATCH_SIZE = env_int("PIES_CONFIRMATION_BATCH_SIZE", 200, minimum=1)
PIES_CONFIRMATION_RETRY_SECONDS = env_int(
    "PIES_CONFIRMATION_RETRY_SECONDS", max(900, CELERY_TASK_TIME_LIMIT + 60), minimum=1
)
if PIES_CONFIRMATION_RETRY_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ConfigError(
        f"PIES_CONFIRMATION_RETRY_SECONDS={PIES_CONFIRMATION_RETRY_SECONDS} must be greater than "
        f"CELERY_TASK_TIME_LIMIT={CELERY_TASK_TIME_LIMIT}: a confirmation still being sent "
        "must not be claimed again."
    )
# A confirmation whose email failed this many times is left for staff (its error is kept).
PIES_CONFIRMATION_MAX_ATTEMPTS = env_int("PIES_CONFIRMATION_MAX_ATTEMPTS", 5, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    },
    "loggers": {"axes": {"level": "WARNING"}},
}
