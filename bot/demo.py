"""The demo: the whole product in one process, chatting in the console.

Real pieces, small scale: the conversation and agent (Claude with ANTHROPIC_API_KEY, else the
rule-based fallback), the services on a SQLite file, Dramatiq's in-process broker with a real
Worker, the dispatcher loop, and the admin. Only Telegram is replaced, by a console messenger,
and time can run faster: `--speed 60` makes «через 2 часа» arrive in 2 minutes.
"""

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import dramatiq
from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run
from django.utils import timezone
from dramatiq import Worker

from bot.humanize import describe_when
from followups import dispatcher
from followups.messenger import InMemoryMessenger, Recipient, SentMessage
from followups.models import ActionStatus, Prospect, ScheduledAction

CLIENT_ID = 100_000_001
_print_lock = threading.Lock()


def say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


class DemoClock:
    """Demo time: starts where the last demo run stopped (or now) and runs `speed` times
    faster than the wall clock. Saved beside the database, so a restarted demo goes on."""

    def __init__(self, speed: float, state_file: Path, real_now=None):
        self.speed = speed
        self.state_file = state_file
        self._real_now = real_now or _real_now
        saved = None
        if state_file.exists():
            saved = datetime.fromisoformat(json.loads(state_file.read_text())["demo_now"])
        real = self._real_now()
        self._origin_real = real
        self._origin_demo = max(saved, real) if saved else real

    def now(self) -> datetime:
        elapsed = (self._real_now() - self._origin_real).total_seconds()
        return self._origin_demo + timedelta(seconds=elapsed * self.speed)

    def save(self) -> None:
        self.state_file.write_text(json.dumps({"demo_now": self.now().isoformat()}))


_real_now = timezone.now


def install_clock(clock: DemoClock) -> None:
    """Everything in the product reads time through django.utils.timezone.now."""
    timezone.now = clock.now


class ConsoleMessenger(InMemoryMessenger):
    """Telegram for the demo: what would be sent to the client is printed, marked as a
    scheduled send (with Telegram's random_id dedupe kept)."""

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        sent = super().send(recipient, text, random_id)
        if not sent.duplicate:
            stamp = timezone.localtime(timezone.now()).strftime("%a %H:%M")
            say(f"\n⏰ [{stamp} demo time] scheduled message → client:\n   {text}\n")
        return sent


def serve_admin(port: int) -> None:
    """The admin on localhost, in a daemon thread."""

    def serve():
        run("127.0.0.1", port, get_internal_wsgi_application(), threading=True,
            server_cls=WSGIServer)  # fmt: skip

    threading.Thread(target=serve, name="demo-admin", daemon=True).start()


def start_background(stop: threading.Event) -> Worker:
    """A Dramatiq worker on the in-process broker, and the dispatcher loop."""
    worker = Worker(dramatiq.get_broker(), worker_threads=2, worker_timeout=100)
    worker.start()

    def dispatch():
        while not stop.wait(0.2):
            try:
                dispatcher.reconcile(force=False, clean=False)
            except Exception as exc:  # SQLite busy under load: try again next tick
                say(f"(dispatcher: {exc})")

    threading.Thread(target=dispatch, name="demo-dispatcher", daemon=True).start()
    return worker


def next_due_within(window: timedelta) -> ScheduledAction | None:
    """The next pending action due within `window` of demo time, or None."""
    now = timezone.now()
    busy = ScheduledAction.objects.filter(status=ActionStatus.SENDING)
    if busy.exists():
        return busy.first()
    return (
        ScheduledAction.objects.filter(status=ActionStatus.PENDING, scheduled_for__lte=now + window)
        .order_by("scheduled_for")
        .first()
    )


def describe_pending(prospect: Prospect) -> list[str]:
    now = timezone.now()
    return [
        f"{a.get_action_type_display()} {describe_when(a.scheduled_for, now, prospect.zone, 'ru')}"
        for a in ScheduledAction.objects.filter(prospect=prospect, status=ActionStatus.PENDING)
    ]


def wait_until_quiet(stop: threading.Event, window: timedelta, clock: DemoClock) -> None:
    """After the script ends: run on until nothing is due within `window` of demo time."""
    while not stop.is_set():
        due = next_due_within(window)
        if due is None:
            return
        clock.save()
        time.sleep(0.2)
