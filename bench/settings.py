"""Settings of every bench process: the product's, sending into memory (the bench measures
scheduling and delivery, not Telegram)."""

import os
import secrets

# project.settings requires a real key; each bench process makes its own.
os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)

from project.settings import *  # noqa: F403

FOLLOWUPS_MESSENGER = "followups.messenger.InMemoryMessenger"
FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = True
