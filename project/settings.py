"""Settings, every one overridable from the environment (see README, "Configuration").

The defaults run against PostgreSQL and RabbitMQ on localhost, as on a developer machine.
"""

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from project.env import env_bool, env_int, env_list, env_secret_key, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# Required with DEBUG off. Tests, the demo and the bench put a random one in the environment
# before they import this module.
SECRET_KEY = env_secret_key("DJANGO_SECRET_KEY", debug=DEBUG)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_dramatiq",
    "followups",
    "bot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/followups"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A black-holed network must not hang a worker thread for ever: give up on a connect after
    # 10 s, and on a silent connection after about a minute (TCP keepalives).
    # Options in DATABASE_URL's query string (e.g. ?application_name=…) win.
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT_S", 10, minimum=1),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
# Storage is always UTC (USE_TZ). TIME_ZONE is what the admin shows and reads by default:
# the business's zone; lists also show each client's own zone and UTC.

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# --- HTTPS ---------------------------------------------------------------------------------
# Off by default: a development server and the test client speak plain HTTP. Compose turns
# them on: the admin is served through a TLS-terminating reverse proxy on the host.
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# The container's health check (and a Prometheus scrape) come over plain HTTP, not the proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # sent only when SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# Trust the proxy's X-Forwarded-Proto: only when every request comes through a proxy that sets
# it (compose publishes the web port on 127.0.0.1 alone).
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Login throttling (django-axes) --------------------------------------------------------
# DJANGO_LOGIN_FAILURE_LIMIT failed logins for one username from one address lock that pair
# out for DJANGO_LOGIN_LOCKOUT_MINUTES (HTTP 429, even with the right password; each further
# try restarts the wait); a successful login clears the count. A superuser unlocks early by
# deleting the attempt in the admin (Axes › Access attempts) or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DJANGO_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Reverse proxies in front of the web process that append the address they were reached from
# to X-Forwarded-For. 0: the client is the connection's own address (REMOTE_ADDR) and the header
# is ignored, since anyone can send it.
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0, minimum=0)


def client_address(request) -> str | None:
    """The address a login is counted against: the one the outermost of PROXY_COUNT proxies
    was reached from, i.e. X-Forwarded-For's PROXY_COUNT-th entry from the right (a client can
    put entries of its own before the proxies' but never after). REMOTE_ADDR when there are no
    proxies, or the header has fewer entries than proxies (a request that bypassed them)."""
    from django.conf import settings

    proxies = settings.PROXY_COUNT
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


AXES_CLIENT_IP_CALLABLE = client_address

# --- Dramatiq -----------------------------------------------------------------------------
# Set explicitly: django-dramatiq 0.15's default middleware list names a class dramatiq 2
# removed. BROKER_URL "stub://" selects the in-process broker (demo, tests without RabbitMQ).
BROKER_URL = env_str("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
_DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "dramatiq.middleware.Retries",
    "dramatiq.middleware.ShutdownNotifications",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]
if BROKER_URL.startswith("stub://"):
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.stub.StubBroker",
        "OPTIONS": {},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
else:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        "OPTIONS": {"url": BROKER_URL, "confirm_delivery": True},
        "MIDDLEWARE": _DRAMATIQ_MIDDLEWARE,
    }
