"""The one settings module, driven by the environment (see `loyalty.config` and the README's table)."""

import os
import sys
from pathlib import Path

from loyalty.config import ConfigError, load

BASE_DIR = Path(__file__).resolve().parent.parent

try:
    CONFIG = load(os.environ, base_dir=BASE_DIR)
except ConfigError as exc:
    sys.exit(f"loyalty: configuration error: {exc}")

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = CONFIG.allowed_hosts
LOYALTY_DATA_DIR = CONFIG.data_dir

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "corsheaders",
    "loyalty.core",
    "loyalty.accounts",
    "loyalty.api",
    "receipts",
    "segments",
    "discounts",
    "loyalty.web",
]

MIDDLEWARE = [
    # first: a browser's CORS preflight is answered before anything authenticates, throttles or redirects it
    "loyalty.core.cors.PublicCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "loyalty.api.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loyalty.core.security.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"
# called once by each web worker as it boots (loyalty/wsgi.py)
WSGI_WARM_UP = ["discounts.documents.hot_validators_warm"]
ASGI_APPLICATION = "loyalty.asgi.application"

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
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
# Storage is always UTC; TIME_ZONE is only the default for display where no account timezone applies.
USE_TZ = True
TIME_ZONE = CONFIG.time_zone
USE_I18N = True

# A batch of 1,000 rich receipts is a few megabytes; larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = LOYALTY_DATA_DIR / "staticfiles"

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# --- transport security (production: DEBUG off) ---------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
if CONFIG.trust_forwarded_proto:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = CONFIG.ssl_redirect
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
    SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

CACHES = {
    # Shared by every web process (throttling counters), with no service beyond PostgreSQL.
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "loyalty_cache"},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["loyalty.api.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["loyalty.api.permissions.AccountScopePermission"],
    "EXCEPTION_HANDLER": "loyalty.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- API tokens ---------------------------------------------------------------------------------------------------
PUBLIC_BASE_URL = CONFIG.public_base_url
JWT_ISSUER = CONFIG.jwt_issuer
JWT_SECRET = SECRET_KEY
JWT_PRIVATE_KEY = CONFIG.jwt_private_key
JWT_ACCESS_TTL_SECONDS = CONFIG.jwt_access_ttl
JWT_LEEWAY_SECONDS = 10
REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600
AUTH_THROTTLE_RATE = CONFIG.auth_throttle_rate

# Automations' http actions (discounts/automations.py): private and loopback targets are refused unless allowed.
AUTOMATIONS_HTTP_ALLOW_PRIVATE = CONFIG.automations_http_allow_private
AUTOMATIONS_HTTP_TIMEOUT = CONFIG.automations_http_timeout
AUTOMATIONS_HTTP_RETRY_BASE = CONFIG.automations_http_retry_base

# CORS (django-cors-headers) for Dintero's discounts web widget, which runs on the merchant's origin: only the token
# endpoint and the public rules are cross-origin. No cookies cross (credentials stay off): the widget sends a token.
CORS_URLS_REGEX = r"^/v1/accounts/[PT]\d{8}/(?:auth/token|discounts/public/rules(?:/[^/]+)?)$"
CORS_ALLOW_ALL_ORIGINS = CONFIG.cors_public_origins == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else CONFIG.cors_public_origins
CORS_ALLOW_METHODS = ("GET", "POST", "OPTIONS")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "dintero-system-name", "dintero-system-version")

SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty back-office API",
    "DESCRIPTION": (
        "Dintero-compatible receipts and discounts under `/v1/accounts/{aid}/...`, Open Loyalty-compatible "
        "segments under `/api/{storeCode}/segment...` (`storeCode` is the account id). Authenticate with "
        "`POST /v1/accounts/{aid}/auth/token` (API clients) or `POST /api/admin/login_check` (staff)."
    ),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/(v1|api)",
    # The docs UI is served from our own static files: the machines have no internet at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "basicAuth": {"type": "http", "scheme": "basic", "description": "client_id:client_secret"},
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ------------------------------------------------------------------------------------------------------
CELERY_BROKER_URL = CONFIG.broker_url
CELERY_BROKER_TRANSPORT_OPTIONS = CONFIG.broker_transport_options
CELERY_BROKER_TRANSPORT = CONFIG.broker_transport  # the embedded broker's atomic-write transport; None: from the URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = CONFIG.task_queue
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# The database is the source of truth for every piece of work; results are never read back from Celery.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Declared in code; the database scheduler keeps them in sync at beat start.
CELERY_BEAT_SCHEDULE = {
    "segments-schedule": {"task": "segments.schedule", "schedule": 60.0},
    "segments-sweep": {"task": "segments.sweep", "schedule": 60.0},
    "discounts-sweep": {"task": "discounts.sweep", "schedule": 60.0},
    "discounts-usage-sweep": {"task": "discounts.usage_sweep", "schedule": 60.0},
    "discounts-automations-sweep": {"task": "discounts.automations_sweep", "schedule": 60.0},
    "receipts-forget-unused-windows": {"task": "receipts.forget_unused_windows", "schedule": 3600.0},
    "receipts-forget-unused-buyers": {"task": "receipts.forget_unused_buyers", "schedule": 3600.0},
    "receipts-repack-item-facts": {"task": "receipts.repack_item_facts", "schedule": 3600.0},
}
LOYALTY_EMBEDDED_BROKER = CONFIG.embedded_broker
LOYALTY_EMBEDDED_DATABASE = CONFIG.embedded_database
