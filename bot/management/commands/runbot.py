"""`manage.py runbot`: the Telethon listener. `--dry-run`: check the setup, connect to nothing.

The dry run prints what it found (secrets only as "set"/"missing") and exits non-zero, naming
what is wrong, when the bot could not run.
"""

import asyncio
import logging
import signal
from dataclasses import dataclass

import dramatiq
import pika
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker

from bot import listener
from bot.telegram import build_client, missing_credentials, parse_session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def check_settings() -> Check:
    """Django's system checks, followups' among them (a messenger that really sends)."""
    errors = [message for message in checks.run_checks() if message.is_serious()]
    if errors:
        return Check(
            "settings",
            False,
            "; ".join(f"{error.msg} {error.hint or ''}".strip() for error in errors),
        )
    return Check(
        "settings",
        True,
        f"{settings.SETTINGS_MODULE}; messenger {settings.FOLLOWUPS_MESSENGER}; "
        f"time zone {settings.FOLLOWUPS_DEFAULT_TZ}",
    )


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return Check("database", False, f"cannot use it: {_first_line(exc)}")
    where = f"{connection.vendor} {connection.settings_dict.get('NAME')}"
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        return Check("database", False, f"{where}: {len(plan)} unapplied migration(s): {names}")
    return Check("database", True, f"{where}, migrations applied")


def check_broker() -> Check:
    broker = dramatiq.get_broker()
    if isinstance(broker, StubBroker):
        return Check("broker", True, "in-process stub broker (nothing leaves this process)")
    if not isinstance(broker, RabbitmqBroker):
        return Check("broker", True, f"{type(broker).__name__} (not checked)")
    params = broker.parameters if isinstance(broker.parameters, list) else [broker.parameters]
    where = ", ".join(f"{p.host}:{p.port}" for p in params)
    try:
        pika.BlockingConnection(broker.parameters).close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        return Check("broker", False, f"RabbitMQ at {where}: cannot connect: {_first_line(exc)}")
    return Check("broker", True, f"RabbitMQ at {where}")


def check_agent() -> Check:
    if settings.ANTHROPIC_API_KEY:
        return Check("agent", True, f"Claude ({settings.ANTHROPIC_MODEL})")
    return Check("agent", True, "rule-based fallback agent (no ANTHROPIC_API_KEY)")


def check_telegram() -> Check:
    """Presence (and form) of the credentials; nothing is sent to Telegram."""
    names = ("TELEGRAM_API_ID", "TELEGRAM_API_HASH", "TELEGRAM_SESSION", "TELEGRAM_WORKER_SESSION")
    missing = missing_credentials("TELEGRAM_SESSION")
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
    return Check("telegram", True, found)


def dry_run_checks() -> list[Check]:
    return [check_settings(), check_database(), check_broker(), check_agent(), check_telegram()]


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
            help="Check settings, database, broker, agent and Telegram credentials; exit.",
        )

    def handle(self, *args, dry_run: bool, **options):
        if dry_run:
            self._dry_run()
            return
        self.check()
        try:
            client = build_client(settings.TELEGRAM_SESSION, receive_updates=True, for_worker=False)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        try:
            asyncio.run(self._serve(client))
        except (listener.NotAuthorized, OSError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("runbot: stopped")

    def _dry_run(self) -> None:
        checks = dry_run_checks()
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

    async def _serve(self, client) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop, stop, signum)
        self.stdout.write("runbot: connecting to Telegram; stop with SIGTERM/SIGINT")
        await listener.run(client, stop)

    @staticmethod
    def _request_stop(stop: asyncio.Event, signum: int) -> None:
        log.info("runbot stopping on signal %s", signal.Signals(signum).name)
        stop.set()