DRAMATIQ_TASKS_DATABASE = "default"
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# --- Follow-ups (docs/design.md) ------------------------------------------------------------
FOLLOWUPS_DEFAULT_TZ = env_str("FOLLOWUPS_DEFAULT_TZ", "Asia/Makassar")
TIME_ZONE = env_str("DJANGO_TIME_ZONE", FOLLOWUPS_DEFAULT_TZ)
for _name, _zone in (
    ("FOLLOWUPS_DEFAULT_TZ", FOLLOWUPS_DEFAULT_TZ),
    ("DJANGO_TIME_ZONE", TIME_ZONE),
):
    try:
        ZoneInfo(_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{_name} is not an IANA time zone: {_zone!r}") from None
# Queue the delivery actor listens on.
FOLLOWUPS_QUEUE = env_str("FOLLOWUPS_QUEUE", "followups")
# Actions due within this many seconds go on the broker (with a delay); later ones wait in
# Postgres until the dispatcher moves them in. Keep it in minutes: docs/design.md, invariant 5.
FOLLOWUPS_ENQUEUE_HORIZON_S = env_int("FOLLOWUPS_ENQUEUE_HORIZON_S", 300, minimum=1)
# A pending action still not delivered this long after its due time (and after it was last
# enqueued) is presumed to have lost its broker message and is enqueued again.
FOLLOWUPS_REQUEUE_AFTER_S = env_int("FOLLOWUPS_REQUEUE_AFTER_S", 60, minimum=1)
FOLLOWUPS_MAX_RETRIES = env_int("FOLLOWUPS_MAX_RETRIES", 3, minimum=0)
FOLLOWUPS_RETRY_DELAY_S = env_int("FOLLOWUPS_RETRY_DELAY_S", 60, minimum=1)
# Overdue by more than this → `missed` (shown to staff, never sent); within it → sent now.
FOLLOWUPS_MISSED_GRACE_S = env_int("FOLLOWUPS_MISSED_GRACE_S", 3600, minimum=0)
# A claim older than this belongs to a worker that died; the action goes back to pending.
FOLLOWUPS_CLAIM_TIMEOUT_S = env_int("FOLLOWUPS_CLAIM_TIMEOUT_S", 300, minimum=10)
FOLLOWUPS_KEEP_EXECUTED_DAYS = env_int("FOLLOWUPS_KEEP_EXECUTED_DAYS", 30, minimum=1)
FOLLOWUPS_KEEP_CANCELLED_DAYS = env_int("FOLLOWUPS_KEEP_CANCELLED_DAYS", 7, minimum=1)
FOLLOWUPS_REMINDER_24H = env_bool("FOLLOWUPS_REMINDER_24H", True)
FOLLOWUPS_REMINDER_1H = env_bool("FOLLOWUPS_REMINDER_1H", False)
# Window (client's local time) in which nothing is sent on the product's own initiative.
FOLLOWUPS_QUIET_HOURS = env_str("FOLLOWUPS_QUIET_HOURS", "21:00-09:00")
FOLLOWUPS_MAX_AHEAD_DAYS = env_int("FOLLOWUPS_MAX_AHEAD_DAYS", 365, minimum=1)
FOLLOWUPS_MAX_PENDING_PER_PROSPECT = env_int("FOLLOWUPS_MAX_PENDING_PER_PROSPECT", 5, minimum=1)
# Upcoming (not cancelled, not yet started) meetings the agent may book for one client; staff
# booking in the admin are not limited.
FOLLOWUPS_MAX_ACTIVE_MEETINGS_PER_PROSPECT = env_int(
    "FOLLOWUPS_MAX_ACTIVE_MEETINGS_PER_PROSPECT", 3, minimum=1
)
FOLLOWUPS_WATCH_INTERVAL_S = env_int("FOLLOWUPS_WATCH_INTERVAL_S", 2, minimum=1)
# Where sends go: a dotted path to a followups.messenger.Messenger implementation, in
# production bot.telegram.TelethonMessenger. No default: a system check (followups/checks.py)
# stops the product's commands until it is set.
FOLLOWUPS_MESSENGER = env_str("FOLLOWUPS_MESSENGER", "")
# The in-memory messenger reaches no one; the check refuses it with DEBUG off unless the
# settings module says this is not production (tests, the demo, the bench).
FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = False
# Writes a follow-up's text at send time when the agent left the template empty: a dotted
# path to a callable(action) -> str. Compose sets Claude's, bot.conversation.write_follow_up.
FOLLOWUPS_FOLLOWUP_WRITER = env_str(
    "FOLLOWUPS_FOLLOWUP_WRITER", "followups.delivery.plain_follow_up"
)

# Sends per minute for the one Telegram account, shared by every worker: a burst is spread
# out in due order instead of getting the account limited. 0 disables the cap.
FOLLOWUPS_SEND_RATE_PER_MINUTE = env_int("FOLLOWUPS_SEND_RATE_PER_MINUTE", 20, minimum=0)

# --- Alerts (followups/alerts.py, `manage.py alerts --watch`) -------------------------------
# Off unless a channel is set. The webhook URL is a secret (its path is the credential): never
# logged in full, never shown in the admin. The Telegram chat is a staff member's user id (the
# messenger addresses users only), with their username: a fresh session knows no one by id.
FOLLOWUPS_ALERT_WEBHOOK_URL = env_str("FOLLOWUPS_ALERT_WEBHOOK_URL", "").strip()
if FOLLOWUPS_ALERT_WEBHOOK_URL and not FOLLOWUPS_ALERT_WEBHOOK_URL.startswith(
    ("https://", "http://")
):
    raise ImproperlyConfigured("FOLLOWUPS_ALERT_WEBHOOK_URL must start with https:// or http://")
FOLLOWUPS_ALERT_WEBHOOK_TIMEOUT_S = env_int("FOLLOWUPS_ALERT_WEBHOOK_TIMEOUT_S", 5, minimum=1)
FOLLOWUPS_ALERT_TELEGRAM_CHAT = env_int("FOLLOWUPS_ALERT_TELEGRAM_CHAT", 0, minimum=0)
FOLLOWUPS_ALERT_TELEGRAM_USERNAME = env_str("FOLLOWUPS_ALERT_TELEGRAM_USERNAME", "").strip(" @")
# The account that writes to that chat (`manage.py alerts` refuses to start if none has this
# name). It cannot tell of its own refused session: the webhook can.
FOLLOWUPS_ALERT_ACCOUNT = env_str("FOLLOWUPS_ALERT_ACCOUNT", "").strip() or "default"
if not re.fullmatch(r"[-a-zA-Z0-9_]{1,64}", FOLLOWUPS_ALERT_ACCOUNT):
    raise ImproperlyConfigured(
        "FOLLOWUPS_ALERT_ACCOUNT must be an account's name (letters, digits, - and _; "
        "at most 64), e.g. default"
    )
FOLLOWUPS_ALERT_INTERVAL_S = env_int("FOLLOWUPS_ALERT_INTERVAL_S", 60, minimum=1)
# A condition still firing is told again this often; each channel sends at most this many
# notices an hour (the rest wait, one per condition, for the next hour).
FOLLOWUPS_ALERT_RENOTIFY_MIN = env_int("FOLLOWUPS_ALERT_RENOTIFY_MIN", 60, minimum=1)
FOLLOWUPS_ALERT_MAX_PER_HOUR = env_int("FOLLOWUPS_ALERT_MAX_PER_HOUR", 20, minimum=1)
# The conditions' thresholds: failed sends (or missed actions, or new dead letters) within the
# window; a flood wait longer than this; a dispatcher heartbeat older than this.
FOLLOWUPS_ALERT_WINDOW_MIN = env_int("FOLLOWUPS_ALERT_WINDOW_MIN", 15, minimum=1)
FOLLOWUPS_ALERT_SEND_FAILURES = env_int("FOLLOWUPS_ALERT_SEND_FAILURES", 5, minimum=1)
FOLLOWUPS_ALERT_MISSED = env_int("FOLLOWUPS_ALERT_MISSED", 1, minimum=1)
FOLLOWUPS_ALERT_FLOOD_WAIT_MIN = env_int("FOLLOWUPS_ALERT_FLOOD_WAIT_MIN", 10, minimum=1)
FOLLOWUPS_ALERT_HEARTBEAT_STALE_S = env_int("FOLLOWUPS_ALERT_HEARTBEAT_STALE_S", 120, minimum=10)

# --- The bot: Telegram (Telethon) and the agent (Claude) ----------------------------------
# Secrets: read here, never logged, never shown in the admin.
TELEGRAM_API_ID = env_int("TELEGRAM_API_ID", 0, minimum=0)
TELEGRAM_API_HASH = env_str("TELEGRAM_API_HASH", "")
# A Telethon StringSession (from `manage.py telegram_login`) for the listener, and one for the
# workers' sends (a second login of the same account); workers fall back to the listener's
# session with receive_updates=False when it is empty.
TELEGRAM_SESSION = env_str("TELEGRAM_SESSION", "")
TELEGRAM_WORKER_SESSION = env_str("TELEGRAM_WORKER_SESSION", "")
# Fernet key(s) encrypting the sessions of accounts stored in the database (`telegram_login
# --account NAME`); comma-separated for rotation (the first encrypts). Not needed when the one
# account's session comes from TELEGRAM_SESSION.
FOLLOWUPS_SESSION_KEY = env_str("FOLLOWUPS_SESSION_KEY", "")
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_MODEL = env_str("ANTHROPIC_MODEL", "claude-sonnet-5-5")
ANTHROPIC_TIMEOUT_S = env_int("ANTHROPIC_TIMEOUT_S", 30, minimum=1)
# Longest inbound text the agent reads; a longer message keeps its start and its end (a request
# usually comes last) around a marker, and the client is told.
BOT_MAX_INBOUND_CHARS = env_int("BOT_MAX_INBOUND_CHARS", 4000, minimum=100)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "plain")  # or "json": one JSON object a line
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "project.logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Libraries that log what no log may hold at levels LOG_LEVEL would let through: the
    # Anthropic SDK each request's body at DEBUG (the system prompt, the client's messages),
    # httpcore2 its traffic at DEBUG, Telethon a response it cannot place at INFO and, in its
    # message parser, the request sent (the text) at WARNING; Django the SQL with its
    # parameters at DEBUG when DEBUG is on. httpx2, the SDK's HTTP client, goes with them.
    # The names are those the packages log under (tests/test_security_settings.py checks).
    "loggers": {
        "pika": {"level": "WARNING"},
        "anthropic": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "httpcore2": {"level": "WARNING"},
        "telethon": {"level": "WARNING"},
        "telethon.client.messageparse": {"level": "ERROR"},
        "django.db.backends": {"level": "INFO"},
        "axes.apps": {"level": "WARNING"},  # a banner at every process's start
    },
}
