"""Test settings: the real PostgreSQL and RabbitMQ when they answer, else SQLite and the
in-process broker, so the suite runs on a machine with only Python and uv. Under CI
(CI=true) a missing service stops the run instead: there it is a failure, not a skip."""

import os
import secrets
import socket
import tempfile
from urllib.parse import urlsplit

import psycopg
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("FOLLOWUPS_QUEUE", "followups_test")  # never feed a developer's workers
# project.settings requires a real key; tests get a fresh one, whatever the environment holds.
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)

from project.settings import *  # noqa: F403
from project.settings import BROKER_URL, DATABASES, DRAMATIQ_BROKER


def _postgres_answers(db: dict) -> bool:
    try:
        psycopg.connect(
            host=db["HOST"] or None,
            port=db["PORT"] or None,
            user=db["USER"] or None,
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=2,
        ).close()
    except psycopg.Error:
        return False
    return True


def _rabbitmq_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError:
        return False
    return True


_db = DATABASES["default"]
POSTGRES_AVAILABLE = _db["ENGINE"].endswith("postgresql") and _postgres_answers(_db)
RABBITMQ_AVAILABLE = BROKER_URL.startswith("amqp") and _rabbitmq_answers(BROKER_URL)
SERVICES_AVAILABLE = POSTGRES_AVAILABLE and RABBITMQ_AVAILABLE

if os.environ.get("CI", "").lower() in ("1", "true") and not SERVICES_AVAILABLE:
    raise ImproperlyConfigured(
        f"CI needs PostgreSQL ({_db['HOST']}:{_db['PORT']}) and RabbitMQ "
        f"({urlsplit(BROKER_URL).hostname}:{urlsplit(BROKER_URL).port or 5672}); "
        f"postgres answers: {POSTGRES_AVAILABLE}, rabbitmq answers: {RABBITMQ_AVAILABLE}"
    )
# Two test runs at once (say, two developers on one machine) need their own database and queue:
# FOLLOWUPS_TEST_DB and FOLLOWUPS_QUEUE name them.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("FOLLOWUPS_TEST_DB", "test_followups")}
if not SERVICES_AVAILABLE:
    # A file, not ":memory:": worker threads write concurrently, and SQLite's shared-cache
    # memory database fails them at once ("table is locked") where a file waits its turn.
    _sqlite = os.path.join(tempfile.gettempdir(), f"followups-test-{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite,
            "TEST": {"NAME": _sqlite},
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
    DRAMATIQ_BROKER = {**DRAMATIQ_BROKER, "BROKER": "dramatiq.brokers.stub.StubBroker"}
    DRAMATIQ_BROKER.pop("OPTIONS", None)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FOLLOWUPS_QUIET_HOURS = "off"  # tests that need quiet hours turn them on
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
FOLLOWUPS_SEND_RATE_PER_MINUTE = 0  # tests of the cap turn it on
ANTHROPIC_API_KEY = ""  # tests never reach Claude; those that need it install a fake
FOLLOWUPS_MESSENGER = "followups.messenger.InMemoryMessenger"
FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = True
