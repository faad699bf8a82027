"""`manage.py runbot`: the Telethon listener. `--dry-run`: check the setup, connect to nothing.

It serves every account that is not paused and has a session (stored, or the environment's
for the default account), each on its own client, in one process; `--account NAME` serves one
(a process per account isolates them: one's crash or restart never stops another's listener).
An account whose session Telegram refuses, or whose stored session does not decrypt (a wrong
FOLLOWUPS_SESSION_KEY), is put in `needs login` (its alert fires) and the others go on;
`--account NAME` for it exits non-zero saying why.

The dry run prints what it found (secrets only as "set"/"missing") and exits non-zero, naming
what is wrong, when the bot could not run.
"""

import asyncio
import logging
import signal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from bot import listener
from bot.telegram import account_client, missing_credentials, parse_session
from followups import accounts
from followups.health import (
    Check,
    check_broker,
    check_database,
    check_settings,
    first_line,
)
from followups.models import DEFAULT_ACCOUNT, Account

log = logging.getLogger(__name__)


def check_agent() -> Check:
    if settings.ANTHROPIC_API_KEY:
        return Check("agent", True, f"Claude ({settings.ANTHROPIC_MODEL})")
    return Check("agent", True, "rule-based fallback agent (no ANTHROPIC_API_KEY)")


def to_serve(name: str | None) -> list[Account]:
    """The accounts a listener serves: the one named, or every one not paused with a session
    (the default account when it has the environment's session, or when no other has any)."""
    if name is not None:
        account = accounts.get(name)
        if account.state == Account.State.PAUSED:
            raise ImproperlyConfigured(f"account {account.name} is paused")
        return [account]
    served = list(
        Account.objects.exclude(state=Account.State.PAUSED)
        .filter(session__isnull=False)
        .order_by("name")
    )
    if not any(a.name == DEFAULT_ACCOUNT for a in served) and (
        settings.TELEGRAM_SESSION or not served
    ):
        default = accounts.default()
        if default.state != Account.State.PAUSED or not served:
            served.insert(0, default)
    return served


def check_account(account: Account) -> Check:
    """A stored session decrypts and is a session string; nothing is sent to Telegram."""
    try:
        parse_session(accounts.session_of(account, for_worker=False), "the stored session")
    except ImproperlyConfigured as exc:
        return Check(f"account {account.name}", False, str(exc))
    return Check(
        f"account {account.name}",
        True,
        f"stored session (encrypted) readable; {account.get_state_display()}",
    )


def check_telegram(served: list[Account]) -> Check:
    """Presence (and form) of the credentials; nothing is sent to Telegram. The environment's
    session is needed when the default account is served without a stored one."""
    names = ("TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_SESSION", "TELEGRAM_WORKER_SESSION")
    env_served = any(a.name == DEFAULT_ACCOUNT and not a.session for a in served)
    missing = missing_credentials(*(("TELEGRAM_SESSION",) if env_served else ()))
    malformed = []
    for name in ("TELEGRAM_SESSION", "TELEGRAM_WORKER_SESSION"):
        if getattr(settings, name):
            try:
                parse_session(getattr(settings, name), name)
            except ImproperlyConfigured:
                malformed.append(name)
    found = ", ".join(
        f"{name} {'set' if getattr(settings, name) else 'missing'}"
        + (" (not a session string)" if name in malformed else "")
        for name in names
    )
    if missing or malformed:
        return Check(
            "telegram",
            False,
            f"{found} (API id and hash: https://my.telegram.org; "
            "a session: manage.py telegram_login)",
        )
    if not settings.TELEGRAM_WORKER_SESSION:
        found += " (workers send with TELEGRAM_SESSION, receive_updates=False)"
    return Check("telegram", True, f"{found}; accounts: {', '.join(a.name for a in served)}")


def dry_run_checks(account: str | None = None) -> list[Check]:
    found = [check_settings(), check_database(), check_broker(), check_agent()]
    try:
        served = to_serve(account)
    except (ImproperlyConfigured, DatabaseError) as exc:
        return [*found, Check("accounts", False, first_line(exc))]
    found.append(check_telegram(served))
    return found + [check_account(a) for a in served if a.session]


class Command(BaseCommand):
    help = (
        "Listen to the Telegram account's private messages and answer them with the agent, "
        "until SIGTERM/SIGINT. --dry-run checks the setup without connecting to Telegram."
    )
    # handle() runs the system checks: the dry run reports their errors among its findings.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check settings, database, broker, agent and each account's session; exit.",
        )
        parser.add_argument(
            "--account",
            metavar="NAME",
            help="Serve this account only (default: every account not paused with a session).",
        )

    def handle(self, *args, dry_run: bool, account: str | None, **options):
        if dry_run:
            self._dry_run(account)
            return
        self.check()
        clients, refused = {}, []
        try:
            served = to_serve(account)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for each in served:
            try:
                clients[each.name] = account_client(each, for_worker=False)
            except ImproperlyConfigured as exc:  # no session, or a stored one it cannot read
                if isinstance(exc, accounts.SessionKeyError):  # the session:<name> alert fires
                    accounts.needs_login(each.pk, f"{accounts.UNREADABLE}: {exc}")
                log.error("account %s not served: %s", each.name, exc)
                refused.append(str(exc))
        if not clients:
            raise CommandError("; ".join(refused))
        try:
            asyncio.run(self._serve(clients))
        except (listener.NotAuthorized, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("runbot: stopped")

    def _dry_run(self, account: str | None) -> None:
        checks = dry_run_checks(account)
        for check in checks:
            status = "ok" if check.ok else "FAILED"
            self.stdout.write(f"{check.name}: {status} - {check.detail}")
        failed = [check for check in checks if not check.ok]
        if failed:
            raise CommandError(
                "runbot --dry-run: not ready: "
                + "; ".join(f"{check.name}: {check.detail}" for check in failed)
            )
        self.stdout.write("runbot --dry-run: ready (did not connect to Telegram)")

    async def _serve(self, clients: dict) -> None:
        """A listener per account until SIGTERM/SIGINT. One whose session is refused stops
        alone (NotAuthorized once none is left); a lost connection stops them all, so the
        process exits and is restarted."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop, stop, signum)
        self.stdout.write(
            f"runbot: connecting to Telegram as {', '.join(clients)}; stop with SIGTERM/SIGINT"
        )
        running = {
            asyncio.ensure_future(listener.run(client, stop, account=name))
            for name, client in clients.items()
        }
        refused = []
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if isinstance(exc, listener.NotAuthorized):
                    log.error("%s", exc)
                    refused.append(str(exc))
                elif exc is not None:
                    stop.set()
                    await asyncio.gather(*running, return_exceptions=True)
                    raise exc
        if len(refused) == len(clients):
            raise listener.NotAuthorized("; ".join(refused))

    @staticmethod
    def _request_stop(stop: asyncio.Event, signum: int) -> None:
        log.info("runbot stopping on signal %s", signal.Signals(signum).name)
        stop.set()
