"""`manage.py telegram_login`: the one-time interactive login that yields a session string.

Run it once for the listener (TELEGRAM_SESSION) and, if the workers get their own login,
once more for them (TELEGRAM_WORKER_SESSION). See docs/telegram.md.
"""

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from telethon import TelegramClient
from telethon.sessions import StringSession

from bot.telegram import missing_credentials


class Command(BaseCommand):
    help = (
        "Log in to Telegram interactively (phone, code, 2FA password) and print a session "
        "string for TELEGRAM_SESSION or TELEGRAM_WORKER_SESSION."
    )
    requires_system_checks = []  # a login only: runs before the rest is configured

    def handle(self, *args, **options):
        missing = missing_credentials()
        if missing:
            raise CommandError(
                f"set {', '.join(missing)} first (https://my.telegram.org, API development tools)"
            )
        session, me = asyncio.run(self._login())
        self.stderr.write(
            f"Logged in as user {me.id}. The line below is a password to this Telegram account:\n"
            "put it in TELEGRAM_SESSION (the listener) or TELEGRAM_WORKER_SESSION (the workers, "
            "from a second run of this command), keep it in your secret store, never commit or "
            "paste it anywhere else. Revoke it in Telegram: Settings > Devices."
        )
        self.stdout.write(session)

    async def _login(self):
        client = TelegramClient(
            StringSession(), settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH
        )
        await client.start()  # asks for the phone, the code and, if enabled, the 2FA password
        try:
            return client.session.save(), await client.get_me()
        finally:
            await client.disconnect()  # not log_out(): that would revoke the new session
