"""`manage.py demo`: the whole product in one process with no external service. SQLite file,
Dramatiq's in-process broker and worker, the console messenger (manage.py selects this)."""

import os
import secrets

# project.settings requires a real key; each demo process makes its own.
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)

from project.settings import *  # noqa: F403
from project.settings import BASE_DIR, DRAMATIQ_BROKER

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "demo.sqlite3")),
        # Worker threads write at once: take the write lock when a transaction begins, so one
        # waits for another instead of failing on a read-to-write upgrade.
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}
DRAMATIQ_BROKER = {**DRAMATIQ_BROKER, "BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}
FOLLOWUPS_MESSENGER = "bot.demo.ConsoleMessenger"
FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = True  # the console messenger keeps its sends in memory
FOLLOWUPS_FOLLOWUP_WRITER = "bot.conversation.write_follow_up"  # Claude, as in production
# Demo time runs fast; broker delays do not. Publish only what is due now, often.
FOLLOWUPS_ENQUEUE_HORIZON_S = 1
FOLLOWUPS_WATCH_INTERVAL_S = 1
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOGGING["root"]["level"] = LOG_LEVEL  # noqa: F405
