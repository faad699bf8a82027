"""`manage.py demo`: the whole product in one process with no external service. SQLite file,
Dramatiq's in-process broker and worker, the console messenger (manage.py selects this).

Other commands take these settings to look at the demo's database, in demo time:
`manage.py followups_status --settings project.demo_settings` (or `shell`).
"""

import os
import secrets
from pathlib import Path

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

# The console is the client's chat: every log (Django's, Dramatiq's, the admin's request lines
# and tracebacks) goes to a file beside the database, which the demo's banner names.
DEMO_LOG_FILE = str(Path(DATABASES["default"]["NAME"]).with_suffix(".log"))
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
_to_file = {"handlers": ["demo_file"], "level": LOG_LEVEL, "propagate": False}
LOGGING = {
    **LOGGING,  # noqa: F405
    "handlers": {
        "demo_file": {
            "class": "logging.FileHandler",
            "filename": DEMO_LOG_FILE,
            "formatter": LOG_FORMAT,  # noqa: F405
            "delay": True,
        }
    },
    "root": {"handlers": ["demo_file"], "level": LOG_LEVEL},
    # Django's own defaults send these to the console: "django.server" (each request the admin
    # serves, every static file) and "django" (a 403's traceback, with DEBUG on).
    "loggers": {**LOGGING["loggers"], "django": _to_file, "django.server": _to_file},  # noqa: F405
}

# Demo time in every process on these settings (followups_status, shell): the running demo's
# clock, or where it stopped. The demo itself installs its own clock over this one.
from bot.demo import SharedClock, install_clock, state_file  # noqa: E402

install_clock(SharedClock(state_file(Path(DATABASES["default"]["NAME"]))))
