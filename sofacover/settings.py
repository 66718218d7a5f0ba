"""One settings module, driven by the environment.

Defaults give a desk that needs no service: SQLite under var/ and a Celery
transport on the file system. DATABASE_URL and REDIS_URL switch to PostgreSQL
and Redis. Nothing secret lives in the repository: SECRET_KEY comes from
DJANGO_SECRET_KEY or is generated once into var/secret_key for development.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from .logs import log_format, logging_config
from .sentry import sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SOFACOVER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _development_secret_key() -> str:
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _development_secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # First: its runserver serves the ASGI application (HTTP and the chat's websockets) in one process.
    "daphne",
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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "accounts",
    "tickets",
    "escalation",
    "notifications",
    "knowledge",
    "surveys",
    "reports",
    "incidents",  # incidents, the public status page, post-incident reviews
    "monitors",  # checks of the shop (HTTP, performance, business metrics, error rate) that open incidents
    "inbound",  # the email gateway (SMTP, IMAP, webhook) and phone intake: what arrives, before a use case files it
    "chat",  # live chat: agents' availability, chat sessions (each a ticket of channel chat), the consumer
    "bench",
    "support",  # use cases across the apps and the doors that compose them: imports every app, none imports it
]

MIDDLEWARE = [
    # Requests by view and status, with latency histograms, for /metrics (django-prometheus): first and last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the switcher's cookie or Accept-Language (English when neither names German).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # A NUL character in the path, a header, a query parameter or a form field: 400 before any view.
    "sofacover.errors.reject_nul",
    # The viewer's time zone (their saved choice, else the browser's, else TIME_ZONE) for every time shown.
    # After reject_nul: it reads the session, whose key in the cookie may carry a NUL.
    "sofacover.localtime.TimeZoneMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "sofacover.urls"
WSGI_APPLICATION = "sofacover.wsgi.application"
ASGI_APPLICATION = "sofacover.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sofacover" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
            ],
        },
    },
]

# --- data ---------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the
    # write lock at BEGIN so concurrent writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    from .cache import cache_config

    CACHES = {"default": cache_config(REDIS_URL)}
else:
    # Development: counters per process. Rate limits need the shared cache of REDIS_URL
    # wherever more than one process serves requests; `check --deploy` warns (sofacover.W001).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- live chat (Django Channels) ------------------------------------------
# Several ASGI processes share one Redis channel layer; `make run` (one process, no Redis) uses
# the in-memory layer.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Each process borrows a connection per group_add/group_send in flight: redis-py's default pool
            # of 100 ran out with 400 sockets joining at once (bench_chat).
            "CONFIG": {
                # A read may wait out the layer's 5-second blocking pop on a loaded host: more than that.
                "hosts": [{"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 30}],
                "prefix": "sofacover-chat",
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHAT_MESSAGE_MAX_BYTES = int(os.environ.get("CHAT_MESSAGE_MAX_BYTES", "4096"))  # one line of chat, in UTF-8
CHAT_FRAME_MAX_BYTES = 4 * CHAT_MESSAGE_MAX_BYTES  # a bigger websocket frame closes the socket (1009)
# Lines per person per window (the cache's counters: shared between processes on REDIS_URL).
CHAT_RATE_MESSAGES = int(os.environ.get("CHAT_RATE_MESSAGES", "20"))
CHAT_RATE_WINDOW_SECONDS = int(os.environ.get("CHAT_RATE_WINDOW_SECONDS", "10"))
CHAT_TOKEN_MAX_AGE = int(os.environ.get("CHAT_TOKEN_MAX_AGE", str(2 * 3600)))  # an anonymous visitor's chat token

# --- auth ---------------------------------------------------------------
AUTHENTICATION_BACKENDS = ["accounts.auth.EmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:ticket-list"
LOGOUT_REDIRECT_URL = "portal:home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

# Rate limits (django-ratelimit syntax: count/period), kept by sofacover/ratelimit.py.
# Doors are limited per client address and per (client address, account), never per
# account alone. Logins count failures (portal, console and API token share them);
# reset and sign-up count requests; account_mail caps mail to one address, quietly.
RATELIMIT_VIEW = "sofacover.errors.ratelimited"
RATELIMIT_IP_META_KEY = "sofacover.ratelimit.client_ip"
TRUSTED_PROXIES = int(os.environ.get("DJANGO_TRUSTED_PROXIES", "0"))
RATELIMITS = {
    "login_ip": os.environ.get("RATELIMIT_LOGIN_IP", "30/h"),
    "login_ip_account": os.environ.get("RATELIMIT_LOGIN_IP_ACCOUNT", "10/h"),
    "password_reset_ip": os.environ.get("RATELIMIT_PASSWORD_RESET_IP", "10/h"),
    "password_reset_ip_account": os.environ.get("RATELIMIT_PASSWORD_RESET_IP_ACCOUNT", "3/h"),
    "signup_ip": os.environ.get("RATELIMIT_SIGNUP_IP", "10/h"),
    "signup_ip_account": os.environ.get("RATELIMIT_SIGNUP_IP_ACCOUNT", "3/h"),
    "status_subscribe_ip": os.environ.get("RATELIMIT_STATUS_SUBSCRIBE_IP", "10/h"),
    "status_subscribe_ip_account": os.environ.get("RATELIMIT_STATUS_SUBSCRIBE_IP_ACCOUNT", "3/h"),
    "account_mail": os.environ.get("RATELIMIT_ACCOUNT_MAIL", "5/h"),
    "ticket_ip": os.environ.get("RATELIMIT_TICKET_IP", "20/h"),
    "ticket_account": os.environ.get("RATELIMIT_TICKET_ACCOUNT", "20/h"),
    # The error trackers' feed (monitors): machines posting events, so per minute and generous; a tracker
    # posting more than this is throttled (429 with Retry-After), as Sentry's webhooks retry.
    "monitor_feed": os.environ.get("RATELIMIT_MONITOR_FEED", "600/m"),
    "monitor_feed_ip": os.environ.get("RATELIMIT_MONITOR_FEED_IP", "1200/m"),
}

# --- i18n / time --------------------------------------------------------
LANGUAGE_CODE = "en-gb"
# English is the default; German is the one translated catalogue (locale/de, `make messages`).
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The desk's own zone: schedules, SLA calendars, and the times a viewer who named no zone sees.
TIME_ZONE = os.environ.get("DESK_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

# --- static and uploads -------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Uploads live outside the static tree and are never served by URL: only the
# attachment view, after checking who asks, streams them.
MEDIA_ROOT = VAR_DIR / "media"
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
ATTACHMENT_MAX_FILES = 10
DATA_UPLOAD_MAX_NUMBER_FILES = ATTACHMENT_MAX_FILES
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# --- email --------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SofaCover Pro Support <support@sofacoverpro.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)

# --- security headers ---------------------------------------------------
# Sessions are read from the cache and written through to the database, which stays the source:
# a cache miss (a restart, Redis down) reads the row. Several web processes need the shared cache
# (REDIS_URL): with LocMemCache a sign-out would not reach the other processes' copies (sofacover.W001).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Probes and the scraper call the processes directly over plain HTTP (a redirect would read as
    # success to a probe that counts 3xx as up, hiding a 503).
    SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$", r"^metrics/?$"]

# Trust a proxy's "this came over HTTPS" header only when a proxy that sets it (and strips the
# client's own) is really in front: otherwise any client could claim HTTPS by sending it.
if _proxy_ssl_header := os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip():
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # The Django admin sets a few style attributes; scripts stay strict.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON with its nesting bounded; the views that take forms or files (token, messages) add those parsers.
    "DEFAULT_PARSER_CLASSES": ["sofacover.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "sofacover.pagination.PageNumberPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "sofacover.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "sofacover.errors.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SofaCover Pro Support Desk API",
    "DESCRIPTION": "Tickets, messages and attachments for customers and agents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Ticket.Status",
        "TicketPriorityEnum": "tickets.models.Ticket.Priority",
        "TicketCategoryEnum": "tickets.models.Ticket.Category",
        "TicketChannelEnum": "tickets.models.Ticket.Channel",
        "TicketTierEnum": "tickets.models.Ticket.Tier",
        "SlaStateEnum": "escalation.api.SLA_STATES",
        "ArticleStatusEnum": "knowledge.models.Article.Status",
        "ArticleAudienceEnum": "knowledge.models.Article.Audience",
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "IncidentUpdateStatusEnum": "incidents.api.UPDATE_STATUSES",
        "IncidentSourceEnum": "incidents.models.Incident.Source",
        "IncidentEventKindEnum": "incidents.models.IncidentEvent.Kind",
        "StatusPageStateEnum": "incidents.status.State.CHOICES",
        "MaintenanceStatusEnum": "incidents.status_api.MAINTENANCE_STATUSES",
        "MonitorKindEnum": "monitors.models.Monitor.Kind",
        "MonitorStateEnum": "monitors.models.Monitor.State",
    },
}

# --- Celery -------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if not REDIS_URL:
    _broker_dir = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    CELERY_VISIBILITY_TIMEOUT = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Late-acked tasks running when the broker connection drops are cancelled and redelivered once,
# instead of finishing while a second copy runs elsewhere (Celery docs; the default from Celery 6).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TIMEZONE = TIME_ZONE
# Two queues, each with its own worker (Procfile; sizing in the README's Operations): timers and checks
# on "timers", so a backlog of notifications (the relay, kicks, mail) on the default queue never delays
# them. Routes by name: a task not listed (or not on this branch yet) goes to the default queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
TIMERS_QUEUE = "timers"
CELERY_TASK_ROUTES = {
    "support.tasks.sla_sweep": {"queue": TIMERS_QUEUE},
    "support.tasks.close_resolved_tickets": {"queue": TIMERS_QUEUE},
    "support.tasks.incident_sweep": {"queue": TIMERS_QUEUE},
    "support.tasks.review_sweep": {"queue": TIMERS_QUEUE},
    "monitors.tasks.*": {"queue": TIMERS_QUEUE},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule, in one place.
MAIL_IMAP_POLL_SECONDS = int(os.environ.get("MAIL_IMAP_POLL_SECONDS", "60"))
SLA_SWEEP_SECONDS = 30
# The monitor runner: a beat every MONITOR_RUNNER_SECONDS starts a run that lasts as long (monitors below).
MONITOR_RUNNER_SECONDS = float(os.environ.get("MONITOR_RUNNER_SECONDS", "5"))
# Due tickets handled per transaction: read, locked and written together (a conflict retries one by one).
SLA_SWEEP_BATCH = int(os.environ.get("SLA_SWEEP_BATCH", "200"))
# The incident beat: update-cadence warnings (each due time warned once, UPDATE_WARNING_LEAD ahead).
INCIDENT_SWEEP_SECONDS = 60
# Review items are due in hours and days: a minute late is on time for an overdue alert.
REVIEW_SWEEP_SECONDS = 60
# The status page's and the scorecard's uptime from the checks: recounted this often.
STATUS_UPTIME_SECONDS = 300
CELERY_BEAT_SCHEDULE = {
    # Monday 08:00 in CELERY_TIMEZONE, the desk's zone; the outbox dedupes by ISO week.
    "weekly-summary": {
        "task": "reports.tasks.weekly_summary",
        "schedule": crontab(minute="0", hour="8", day_of_week="1"),
    },
    # 03:30 desk time: the reports' rows of the days past folded to one row per key (reports.rollup).
    "rollup-fold": {
        "task": "reports.tasks.rollup_fold",
        "schedule": crontab(minute="30", hour="3"),
    },
    "sla-sweep": {
        "task": "support.tasks.sla_sweep",
        "schedule": SLA_SWEEP_SECONDS,
        # A sweep that could not start within one interval is superseded by the next.
        "options": {"expires": SLA_SWEEP_SECONDS},
    },
    # Post-incident review items past their due time: the owner and the commander hear, once per item.
    "review-sweep": {
        "task": "support.tasks.review_sweep",
        "schedule": REVIEW_SWEEP_SECONDS,
        "options": {"expires": REVIEW_SWEEP_SECONDS},
    },
    "close-resolved-tickets": {
        "task": "support.tasks.close_resolved_tickets",
        "schedule": 15 * 60,
    },
    # Hosted mailboxes: read new mail over IMAP (nothing to do while MAIL_IMAP_HOST is empty).
    "fetch-mail": {
        "task": "support.tasks.fetch_mail",
        "schedule": MAIL_IMAP_POLL_SECONDS,
        "options": {"expires": MAIL_IMAP_POLL_SECONDS},
    },
    "notification-relay": {
        "task": "notifications.tasks.deliver_outbox",
        "schedule": 10,
        "options": {"expires": 10},
    },
    # Incidents: the commander is warned before an update falls due (support.usecases.incident_sweep).
    "incident-sweep": {
        "task": "support.tasks.incident_sweep",
        "schedule": INCIDENT_SWEEP_SECONDS,
        "options": {"expires": INCIDENT_SWEEP_SECONDS},
    },
    # Monitors: each run checks what falls due for MONITOR_RUNNER_SECONDS, on the "timers" queue (its own
    # worker), so a backlog of notifications never delays a check. Overlapping runs never run a check twice.
    "monitor-checks": {
        "task": "support.tasks.run_monitor_checks",
        "schedule": MONITOR_RUNNER_SECONDS,
        "options": {"expires": MONITOR_RUNNER_SECONDS, "queue": "timers"},
    },
    "monitor-rollups": {
        "task": "monitors.tasks.rollup_and_prune",
        "schedule": 60,
        "options": {"expires": 60, "queue": "timers"},
    },
    # The checks' uptime per component and day, handed to the status page and the scorecard.
    "status-uptime": {
        "task": "support.tasks.status_uptime_refresh",
        "schedule": STATUS_UPTIME_SECONDS,
        "options": {"expires": STATUS_UPTIME_SECONDS},
    },
}

# --- desk rules ---------------------------------------------------------
# Resolved tickets the customer has not answered are closed after this many days.
TICKET_AUTO_CLOSE_DAYS = int(os.environ.get("TICKET_AUTO_CLOSE_DAYS", "7"))
# Links in mail (tickets, surveys, articles) start with this, never with a request's Host. `make run`
# sets it from PORT; set it to the desk's public URL in production.
DESK_BASE_URL = os.environ.get("DESK_BASE_URL") or "http://127.0.0.1:8000"
# Emailed survey links (satisfaction) expire after this long; each link is single-use.
SURVEY_LINK_MAX_AGE = timedelta(days=int(os.environ.get("SURVEY_LINK_MAX_AGE_DAYS", "14")))
# A suggested article opened with no ticket filed by the same visitor within this many hours is a deflection.
KNOWLEDGE_DEFLECTION_WINDOW_HOURS = int(os.environ.get("KNOWLEDGE_DEFLECTION_WINDOW_HOURS", "24"))

# --- notifications ------------------------------------------------------
# The outbox relay (notifications/relay.py): retries, backoff, leases, batching.
NOTIFY_KICK_ON_COMMIT = env_bool("NOTIFY_KICK_ON_COMMIT", default=True)
# Kicks coalesce: while one is queued and its flush has not started, commits publish no other.
# The flag is shared through the cache (Redis); this bounds how long a lost kick mutes the next ones.
NOTIFY_KICK_COALESCE_SECONDS = 2
NOTIFY_RELAY_BATCH = int(os.environ.get("NOTIFY_RELAY_BATCH", "500"))
NOTIFY_RELAY_BUDGET_SECONDS = 120
NOTIFY_LEASE_SECONDS = 300
NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8"))
NOTIFY_RETRY_BASE_SECONDS = 30
NOTIFY_RETRY_MAX_SECONDS = 60 * 60
# Slack allows about one message per second per channel: alerts go out as digests.
NOTIFY_SLACK_DIGEST_MAX = 50
NOTIFY_SLACK_MIN_INTERVAL_SECONDS = 1.0
NOTIFY_SLACK_MAX_WAIT_SECONDS = 5.0
NOTIFY_SYSTEM_SLACK_CHANNEL = "#launch-monitoring"
# SMS and calls: all of a person's pending alerts in one message, at most one per interval.
NOTIFY_PAGE_MIN_INTERVAL_SECONDS = 60
NOTIFY_WAR_ROOM = os.environ.get("NOTIFY_WAR_ROOM", "#support-critical")
# A declared incident is mailed once to this list address (the managers' escalation list), not to each
# manager; empty: no mail (Slack still carries the declaration).
INCIDENT_ESCALATION_EMAIL = os.environ.get("INCIDENT_ESCALATION_EMAIL", "escalations@sofacoverpro.com")
# Every outbound mail: our Message-ID domain and X-Loop value (RFC 3834 loop prevention).
NOTIFY_MESSAGE_ID_DOMAIN = os.environ.get("NOTIFY_MESSAGE_ID_DOMAIN", "desk.sofacoverpro.com")
NOTIFY_X_LOOP = os.environ.get("NOTIFY_X_LOOP", "support@sofacoverpro.com")
# Ticket mail says Reply-To: support+scp-000042@... (this address with the ticket's reference as a
# +tag), so a reply finds its ticket even without the thread headers.
NOTIFY_REPLY_ADDRESS = os.environ.get("NOTIFY_REPLY_ADDRESS", "support@sofacoverpro.com")
# A reply's attachments travel with its mail up to this many bytes in total; the rest are links.
NOTIFY_EMAIL_ATTACHMENTS_MAX_BYTES = int(os.environ.get("NOTIFY_EMAIL_ATTACHMENTS_MAX_BYTES", str(10 * 1024 * 1024)))
# How long a link to an attachment in a mail works (signed; anyone holding the mail may use it).
NOTIFY_ATTACHMENT_LINK_MAX_AGE = timedelta(days=int(os.environ.get("NOTIFY_ATTACHMENT_LINK_MAX_AGE_DAYS", "30")))
# Slack and webhook URLs may only reach public addresses; loopback only where a test says so.
NOTIFY_ALLOW_PRIVATE_URLS = False
NOTIFY_PRIVATE_URL_ALLOWLIST: list[str] = env_list("NOTIFY_PRIVATE_URL_ALLOWLIST", "")
# Twilio's REST API (SMS and voice) over plain HTTP. Empty credentials: SMS and calls are skipped.
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "https://api.twilio.com")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")

# --- inbound mail (inbound/: the gateway) ---------------------------------
# The SMTP listener `make run` starts (Procfile "mail"); an MTA or the provider delivers the desk's mail here.
MAIL_GATEWAY_HOST = os.environ.get("MAIL_GATEWAY_HOST", "127.0.0.1")
MAIL_GATEWAY_PORT = int(os.environ.get("MAIL_GATEWAY_PORT", "2525"))
# A message over this size is refused with 552 during SMTP (and never fetched or stored from IMAP or the webhook).
MAIL_MAX_BYTES = int(os.environ.get("MAIL_MAX_BYTES", str(25 * 1024 * 1024)))
# The desk's own addresses: mail from them is a loop and is never answered. The From of outbound mail is added.
MAIL_DESK_ADDRESSES = env_list("MAIL_DESK_ADDRESSES", "support@sofacoverpro.com")
# A new sender: "create" files the ticket and makes an inactive customer account they can activate by signing
# up; "refuse" rejects the mail (SMTP 550, so the sender's server bounces it).
MAIL_UNKNOWN_SENDERS = os.environ.get("MAIL_UNKNOWN_SENDERS", "create")
if MAIL_UNKNOWN_SENDERS not in {"create", "refuse"}:
    raise ImproperlyConfigured(f"MAIL_UNKNOWN_SENDERS must be create or refuse, not {MAIL_UNKNOWN_SENDERS!r}")
# At most this many automatic mails (acknowledgments) to one address per hour: what stops a mail loop.
MAIL_AUTO_REPLIES_PER_HOUR = int(os.environ.get("MAIL_AUTO_REPLIES_PER_HOUR", "5"))
# A hosted mailbox read every MAIL_IMAP_POLL_SECONDS by the beat (support.tasks.fetch_mail); empty host: off.
MAIL_IMAP_HOST = os.environ.get("MAIL_IMAP_HOST", "")
MAIL_IMAP_PORT = int(os.environ.get("MAIL_IMAP_PORT", "993"))
MAIL_IMAP_SSL = env_bool("MAIL_IMAP_SSL", default=True)
MAIL_IMAP_USER = os.environ.get("MAIL_IMAP_USER", "")
MAIL_IMAP_PASSWORD = os.environ.get("MAIL_IMAP_PASSWORD", "")
MAIL_IMAP_MAILBOX = os.environ.get("MAIL_IMAP_MAILBOX", "INBOX")
MAIL_IMAP_BATCH = 200
# Mailgun's inbound route ("forward" to /api/v1/mail/inbound/mailgun/, raw MIME): its HTTP webhook signing key.
# Empty: the webhook is off (404).
MAIL_WEBHOOK_SIGNING_KEY = os.environ.get("MAIL_WEBHOOK_SIGNING_KEY", "")
# A signed post older (or newer) than this is refused: a captured request cannot be replayed later.
MAIL_WEBHOOK_MAX_AGE_SECONDS = 300

# --- operations: health, metrics, error tracking, logs ----------------------
# GET /readyz/ fails its outbox check when a notification due for delivery has waited longer than this.
READYZ_OUTBOX_MAX_AGE_SECONDS = int(os.environ.get("READYZ_OUTBOX_MAX_AGE_SECONDS", "300"))
# GET /metrics answers a bearer token (Authorization: Bearer <METRICS_TOKEN>) or a client address in
# METRICS_ALLOWED_IPS (addresses or networks; read past DJANGO_TRUSTED_PROXIES proxies), and nobody else.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# Several processes on one host (gunicorn's workers, Celery's pool): each writes its samples to files in
# this directory and /metrics adds them up (prometheus-client's multi-process mode). Empty: this process only.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# Error tracking (sofacover/sentry.py): off without a DSN; no personal data sent.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
SENTRY_ENABLED = sentry_init(
    dsn=SENTRY_DSN,
    environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
    release=os.environ.get("SENTRY_RELEASE", ""),
    traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
)
# One JSON object per line in production, readable text while debugging (sofacover/logs.py).
LOG_FORMAT = log_format(os.environ.get("DJANGO_LOG_FORMAT"), debug=DEBUG)
LOGGING = logging_config(fmt=LOG_FORMAT, level=os.environ.get("DJANGO_LOG_LEVEL", "INFO"))

# --- monitors (monitors/: checks of the shop that open incidents) -----------
# A run polls for due checks this often; a check starts at most this long after its slot (plus the pass).
MONITOR_POLL_SECONDS = float(os.environ.get("MONITOR_POLL_SECONDS", "0.25"))
# Due checks claimed per pass, and the threads that fetch them (checks wait on the network, not the CPU).
MONITOR_BATCH = int(os.environ.get("MONITOR_BATCH", "200"))
MONITOR_THREADS = int(os.environ.get("MONITOR_THREADS", "16"))
# A claimed check's lease: its longest run plus this. A runner that dies leaves its checks for the next after it.
MONITOR_LEASE_MARGIN_SECONDS = 15
# History: raw results, then per-minute and per-hour rollups, each pruned after its retention.
MONITOR_RAW_RETENTION_HOURS = int(os.environ.get("MONITOR_RAW_RETENTION_HOURS", "48"))
MONITOR_MINUTE_RETENTION_DAYS = int(os.environ.get("MONITOR_MINUTE_RETENTION_DAYS", "7"))
MONITOR_HOUR_RETENTION_DAYS = int(os.environ.get("MONITOR_HOUR_RETENTION_DAYS", "100"))
# A minute is rolled up once this old: longer than any check may take (MAX_CHECK_SECONDS in monitors.checks).
MONITOR_ROLLUP_GRACE_SECONDS = 300
# The procedures' uptime target, per component, from the checks.
MONITOR_UPTIME_TARGET_PCT = 99.9
# Monitor URLs pass the same SSRF guard as alert destinations: NOTIFY_ALLOW_PRIVATE_URLS and
# NOTIFY_PRIVATE_URL_ALLOWLIST (a CIDR list) decide which private addresses a monitor may reach.
