"""`manage.py telegram_login`: the one-time interactive login that yields a session string.

Run it once for the listener (TELEGRAM_SESSION) and, if the workers get their own login,
once more for them (TELEGRAM_WORKER_SESSION). See docs/telegram.md.

`--account NAME` logs an account in and stores its session in the database, encrypted with
FOLLOWUPS_SESSION_KEY (followups.accounts), instead of printing it; the account is made if
new, and is active again if it needed a login.
"""

import asyncio

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from telethon import TelegramClient
from telethon.sessions import StringSession

from bot.telegram import missing_credentials
from followups import accounts
from followups.models import Account


class Command(BaseCommand):
    help = (
        "Log in to Telegram interactively (phone, code, 2FA password) and print a session "
        "string for TELEGRAM_SESSION or TELEGRAM_WORKER_SESSION."
    )
    requires_system_checks = []  # a login only: runs before the rest is configured

    def add_arguments(self, parser):
        parser.add_argument(
            "--account",
            metavar="NAME",
            help="Store the session on this account (encrypted; made if new) instead of "
            "printing it.",
        )

    def handle(self, *args, account: str | None = None, **options):
        missing = missing_credentials()
        if missing:
            raise CommandError(
                f"set {', '.join(missing)} first (https://my.telegram.org, API development tools)"
            )
        if account is not None:
            self._check_account(account)
        session, me = asyncio.run(self._login())
        if account is not None:
            stored = Account.objects.get_or_create(name=account)[0]
            accounts.store_session(stored, session, me.id, me.username or "")
            self.stderr.write(
                f"Logged in as user {me.id}; the session is stored, encrypted, on account "
                f"{account} (active). Revoke it in Telegram: Settings > Devices."
            )
            return
        self.stderr.write(
            f"Logged in as user {me.id}. The line below is a password to this Telegram account:\n"
            "put it in TELEGRAM_SESSION (the listener) or TELEGRAM_WORKER_SESSION (the workers, "
            "from a second run of this command), keep it in your secret store, never commit or "
            "paste it anywhere else. Revoke it in Telegram: Settings > Devices."
        )
        self.stdout.write(session)

    @staticmethod
    def _check_account(name: str) -> None:
        """Before asking for a code: a valid name, and a key that can encrypt the session."""
        try:
            validate_slug(name)
            if len(name) > Account._meta.get_field("name").max_length:
                raise ValidationError("too long")
            accounts.encrypt_session(name, "")
        except ValidationError:
            raise CommandError(
                "--account: a name of at most 64 letters, digits, '-' and '_'"
            ) from None
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None

    async def _login(self):
        client = TelegramClient(
            StringSession(), settings.TELEGRAM_API_ID, settings.TELEGRAM_API_HASH
        )
        await client.start()  # asks for the phone, the code and, if enabled, the 2FA password
        try:
            return client.session.save(), await client.get_me()
        finally:
            await client.disconnect()  # not log_out(): that would revoke the new session
