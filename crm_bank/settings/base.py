"""Settings shared by every environment; each value comes from the environment.

`local`, `test` and `production` import this module and change only what they must.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "crm_bank.admin_apps.BankAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "django_filters",
    "django_tables2",
    "simple_history",
    "pgtrigger",
    "django_celery_beat",
    "django_celery_results",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "crm_bank.org",
    "crm_bank.audit",
    "crm_bank.runs",
    # After axes: its failed-login receiver reads the lockout flag that axes's receiver sets.
    "crm_bank.security",
    "crm_bank.ui",
    "demo",
    "customers",
    "segmentation",
    "channels",
    "campaigns",
    "performance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A body longer than CRM_REQUEST_MAX_BYTES is refused (413, in the reader's language) before the
    # CSRF check or a form reads it.
    "crm_bank.security.middleware.RequestBodyCapMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A request whose database connection is lost gets a clean 503 (crm_bank.errors).
    "crm_bank.errors.DatabaseUnavailableMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Every 403 and 401 on the audit trail, with the signed-in user when there is one.
    "crm_bank.audit.middleware.RefusedRequestAuditMiddleware",
    # A spent look-up allowance (crm_bank.security.limits) answers 429; the audit middleware records it.
    "crm_bank.security.middleware.RateLimitedMiddleware",
    "crm_bank.security.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the messages: a signed-out session is told why on the login page.
    "crm_bank.security.middleware.SessionTimeoutMiddleware",
    # A supervisor, admin or compliance officer gives the second factor before any page.
    "crm_bank.security.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a flagged login attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm_bank.urls"
WSGI_APPLICATION = "crm_bank.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm_bank.org.context_processors.staff_navigation",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# psycopg prepares nothing while this is None (Django's default). Django's own cursors bind on the
# client and are never prepared whatever it says; crm_bank.prepared's cursors, for the look-ups by key
# every page makes, are prepared on their first run on a connection.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
# The server drops a connection whose client machine has gone (a worker host lost mid-run) after
# about two minutes of silence instead of the operating system's two hours: until then its
# transaction's locks stay held, and a run being published stays "running" past the watchdog, which
# leaves locked runs alone. 0 leaves the server's setting (e.g. behind a pooler that refuses options).
CRM_DB_KEEPALIVE_IDLE_SECONDS = env.int("CRM_DB_KEEPALIVE_IDLE_SECONDS", default=60)
if CRM_DB_KEEPALIVE_IDLE_SECONDS > 0:
    DATABASES["default"]["OPTIONS"].setdefault(
        "options", f"-c tcp_keepalives_idle={CRM_DB_KEEPALIVE_IDLE_SECONDS} -c tcp_keepalives_interval=10"
                   " -c tcp_keepalives_count=6")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend reading the staff profile with the user: one query a request, not two.
    "crm_bank.org.backends.StaffModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("DJANGO_TIME_ZONE", default="Europe/Prague")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True
# Chinese counts grouped by three like the money beside them (crm_bank/formats/zh_Hans).
FORMAT_MODULE_PATH = ["crm_bank.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (import batches under imports/): by default in the checkout's git-ignored .local/
# (next to the embedded services' data), never in tracked files; production sets DJANGO_MEDIA_ROOT.
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / ".local" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

# Celery: JSON only, late acks with idempotent tasks, one message per worker process at a time.
CELERY_BROKER_URL = env("REDIS_URL")
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# Every periodic schedule lives here, each with a plain-English comment. The one exception: the
# nightly feature runs (80/20 value scoring at 02:30) are seeded into the database scheduler by
# their app's data migration (segmentation 0002), so an admin can move or pause them.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Once a night, drop Celery result rows older than a day (django-celery-results keeps them).
    "nightly-result-cleanup": {
        "task": "celery.backend_cleanup",
        "schedule": 24 * 60 * 60,
    },
    # Every minute, fail batch runs whose worker stopped beating (the last published run stays current).
    "runs-watchdog": {
        "task": "runs.watchdog",
        "schedule": 60,
    },
    # Every minute, recompute the running campaigns' uplift and best and worst branches and
    # segments, so the war rooms (polling every 5 s) read them from the cache.
    "campaign-dashboard-figures": {
        "task": "campaigns.dashboard_figures_refresh",
        "schedule": 60,
    },
    # Every five minutes, move complaints whose SLA step has ended one level up the ladder.
    "complaints-escalate": {
        "task": "channels.complaints_escalate",
        "schedule": 5 * 60,
    },
    # Every hour, give RMs a KYC-refresh task for customers whose review falls due within 30 days
    # (idempotent: one task per customer and due date).
    "kyc-refresh-tasks": {
        "task": "channels.kyc_refresh_tasks",
        "schedule": 60 * 60,
    },
}

# Where the public data sets live (PKDD'99, UCI Bank Marketing); never inside the repository.
CRM_DATASETS = env("CRM_DATASETS", default=str(BASE_DIR.parent / "shared" / "datasets"))
# The currency the bank reports in, and what one unit of each account currency is worth in it. The
# value scoring and segmentation runs convert every balance and transaction amount with these
# rates (each run keeps the rates it used in its params); an account in a currency missing here
# stops a run before it starts. A JSON object in CRM_CURRENCY_RATES replaces the defaults.
CRM_REPORTING_CURRENCY = env("CRM_REPORTING_CURRENCY", default="CNY")
CRM_CURRENCY_RATES: dict[str, float] = env.json("CRM_CURRENCY_RATES", default={
    "CNY": 1.0, "EUR": 7.8, "USD": 7.1, "HKD": 0.91, "GBP": 9.2, "JPY": 0.047, "CZK": 0.31,
})
# The 80/20 value formula's rates (segmentation.scoring.ValueWeights: deposit_margin 0.015,
# lending_spread 0.025, card_income_per_payment 0.30, fee_share 1.0) and the tier cut-offs (tier A:
# the customers who bring the first CRM_TIER_A_SHARE of value; B: the next CRM_TIER_B_SHARE). A JSON
# object in CRM_VALUE_WEIGHTS replaces some or all of the rates. Every value run (nightly, "Run now",
# `run_value_scoring`, whose options override them) keeps the ones it used in its params.
CRM_VALUE_WEIGHTS: dict[str, float] = env.json("CRM_VALUE_WEIGHTS", default={})
CRM_TIER_A_SHARE = env.float("CRM_TIER_A_SHARE", default=0.80)
CRM_TIER_B_SHARE = env.float("CRM_TIER_B_SHARE", default=0.15)
# The largest customer import file accepted (CSV or XLSX), in bytes; a larger one is refused.
CRM_IMPORT_MAX_BYTES = env.int("CRM_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
# The largest request body accepted at all, refused from its declared length before a byte is read
# (Django would otherwise write any upload to disk before a form could check its size): the largest
# import file and its form around it.
CRM_REQUEST_MAX_BYTES = env.int("CRM_REQUEST_MAX_BYTES", default=CRM_IMPORT_MAX_BYTES + 1024 * 1024)
# An uploaded file not imported within this many days is refused and deleted (the nightly retention task).
CRM_IMPORT_FILE_DAYS = env.int("CRM_IMPORT_FILE_DAYS", default=30)
# Channels and touchpoints.
# A tier-A customer (largest balances before any value run) with no contact for this many days is
# listed as silent on the RM's landing page.
CRM_SILENT_CUSTOMER_DAYS = env.int("CRM_SILENT_CUSTOMER_DAYS", default=90)
# Until the first 80/20 value run is published, "most valuable" means holding a deposit account with
# at least this balance (in the account's currency); afterwards it means value tier A.
CRM_TOP_CUSTOMER_BALANCE = env.int("CRM_TOP_CUSTOMER_BALANCE", default=500_000)
# The 360° page's data-quality panel asks staff to check a customer's contact details, address or
# consent when no source has confirmed them for this many days.
CRM_DATA_STALE_DAYS = env.int("CRM_DATA_STALE_DAYS", default=730)
# The touchpoint map warns when the customer's preferred channel has not been used for this long.
CRM_PREFERRED_CHANNEL_UNUSED_DAYS = env.int("CRM_PREFERRED_CHANNEL_UNUSED_DAYS", default=180)
# The war room's staffing advice (Erlang C): average handling time per queued channel in seconds,
# and the service-level target (share answered within CRM_SERVICE_LEVEL_SECONDS).
CRM_CHANNEL_HANDLING_SECONDS: dict[str, int] = env.json("CRM_CHANNEL_HANDLING_SECONDS", default={
    "call_centre": 240, "branch": 600, "service_centre": 420})
CRM_SERVICE_LEVEL_TARGET = env.float("CRM_SERVICE_LEVEL_TARGET", default=0.8)
CRM_SERVICE_LEVEL_SECONDS = env.int("CRM_SERVICE_LEVEL_SECONDS", default=20)
# How long a submitted campaign may wait for its approval before the queue marks it late.
CRM_CAMPAIGN_APPROVAL_SLA_HOURS = env.int("CRM_CAMPAIGN_APPROVAL_SLA_HOURS", default=24)
# How long a product owner has to answer customer feedback about the product.
CRM_FEEDBACK_RESPONSE_HOURS = env.int("CRM_FEEDBACK_RESPONSE_HOURS", default=72)
# Requests per token to the channel ingest API (DRF throttling; a batch of up to 1,000 items is one).
CRM_CHANNEL_API_RATE = env("CRM_CHANNEL_API_RATE", default="1200/min")
# Look-ups that find any branch's customer by an identifier (search by ID, phone, customer or account
# number) or by name and birth date (the ownership check): at most this many per member of staff in
# each window. Each answer is harmless alone, but enough of them recover a masked ID (birth dates
# tried one by one, then the ID's unknown digits); the limit turns minutes of that into hours on
# the audit trail, and stays above what a busy counter looks up.
CRM_IDENTIFIER_LOOKUPS = env.int("CRM_IDENTIFIER_LOOKUPS", default=40)
CRM_IDENTIFIER_LOOKUP_WINDOW_SECONDS = env.int("CRM_IDENTIFIER_LOOKUP_WINDOW_SECONDS", default=600)
# Sender of the notification e-mails (complaint escalation, skip-level, churn risk).
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="branch-crm@localhost")

# The ingest API for channel systems: token authentication of the system (channels.api), JSON only.
# The largest body the channel API reads: a full batch (1,000 items of at most 500 characters of
# summary, escaped) fits several times over.
CRM_API_MAX_BODY_BYTES = env.int("CRM_API_MAX_BODY_BYTES", default=4 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["channels.api.authentication.ChannelTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a bound on the body (CRM_API_MAX_BODY_BYTES); REST framework's own parser has none.
    "DEFAULT_PARSER_CLASSES": ["channels.api.parsers.BoundedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["channels.api.throttling.ChannelTokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"channel_token": CRM_CHANNEL_API_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The shared cache: the API's per-token rate limit must count across every web process and machine.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # Celery's URL for a Unix socket (the embedded Redis of `make run`) in redis-py's spelling.
        "LOCATION": env("REDIS_URL").replace("redis+socket://", "unix://", 1),
        "KEY_PREFIX": "crm",
    },
}
# How long a rendered 360° panel stays in the shared cache (crm_bank.ui.fragments; 0 turns it off). The
# key covers everything a panel shows, so this bounds the cache's memory, not how stale a panel can be.
CRM_PANEL_CACHE_SECONDS = env.int("CRM_PANEL_CACHE_SECONDS", default=600)
SPECTACULAR_SETTINGS = {
    "TITLE": "Branch CRM channel API",
    "DESCRIPTION": "Channel systems post every contact with a customer; each lands on the customer's timeline.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Customer matching: pairs the matcher scores above its auto-merge threshold wait in the review queue
# like the others unless this is on; then the find-duplicates run merges them (never when the two
# records have different RMs).
CRM_AUTO_MERGE = env.bool("CRM_AUTO_MERGE", default=False)

# The demo staff password; set only where demo data may be loaded (local settings).
DEMO_PASSWORD: str | None = None
# How many reverse proxies in front of the app append to X-Forwarded-For (0: none, use
# REMOTE_ADDR). The audit trail records the client address through them.
CRM_TRUSTED_PROXIES = env.int("CRM_TRUSTED_PROXIES", default=0)

# Login protection (django-axes): five wrong passwords for one user name from one address pause
# that pair for 15 minutes; other users and other addresses keep signing in. The address is the
# one the audit trail records (through CRM_TRUSTED_PROXIES), so a client cannot forge its way out.
# Sessions: signed out after 30 minutes without a request, and 10 hours after signing in whatever
# the activity (crm_bank.security.middleware.SessionTimeoutMiddleware); the cookie lasts no longer.
CRM_SESSION_IDLE_SECONDS = env.int("CRM_SESSION_IDLE_SECONDS", default=30 * 60)
CRM_SESSION_ABSOLUTE_SECONDS = env.int("CRM_SESSION_ABSOLUTE_SECONDS", default=10 * 60 * 60)
SESSION_COOKIE_AGE = CRM_SESSION_ABSOLUTE_SECONDS
# Database sessions, read with a prepared statement instead of a query the ORM compiles on every request.
SESSION_ENGINE = "crm_bank.security.sessions"

# Content-Security-Policy (django-csp): scripts, styles, images, fonts and requests from this site
# only — no inline script or style, no eval, no framing, forms post here only. Pages say what they
# need with data attributes that static/crm/behaviours.js applies; tests/test_csp.py holds every
# template to that. Violations are reported to CSP_REPORT_URI when one is set.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"report-uri": [env("CSP_REPORT_URI")]} if env("CSP_REPORT_URI", default="") else {}),
    },
}

# Two-factor sign-in (crm_bank.security.two_factor): these roles give a code from an authenticator
# app or a single-use backup code after the password. Production always asks (its settings
# refuse to start otherwise); local development and the test suite turn it off by default.
CRM_TWO_FACTOR = env.bool("CRM_TWO_FACTOR", default=True)
CRM_TWO_FACTOR_ROLES = ["SUPERVISOR", "ADMIN", "COMPLIANCE"]
OTP_TOTP_ISSUER = "Branch CRM"

AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "crm_bank.audit.services.request_ip"
AXES_LOCKOUT_CALLABLE = "crm_bank.security.views.lockout"
# A successful sign-in clears that pair's earlier failures.
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout do not extend it: it ends 15 minutes after the failure that caused it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Sign-ins and sign-outs are recorded in the audit trail (crm_bank.security); no second log.
AXES_DISABLE_ACCESS_LOG = True

LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "forbidden_without_traceback": {"()": "crm_bank.security.log_filters.ForbiddenWithoutTraceback"},
        "scrub_query_strings": {"()": "crm_bank.security.log_filters.QueryStringScrubber"},
    },
    "formatters": {
        # Django's own format for runserver's request lines.
        "django.server": {
            "()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "loggers": {
        # Django gives its "django" logger a console handler of its own while DEBUG is on; with
        # the root's console below, every record (a 403's traceback too) was printed twice.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # A 403 is a refusal, not a fault: one warning line, no traceback.
        "django.request": {"filters": ["forbidden_without_traceback", "scrub_query_strings"]},
        # Request lines without their query strings: a search by ID or phone carries it there.
        "django.server": {
            "handlers": ["django.server"], "level": "INFO", "propagate": False, "filters": ["scrub_query_strings"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Break the glass (customers.unmasking): staff outside a customer's branch may open the masked
# fields in full for a stated reason, for this many minutes, at most this many times a day;
# supervisors of the customer's branch and of the staff member's branch see every such event.
CRM_UNMASK_MINUTES = env.int("CRM_UNMASK_MINUTES", default=15)
CRM_UNMASK_DAILY_LIMIT = env.int("CRM_UNMASK_DAILY_LIMIT", default=10)

# Retention (customers.retention): a customer whose relationship closed more than this many years
# ago is anonymised by the nightly run; the aggregates and the audit trail stay.
CRM_RETENTION_YEARS = env.int("CRM_RETENTION_YEARS", default=5)

# The audit trail is kept at least this many months (a bank keeps it for years; the check refuses
# fewer than 12). Nothing in the application deletes audit rows: the database refuses UPDATE and
# DELETE to the application's role, and archiving older rows is a job for the owner role.
CRM_AUDIT_RETENTION_MONTHS = env.int("CRM_AUDIT_RETENTION_MONTHS", default=84)
