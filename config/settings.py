"""Lodestone settings: one module, every knob from the environment, grouped by topic.

Only the process environment is read (no `.env` file: compose passes its own env file, and
a file in the checkout must never change what `make run` does). Without DATABASE_URL and
CELERY_BROKER_URL you get the embedded default: SQLite under var/, Celery tasks in-process.
DEBUG is off unless the environment turns it on (the Makefile does) or pytest or mypy loads it;
production sets at least SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and CELERY_BROKER_URL (see
.env.example). A value that cannot be right (not a number, below its minimum, a boolean that
is neither true nor false) stops start-up with the variable's name.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.secret_key import secret_key_problem

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer variable; a value that is not a whole number or is below `minimum` stops start-up."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r}: must be at least {minimum}")
    return value


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but true/false/1/0/yes/no/on/off stops start-up ("flase" is no false)."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected true or false")
    return raw in _TRUE


# --- Core: debug, secret key, hosts ------------------------------------------------------------
# Off by default: a deployment that forgets DEBUG must not show the debug page. The developer
# tools load these settings with the development defaults: pytest (>= 8.2 sets PYTEST_VERSION)
# and mypy's django-stubs plugin (`make typecheck`).
DEBUG = env_bool("DEBUG", default=bool(os.environ.get("PYTEST_VERSION")) or "mypy" in sys.modules)

_DEV_SECRET_KEY = "insecure-dev-key-only-for-the-embedded-default-never-in-production"  # noqa: S105 - DEBUG only, refused in production
_secret_key_given = env.str("SECRET_KEY", default="")
if not DEBUG and (_key_problem := secret_key_problem(_secret_key_given)):
    raise ImproperlyConfigured(_key_problem)
SECRET_KEY = _secret_key_given or _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications and the request pipeline -------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "simple_history",
    "import_export",
    "django_celery_beat",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "minerals",
    "suppliers",
    "dashboards",
    "alerts",
    "scenarios",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Stored answers of the overview, the mineral pages (anonymous) and the API's metrics and
    # minerals list (tokens), before sessions and authentication: config/stored_responses.py.
    "config.stored_responses.StoredResponseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.accounts.AnonymousPageRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "config.navigation.header_links",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'lodestone.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the dev server read while a task writes; the timeout rides out short write locks.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
else:
    # Persistent connections: measured 3.7x throughput over reconnecting per request.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, its per-request health check a socket poll, not SELECT 1.
        DATABASES["default"]["ENGINE"] = "config.postgresql"
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Without a broker the embedded default runs tasks in-process so the app works with Python alone.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
# Visibility timeout above the hard time limit, so a running task is never delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
# A dead broker must not hang a web request: publish retries fail fast; data is saved anyway
# and the beat sweep re-enqueues whatever is still stale.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# The sweep re-enqueues whatever is still stale (broker down, message lost, a new day for exposure).
# django-celery-beat's DatabaseScheduler imports this schedule into its tables on start.
CELERY_BEAT_SCHEDULE = {
    "dashboards-sweep-stale": {"task": "dashboards.tasks.sweep_stale", "schedule": 60.0},
    # Scenarios whose stored result used older data run again (scenarios.services.stale_scenarios_rerun).
    "scenarios-rerun-stale": {"task": "scenarios.tasks.rerun_stale_scenarios", "schedule": 300.0},
    # Alerts: history rows -> events (change data capture), and the daily suspension deadlines
    # (idempotent and catching up, so an hourly run costs nothing and survives a missed day).
    "alerts-capture-policy-changes": {"task": "alerts.tasks.capture_policy_changes", "schedule": 60.0},
    "alerts-suspension-deadlines": {"task": "alerts.tasks.fire_suspension_deadlines", "schedule": 3600.0},
    # New editions and import batches, threshold crossings after recomputes, and the deliveries a
    # dead broker held back (webhooks due, instant e-mails); the daily digest at 07:00 UTC.
    "alerts-capture-data-editions": {"task": "alerts.tasks.capture_data_editions", "schedule": 60.0},
    "alerts-evaluate-thresholds": {"task": "alerts.tasks.evaluate_thresholds", "schedule": 60.0},
    "alerts-sweep-deliveries": {"task": "alerts.tasks.sweep_deliveries", "schedule": 60.0},
    "alerts-daily-digests": {"task": "alerts.tasks.send_daily_digests", "schedule": crontab(hour=7, minute=0)},
}


# --- Cache -----------------------------------------------------------------------------------
# The cache (page content, cached sessions, throttle counters) lives in its own Redis database,
# never the broker's: by default REDIS_URL's database + 1. Every entry has a TTL, so a server
# run with `maxmemory` and `maxmemory-policy volatile-lru` evicts cache entries and never the
# broker's queues (docs/operations.md, "Redis memory").
def redis_database_after(url: str) -> str:
    parts = urlsplit(url)
    number = parts.path.strip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL={url!r}: expected redis://host:port/<database number>")
    return urlunsplit(parts._replace(path=f"/{int(number) + 1}"))


CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default="") or (redis_database_after(REDIS_URL) if REDIS_URL else "")
if CACHE_REDIS_URL and CACHE_REDIS_URL.rstrip("/") in {CELERY_BROKER_URL.rstrip("/"), REDIS_URL.rstrip("/")}:
    raise ImproperlyConfigured(
        f"CACHE_REDIS_URL={CACHE_REDIS_URL!r} is the broker's Redis database: give the cache its own "
        "(e.g. redis://host:6379/1), so that evicting cache entries never touches the queue."
    )
if CACHE_REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.KeptClientRedisCache", "LOCATION": CACHE_REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication and login ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login, logout and password change use Django's auth views with templates/registration/.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:overview"
# Login lockout (django-axes): per account AND client address, so wrong passwords from one
# place lock neither other accounts nor the same account elsewhere; it lifts after the cool-off.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "config.accounts.client_ip"
# The password change form: wrong current passwords per user within a window, then 429.
LODESTONE_PASSWORD_CHANGE_MAX_FAILURES = env_int("LODESTONE_PASSWORD_CHANGE_MAX_FAILURES", 5, minimum=1)
LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS = env_int("LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS", 900, minimum=60)
# Anonymous page views per client address within a window, then 429 (0: no limit). Each accepted
# query may render and cache a page: this bounds how fast one address fills the cache. A person
# reading pages makes a few a minute; 300 a minute is 5 a second, kept up for a whole minute.
LODESTONE_ANONYMOUS_PAGE_VIEWS = env_int("LODESTONE_ANONYMOUS_PAGE_VIEWS", 300, minimum=0)
LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS = env_int("LODESTONE_ANONYMOUS_PAGE_WINDOW_SECONDS", 60, minimum=1)
# Sessions read through the cache (Redis in production), written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- HTTPS and security headers ------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Cookies only over HTTPS in production; the compose trial over plain HTTP turns this off
# (some browsers drop secure cookies on http://localhost, and the login's CSRF check fails).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", default=False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies in front of Django that append the client's address to X-Forwarded-For (nginx:
# proxy_add_x_forwarded_for). The login lockout and the API throttles read the client address
# from there; with 0, only REMOTE_ADDR counts and the header (which anyone can send) is ignored.
LODESTONE_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if BEHIND_TLS_PROXY else 0, minimum=0)

# Everything, scripts included, comes from our own origin: no CDN, no inline script, no eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],  # Plotly sets inline style attributes on SVG.
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Request bodies and uploads ----------------------------------------------------------------
# A bulk JSON array of 50,000 trade flows is ~7 MB: the API needs at least 8 MiB in memory;
# uploads above FILE_UPLOAD_MAX_MEMORY_SIZE stream to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 32 * 1024 * 1024, minimum=8 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Largest supplier list a buyer may upload (bytes).
LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES = env_int("LODESTONE_SUPPLIER_UPLOAD_MAX_BYTES", 5 * 1024 * 1024, minimum=1)

# --- Static files ------------------------------------------------------------------------------
# collectstatic writes hashed, gzip and brotli copies that whitenoise serves with far-future cache
# headers, in production and under `make run` (DEBUG) alike: `make run` collects, then runs
# `runserver --nostatic`; whitenoise serves only the collected files (no finders), so an edited
# static file shows after the next collectstatic. A pytest run (PYTEST_VERSION is set) renders
# plain names without collecting; tests/browser collects and serves the real files. Its root is
# not `make run`'s var/staticfiles: whitenoise indexes every collected file each time a test
# client loads the middleware, which made the API tests 4x slower in a checkout that had run
# `make run` (docs/performance.md, "Suite duration").
PYTEST_RUN = bool(env.str("PYTEST_VERSION", default=""))
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / ("test-static-root" if PYTEST_RUN else "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if PYTEST_RUN
        else "config.storage.HashedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
MEDIA_ROOT = VAR_DIR / "media"

# --- REST API (/api/v1/) and OAuth2 client credentials -------------------------------------------
# OAuth2 first: it answers an anonymous request with 401 and a `WWW-Authenticate: Bearer`
# challenge; the session class enforces CSRF on unsafe methods (browser callers).
REST_FRAMEWORK: dict[str, Any] = {
    # Every operation documents its 400/401/403/404/429 answers.
    "DEFAULT_SCHEMA_CLASS": "minerals.api.schema.LodestoneAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "minerals.api.authentication.ClientCredentialsAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "minerals.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "minerals.api.pagination.KeysetCursorPagination",
    "DEFAULT_RENDERER_CLASSES": [
        "minerals.api.renderers.JSONRenderer",
        "minerals.api.renderers.SafeCSVRenderer",
        "minerals.api.renderers.SafeXLSXRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "minerals.api.parsers.BoundedJSONParser",
        "minerals.api.parsers.BoundedMultiPartParser",
        "minerals.api.parsers.CSVTextParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["minerals.api.throttles.CallerScopeThrottle"],
    "EXCEPTION_HANDLER": "minerals.api.errors.api_exception_handler",
    "URL_FORMAT_OVERRIDE": "format",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": LODESTONE_TRUSTED_PROXY_COUNT,  # client address as config.accounts.client_ip reads it
}
# Requests per caller (token application, else user) and per throttle scope; read at request
# time, so tests and the benchmark can change them. 429 answers carry Retry-After.
LODESTONE_API_THROTTLE_RATES = {
    "reference": env.str("API_RATE_REFERENCE", default="1200/min"),
    "metrics": env.str("API_RATE_METRICS", default="1200/min"),
    "portfolio": env.str("API_RATE_PORTFOLIO", default="600/min"),
    "bulk": env.str("API_RATE_BULK", default="30/min"),
}
LODESTONE_API_PAGE_SIZE = env_int("API_PAGE_SIZE", 100, minimum=1)
LODESTONE_API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000, minimum=1)
# One bulk request: rows accepted (a 10,000-row push is the documented case).
LODESTONE_API_BULK_MAX_ROWS = env_int("API_BULK_MAX_ROWS", 50_000, minimum=1)
# Largest request body (JSON, CSV or multipart), refused with 413 before it is read: a 50,000-row
# JSON array of trade flows is about 7 MB, the same rows as CSV about 4 MB.
LODESTONE_API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1)
SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "Lodestone API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Lodestone: U.S. buyers' exposure of critical minerals to China. See docs/api.md.",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "minerals.models.Stage",
        "UnitEnum": "minerals.models.Unit",
        "MeasureTypeEnum": "minerals.models.MeasureType",
        "FacilityStatusEnum": "suppliers.models.Facility.Status",
        "PlanStatusEnum": "suppliers.models.TransitionPlan.Status",
    },
    # Swagger UI's own initializer is a static file of ours (no inline script: CSP script-src 'self').
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": False},
}
OAUTH2_PROVIDER = {
    "SCOPES": {
        "reference:read": "Read reference data and metrics",
        "reference:write": "Write reference data (curators)",
        "portfolio:read": "Read the organization's portfolio and exposure",
        "portfolio:write": "Write the organization's requirements and sourcing",
        "events:read": "Read the change feed: public policy events and the organization's own",
    },
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_TOKEN_SECONDS", 3600, minimum=60),
    # Partners use client credentials only; adopt the OAuth 2.0 Security BCP (RFC 9700) everywhere.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
# django-oauth-toolkit's Application is swappable: the binding model's migration names the setting.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"

# --- Importers and the admin's CSV/XLSX import-export ---------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True  # an admin import is atomic: one bad row saves nothing
# Off: CuratedModelAdmin escapes = + - @ tab CR itself (minerals.spreadsheets); the library's
# escaping strips a leading '=' only and writes every cell, numbers too, as text.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
IMPORT_EXPORT_ESCAPE_HTML_ON_EXPORT = False
# Admin uploads: size and row caps (the commands have no cap), where uploads and reports are kept.
LODESTONE_IMPORT_MAX_UPLOAD_BYTES = env_int("LODESTONE_IMPORT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1)
# The row cap is what an import task does within its soft time limit (CELERY_TASK_TIME_LIMIT - 30
# = 270 s): BACI loads about 9,200 rows/s (4.9 M rows took 530 s), so 2 M rows take about 220 s.
# Raise both together (docs/data-sources.md, "Limits").
LODESTONE_IMPORT_MAX_ROWS = env_int("LODESTONE_IMPORT_MAX_ROWS", 2_000_000, minimum=1)
# Errors kept per import (all go to the rejects CSV); beyond this, reading stops.
LODESTONE_IMPORT_MAX_ERRORS = env_int("LODESTONE_IMPORT_MAX_ERRORS", 100_000, minimum=1)
LODESTONE_IMPORT_UPLOAD_DIR = env.path("LODESTONE_IMPORT_UPLOAD_DIR", default=VAR_DIR / "import-uploads")
LODESTONE_IMPORT_REPORT_DIR = env.path("LODESTONE_IMPORT_REPORT_DIR", default=VAR_DIR / "import-reports")
# Uploads and rejects reports older than this are deleted by the hourly housekeeping (beat).
LODESTONE_IMPORT_RETENTION_DAYS = env_int("LODESTONE_IMPORT_RETENTION_DAYS", 14, minimum=1)
CELERY_BEAT_SCHEDULE["minerals-import-housekeeping"] = {
    "task": "minerals.tasks.import_housekeeping",
    "schedule": 3600.0,
}

# --- Domain knobs ------------------------------------------------------------------------------
# Foreign entities of concern (U.S. usage) and the ownership threshold of the FEOC rule.
LODESTONE_FEOC_COUNTRIES = env.list("LODESTONE_FEOC_COUNTRIES", default=["CHN", "RUS", "PRK", "IRN"])
LODESTONE_CONTROL_THRESHOLD = env.float("LODESTONE_CONTROL_THRESHOLD", default=0.25)
# Weights of the alternatives' ranking factors (docs/metrics.md, "Alternatives"): relative,
# normalized to sum 1; e.g. LODESTONE_ALTERNATIVE_WEIGHTS="stage=0.3,availability=0.25,...".
LODESTONE_ALTERNATIVE_WEIGHTS = env.dict(
    "LODESTONE_ALTERNATIVE_WEIGHTS",
    cast={"value": float},
    default={"stage": 0.30, "availability": 0.25, "coverage": 0.20, "governance": 0.15, "measures": 0.10},
)
# USGS counts Hong Kong and Macau with China in import sources.
LODESTONE_CHINA_GROUP = env.list("LODESTONE_CHINA_GROUP", default=["CHN", "HKG", "MAC"])
LODESTONE_DEFAULT_DESTINATION = env.str("LODESTONE_DEFAULT_DESTINATION", default="USA")
# Destinations whose imports are materialized besides the default one and the buyers' countries
# ("*" = every importer).
LODESTONE_IMPORT_DESTINATIONS = env.list("LODESTONE_IMPORT_DESTINATIONS", default=[])

# --- Risk engine and dashboard -------------------------------------------------------------------
# Debounce of the coalesced recompute: edits within this window share one run (seconds).
LODESTONE_RECOMPUTE_COUNTDOWN = env.float("LODESTONE_RECOMPUTE_COUNTDOWN", default=2.0)
# While edits keep coming, a recompute waits for a pause of COUNTDOWN, but at most this long
# (seconds); the wait doubles at each follow-up run of the same burst, up to 60 s (dashboards/tasks.py).
LODESTONE_RECOMPUTE_MAX_DELAY = env.float("LODESTONE_RECOMPUTE_MAX_DELAY", default=10.0)
# Where the pending keys (Redis SET NX) live, and their prefix; empty URL: no coalescing.
LODESTONE_RECOMPUTE_REDIS_URL = env.str("LODESTONE_RECOMPUTE_REDIS_URL", default=REDIS_URL)
LODESTONE_RECOMPUTE_KEY_PREFIX = env.str("LODESTONE_RECOMPUTE_KEY_PREFIX", default="lodestone:recompute")
# Page content is cached under the data generation (a new generation reads a new key); the
# timeout only bounds how long superseded entries linger.
LODESTONE_PAGE_CACHE_SECONDS = env_int("LODESTONE_PAGE_CACHE_SECONDS", 6 * 3600, minimum=1)
# The data generation (the key of every page and stored answer) is kept in the cache this long
# beside an epoch every writer replaces (dashboards/generation.py): a recompute or an edit shows
# on the next request. Only a cache shared by every process that writes can carry the epoch, so
# the default is 0 (read the database on every request) without Redis.
LODESTONE_GENERATION_CACHE_SECONDS = env_int(
    "LODESTONE_GENERATION_CACHE_SECONDS", 300 if CACHE_REDIS_URL else 0, minimum=0
)
# ... and each process keeps what it read this long (no cache round trip): another process's
# change shows at most this much later; the writer's own process sees it at once.
LODESTONE_GENERATION_LOCAL_SECONDS = env_int("LODESTONE_GENERATION_LOCAL_SECONDS", 1, minimum=0)
# Stored answers of the hot endpoints each process keeps in memory (the bytes of a page are
# 50-200 KB; the shared cache keeps them too, config/stored_responses.py).
LODESTONE_STORED_RESPONSES_IN_PROCESS = env_int("LODESTONE_STORED_RESPONSES_IN_PROCESS", 64, minimum=1)
# How long a process trusts an API token it has looked up, for every API read (writes look it up
# again): a revoked or deleted token is refused within this many seconds (an expired one at once).
LODESTONE_API_TOKEN_CACHE_SECONDS = env_int("LODESTONE_API_TOKEN_CACHE_SECONDS", 10, minimum=0)

# --- Internationalization ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging -----------------------------------------------------------------------------------
# One handler, on the root logger. Django's default configuration gives the `django` logger a
# console handler of its own (and mail_admins); it also propagates to the root, which printed
# every django.* line twice. Redefined here without handlers, it only propagates. runserver's
# `django.server` keeps its own handler and does not propagate.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Alerts: webhooks and e-mail (docs/operations.md, "Alerts") ------------------------------
# Webhook URLs must resolve to public addresses only; loopback (http or https) only in development.
LODESTONE_WEBHOOK_ALLOW_LOOPBACK = env_bool("LODESTONE_WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)
LODESTONE_WEBHOOK_BATCH = env_int("LODESTONE_WEBHOOK_BATCH", 100, minimum=1)
LODESTONE_WEBHOOK_BACKOFF_SECONDS = env_int("LODESTONE_WEBHOOK_BACKOFF_SECONDS", 10, minimum=1)
LODESTONE_WEBHOOK_DISABLE_AFTER = env_int("LODESTONE_WEBHOOK_DISABLE_AFTER", 10, minimum=1)
# Links in e-mails point here.
LODESTONE_SITE_URL = env.str("LODESTONE_SITE_URL", default="http://127.0.0.1:8000")
# E-mail: the console on the embedded default (alerts are printed), SMTP when EMAIL_HOST is set.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env.path("EMAIL_FILE_PATH", default=VAR_DIR / "mail")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Lodestone <alerts@lodestone.invalid>")
