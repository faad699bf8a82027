"""`manage.py demo`: the whole product in one process, chatting in the console."""

import secrets
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bot import demo
from bot.conversation import Incoming, handle_incoming, record_outgoing
from followups import accounts, dispatcher, services
from followups.models import DEFAULT_ACCOUNT, Prospect

QUIET_WINDOW = timedelta(hours=1)
DEFAULT_PORT = 8000
PORT_TRIES = 10  # without --port, the admin takes the first free of 8000…8009


class Command(BaseCommand):
    help = (
        "Run the whole product in one process with no external service: type as the client, "
        "the agent answers, scheduled follow-ups and reminders arrive in the console when due. "
        "With stdin not a terminal, each line is a client message; after the last, it runs on "
        "until nothing is due within the next hour of demo time, then exits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--speed", type=float, default=60.0, help="Demo time runs N times faster (60)."
        )
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"Admin port (the first free from {DEFAULT_PORT}; a given port must be free).",
        )
        parser.add_argument("--no-admin", action="store_true", help="Do not serve the admin.")
        parser.add_argument(
            "--reset", action="store_true", help="Start over: forget the demo's data and time."
        )

    def handle(self, *args, speed: float, port, no_admin: bool, reset: bool, **options):
        if not 0 < speed <= 10_000:
            raise CommandError("--speed must be between 0 (exclusive) and 10000")
        server = None if no_admin else self._bind(port)
        db_path = Path(settings.DATABASES["default"]["NAME"])
        clock_file = demo.state_file(db_path)
        if reset:
            db_path.unlink(missing_ok=True)
            clock_file.unlink(missing_ok=True)
        clock = demo.DemoClock(speed, clock_file)
        demo.install_clock(clock)
        clock.save()
        call_command("migrate", verbosity=0)
        Prospect.objects.get_or_create(
            account=accounts.default(),
            telegram_id=demo.CLIENT_ID,
            defaults={"display_name": "Demo client", "username": "demo_client"},
        )
        report = dispatcher.reconcile(force=True)  # a restarted demo: the rows are the truth
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        worker, dispatching = demo.start_background(stop, clock)
        self._banner(speed, server, port, report)
        try:
            self._chat(stop)
            if not stop.is_set():
                demo.say("(input ended: running until nothing is due within the next hour)")
                demo.wait_until_quiet(stop, QUIET_WINDOW)
        except KeyboardInterrupt:
            demo.say("")
        finally:
            stop.set()
            dispatching.join(timeout=30)  # its last heartbeat comes before the saved time
            worker.stop()
            clock.save(running=False)
            if server is not None:
                server.server_close()
        demo.say("demo stopped; start it again and pending follow-ups still arrive")

    def _bind(self, port: int | None):
        """The admin's server, bound before anything is said about it: a given --port must be
        free; without one, the first free port from 8000."""
        server = demo.bind_admin(port or DEFAULT_PORT, 1 if port else PORT_TRIES)
        if server is None and port:
            raise CommandError(
                f"Port {port} is taken (another server is listening on 127.0.0.1:{port}). "
                "Choose another with --port, or run with --no-admin."
            )
        if server is None:
            last = DEFAULT_PORT + PORT_TRIES - 1
            raise CommandError(
                f"Ports {DEFAULT_PORT}-{last} are all taken on 127.0.0.1. "
                "Choose a free one with --port, or run with --no-admin."
            )
        return server

    def _banner(self, speed: float, server, port: int | None, report) -> None:
        agent = (
            "Claude" if settings.ANTHROPIC_API_KEY else "rule-based fallback (no ANTHROPIC_API_KEY)"
        )
        demo.say(f"Demo: agent {agent}; demo time {timezone.localtime():%a %Y-%m-%d %H:%M} "
                 f"({settings.TIME_ZONE}), running {speed:g}× faster; "
                 "[brackets] show demo time.")  # fmt: skip
        demo.say(f"Logs: {settings.DEMO_LOG_FILE}")
        if report.enqueued or report.missed:
            demo.say(f"Restarted: {report}.")
        pending = demo.describe_pending(services.get_prospect(demo.CLIENT_ID))
        if pending:
            demo.say("Pending: " + "; ".join(pending))
        if server is not None:
            password = secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(
                username="demo", defaults={"is_staff": True, "is_superuser": True}
            )
            user.set_password(password)
            user.save()
            bound = server.server_address[1]
            if bound != (port or DEFAULT_PORT):
                demo.say(f"Port {port or DEFAULT_PORT} is taken: the admin is on {bound}.")
            demo.serve_admin(server)
            demo.say(f"Admin: http://127.0.0.1:{bound}/admin/  login demo / {password}")
        demo.say("Type as the client (e.g. «напиши мне через 2 часа»); Ctrl-D ends input.\n")

    def _chat(self, stop: threading.Event) -> None:
        interactive = sys.stdin.isatty()
        while not stop.is_set():
            try:
                line = input(f"{demo.stamp()} клиент> ") if interactive else sys.stdin.readline()
            except EOFError:
                return
            if not interactive and not line:
                return
            text = line.strip()
            if not text:
                continue
            if not interactive:
                demo.say_at(f"клиент> {text}")
            now = timezone.now()
            reply = handle_incoming(
                Incoming(
                    telegram_id=demo.CLIENT_ID,
                    access_hash=None,
                    username="demo_client",
                    display_name="Demo client",
                    language_code="",  # the console has no Telegram language: read the text
                    message_id=int(now.timestamp()),
                    at=now,
                    text=text,
                )
            )
            record_outgoing(DEFAULT_ACCOUNT, demo.CLIENT_ID, reply, None, timezone.now())
            demo.say_at(f"агент> {reply}")
