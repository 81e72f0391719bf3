"""Settings shared by every environment. Variable parts come from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from config.celery import QUEUES

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PLATFORM_DIR = BASE_DIR / "platform"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "core",
    "credit",
    "payments",
    "warehouses",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectOversizedBodiesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.RejectNulBytesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "credit.web.context_processors.navigation",
            ],
        },
    },
]

# PostgreSQL everywhere: `make run` (a project-local cluster, config/settings/local.py),
# the tests and production. No default: each environment names its database.
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
# Production reaches PostgreSQL through PgBouncer in transaction pooling, where nothing may
# outlive a transaction. Django's server-side cursors (QuerySet.iterator() outside a
# transaction) are held past their transaction on one server connection: off everywhere,
# so what the tests prove is what production runs.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
# Sessions live in the database so the web keeps working while Redis is down.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [PLATFORM_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# --- API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an unauthenticated request answers 401 with `WWW-Authenticate: Api-Key`.
        "payments.api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "config.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.AnonThrottle",
        "config.api.UserThrottle",
        "config.api.APIKeyThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="120/min"),
        "user": env("THROTTLE_USER", default="600/min"),
        "api_key": env("THROTTLE_API_KEY", default="6000/min"),
    },
    "EXCEPTION_HANDLER": "config.api.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Entrepot API",
    "DESCRIPTION": (
        "Public credit registry, overseas-warehouse marketplace and payment-institution "
        "API. Errors are RFC 9457 application/problem+json."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets are served by the app, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers (401, 429, problem+json...) declared once: config/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.declare_problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "InstitutionStatusEnum": "payments.models.InstitutionProfile.Status",
        "WebhookDeliveryStatusEnum": "payments.models.WebhookDelivery.Status",
        "PaymentOutcomeEnum": "payments.models.PaymentReport.Outcome",
        "ReserveReportSourceEnum": "payments.models.ReserveReport.Source",
        "CreditEventSourceEnum": "credit.models.CreditEvent.Source",
        "ListingStatusEnum": "warehouses.models.Listing.Status",
        "GradeEnum": "credit.models.Subject.Grade",
    },
}

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A hard limit for every task; no global soft limit, because a task that sets only a lower
# `time_limit` would then fail to send ("soft_time_limit must be <= time_limit"). Tasks that
# want to clean up set `soft_time_limit` themselves.
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when Redis is down: the database outbox keeps the work.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY = False
# Queues (declared once in config/celery.py as QUEUES): a task not named below goes to
# "default". Declaring them all also makes a worker started without -Q consume every one.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in QUEUES}
CELERY_TASK_ROUTES = {
    name: {"queue": queue}
    for queue, names in {
        "grades": (
            "credit.recompute_subject",
            "credit.flush_recompute_queue",
            "credit.start_full_recompute",
            "credit.recompute_chunk",
        ),
        "webhooks": ("payments.deliver_webhook", "payments.sweep_webhook_deliveries"),
        "compliance": ("payments.run_compliance_check", "payments.run_daily_compliance_checks"),
    }.items()
    for name in names
}
# Beat: entry name -> (task name, when it runs).
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": schedule}
    for name, task, schedule in (
        ("platform-clear-expired-sessions", "platform.clear_expired_sessions", crontab(hour=3, minute=30)),
        ("credit-flush-recompute-queue", "credit.flush_recompute_queue", timedelta(seconds=30)),
        ("credit-full-recompute-nightly", "credit.start_full_recompute", crontab(hour=2, minute=0)),
        ("credit-expire-blacklist-entries", "credit.expire_blacklist_entries", crontab(minute=5)),
        ("payments-daily-compliance-checks", "payments.run_daily_compliance_checks", crontab(hour=0, minute=15)),
        ("payments-read-domain-events", "payments.process_domain_events", timedelta(seconds=15)),
        ("payments-sweep-webhook-deliveries", "payments.sweep_webhook_deliveries", timedelta(seconds=30)),
        ("warehouses-expire-holds", "warehouses.expire_holds", timedelta(seconds=60)),
        ("warehouses-complete-due-leases", "warehouses.complete_due_leases", crontab(minute=20)),
        ("warehouses-reconcile-ledger", "warehouses.reconcile_ledger", crontab(hour=1, minute=40)),
        ("warehouses-release-escrow-periods", "warehouses.release_escrow_periods", crontab(hour=0, minute=50)),
        ("warehouses-expire-unpaid-leases", "warehouses.expire_unpaid_leases", timedelta(minutes=5)),
        ("warehouses-read-domain-events", "warehouses.read_domain_events", timedelta(seconds=15)),
        ("warehouses-expire-transfers", "warehouses.expire_transfers", timedelta(minutes=5)),
        ("payments-purge-idempotency-keys", "payments.purge_idempotency_keys", crontab(minute=10)),
    )
}

# --- Domain defaults (PRODUCT.md), all overridable ---------------------------------------
ENTREPOT = {
    # API tokens: each web process keeps a token and its user for this long (0: never), so
    # a deleted token or a deactivated user is refused within it (config/authentication.py).
    "TOKEN_CACHE_SECONDS": env.float("TOKEN_CACHE_SECONDS", default=2),
    # Idempotency-Key rows (core.idempotency: payments and warehouses) are purged by beat
    # after this long.
    "IDEMPOTENCY_KEY_RETENTION_HOURS": env.int("IDEMPOTENCY_KEY_RETENTION_HOURS", default=24),
    # Warehouse marketplace (warehouses/services/). Grade ladder A > B > M > C > D.
    "WAREHOUSE_ANSWER_HOURS": 24,  # request-and-approve: the operator answers within this
    # An approved lease is paid into escrow within this many hours of the approval, and
    # never later than its start day; unpaid, it expires and its units are free again.
    "WAREHOUSE_PAYMENT_HOURS": 48,
    "WAREHOUSE_INSTANT_MIN_GRADE": "B",  # below this, an instant listing takes a request instead
    "WAREHOUSE_LOCK_TIMEOUT_MS": 3000,  # waiting longer for a listing's lock answers 409 Busy
    "WAREHOUSE_MAX_LISTING_DAYS": 731,
    "TRANSFER_OFFER_HOURS": 72,  # a lease transfer offer lapses unless executed by then
    "REVIEW_WINDOW_DAYS": 30,  # days after a lease's completion during which each party may rate the other
    # Escrow (payments/services/escrow.py): fee withheld from every release, release period, disputes.
    "ESCROW_PLATFORM_FEE_PERCENT": "3",
    "ESCROW_RELEASE_PERIOD_DAYS": 30,
    "DISPUTE_WINDOW_DAYS": 14,  # after completion, either party may still open a dispute
    # Days an entry stays published, by severity (max), and when repair may be applied for.
    "BLACKLIST_PUBLICATION_DAYS": {"minor": 90, "general": 365, "serious": 3 * 365},
    "BLACKLIST_PUBLICATION_MIN_DAYS": {"minor": 1, "general": 90, "serious": 365},
    "BLACKLIST_REPAIR_AFTER_DAYS": {"minor": 0, "general": 90, "serious": 365},
    "APPEAL_REPLY_WORKING_DAYS": 10,
    "APPEAL_DECISION_WORKING_DAYS": 3,
    "REPAIR_REPLY_WORKING_DAYS": 10,
    "REPAIR_DECISION_WORKING_DAYS": 3,
    # Payment-institution compliance (payments/compliance.py documents each rule).
    "PAYMENTS": {
        "LICENCE_RENEWAL_WINDOW_MONTHS": 6,
        # Minimum paid-in capital by jurisdiction (country code, or "EU" for EU members).
        "MINIMUM_CAPITAL": {
            "CN": {"amount": "100000000", "currency": "CNY"},
            "EU": {"amount": "350000", "currency": "EUR"},
            "SG": {"amount": "250000", "currency": "SGD"},
        },
        "MINIMUM_GRADE": "M",  # ladder A > B > M > C > D
        "RESERVE_COVERAGE_MIN_PERCENT": "100",
        "RESERVE_REPORT_MAX_AGE_BUSINESS_DAYS": 1,
        "PERMITTED_OUTFLOW_DESTINATIONS": [
            "customer_settlement",
            "merchant_settlement",
            "own_funds",
            "pending_settlement",
            "partner_institution",
        ],
        "FX_CORRIDOR_CURRENCIES": ["CNY"],  # need FX registration and a partner bank
        "SCREENING_MINIMUM_GRADE": "C",  # default threshold when an institution sets none
        "SCREENING_NAME_MIN_SIMILARITY": "0.3",
        "SCREENING_NAME_AMBIGUITY_GAP": "0.1",
        "SCREENING_BATCH_MAX": 1000,
        # Each web process keeps a payment provider's API key and its institution's status
        # this long (a revocation or suspension made elsewhere takes effect within it).
        "API_KEY_CACHE_SECONDS": env.float("API_KEY_CACHE_SECONDS", default=2),
        "WEBHOOK_MAX_ATTEMPTS": env.int("WEBHOOK_MAX_ATTEMPTS", default=12),
        "WEBHOOK_BACKOFF_BASE_SECONDS": env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=5),
        "WEBHOOK_BACKOFF_MAX_SECONDS": env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600),
        "WEBHOOK_TIMEOUT_SECONDS": 10,
        # Off in production: webhook URLs must name public hosts (no SSRF into the platform's
        # network). Local runs and tests turn it on, their receivers listen on 127.0.0.1.
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=False),
        # After a secret rotation the previous secret also signs deliveries for this long.
        "WEBHOOK_SECRET_ROTATION_GRACE_HOURS": 24,
        # Domain-event ids skipped by the reader (a transaction still open) are re-checked
        # until they appear or this many seconds pass (then taken as rolled back).
        "DOMAIN_EVENT_GAP_TIMEOUT_SECONDS": 600,
    },
}
