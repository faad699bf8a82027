"""The demo: the whole product in one process, chatting in the console.

Real pieces, small scale: the conversation and agent (Claude with ANTHROPIC_API_KEY, else the
rule-based fallback), the services on a SQLite file, Dramatiq's in-process broker with a real
Worker, the dispatcher loop, and the admin. Only Telegram is replaced, by a console messenger,
and time can run faster: `--speed 60` makes «через 2 часа» arrive in 2 minutes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils import timezone

from followups.messenger import InMemoryMessenger, Recipient, SentMessage

if TYPE_CHECKING:  # this module is imported by project.demo_settings, before the models load
    from dramatiq import Worker

    from followups.models import Prospect, ScheduledAction

CLIENT_ID = 100_000_001
_print_lock = threading.Lock()


def say(line: str) -> None:
    with _print_lock:
        print(line, flush=True)


def stamp() -> str:
    """Demo time as each console line shows it."""
    return f"[{timezone.localtime(timezone.now()):%a %d %b %H:%M}]"


def say_at(line: str) -> None:
    """A conversation line, with the demo time it happened at."""
    say(f"{stamp()} {line}")


def state_file(db_path: Path) -> Path:
    """The demo's state (demo time) beside its database: demo.sqlite3 → demo.clock.json."""
    return db_path.with_suffix(".clock.json")


def log_file(db_path: Path) -> Path:
    """Where the demo's logs go (Django, Dramatiq, the admin's requests): demo.log."""
    return db_path.with_suffix(".log")


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DemoClock:
    """Demo time: starts where the last demo run stopped (or now) and runs `speed` times
    faster than the wall clock. Saved beside the database, so a restarted demo goes on, and
    so other processes on the demo's settings (`followups_status`, `shell`) read the same
    time (see SharedClock)."""

    def __init__(self, speed: float, state_file: Path, real_now=None):
        self.speed = speed
        self.state_file = state_file
        self._real_now = real_now or _real_now
        saved = _read_state(state_file).get("demo_now")
        saved = datetime.fromisoformat(saved) if saved else None
        real = self._real_now()
        self._origin_real = real
        self._origin_demo = max(saved, real) if saved else real

    def now(self) -> datetime:
        elapsed = (self._real_now() - self._origin_real).total_seconds()
        return self._origin_demo + timedelta(seconds=elapsed * self.speed)

    def save(self, running: bool = True) -> None:
        """The time now, and while running the clock's formula and this process's id, for
        other processes to follow it. Written whole (a reader never sees half a file)."""
        state = {"demo_now": self.now().isoformat()}
        if running:
            state.update(
                pid=os.getpid(),
                speed=self.speed,
                origin_real=self._origin_real.isoformat(),
                origin_demo=self._origin_demo.isoformat(),
            )
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)


class SharedClock:
    """Demo time in a process that is not the demo (project.demo_settings installs it): while
    the demo runs, its clock; when stopped, where it stopped (or the real time, if later, as a
    restarted demo would). So `followups_status` never sees a heartbeat from its future."""

    def __init__(self, state_file: Path, real_now=None):
        self.state_file = state_file
        self._real_now = real_now or _real_now

    def now(self) -> datetime:
        real = self._real_now()
        state = _read_state(self.state_file)
        try:
            demo_now = datetime.fromisoformat(state["demo_now"])
        except (KeyError, TypeError, ValueError):
            return real
        if _alive(state.get("pid")):
            try:
                origin_real = datetime.fromisoformat(state["origin_real"])
                origin_demo = datetime.fromisoformat(state["origin_demo"])
                elapsed = (real - origin_real).total_seconds()
                return origin_demo + timedelta(seconds=elapsed * float(state["speed"]))
            except (KeyError, TypeError, ValueError):
                pass
        return max(demo_now, real)

    @property
    def speed(self) -> float:
        """The running demo's speed; 1 when it is stopped (its time then stands or is real)."""
        state = _read_state(self.state_file)
        try:
            return float(state["speed"]) if _alive(state.get("pid")) else 1.0
        except (KeyError, TypeError, ValueError):
            return 1.0


_real_now = timezone.now
_clock: DemoClock | SharedClock | None = None


class _ClockNow:
    """What `timezone.now` becomes: demo time, and how fast it runs (`speed`, demo seconds per
    real second), so that followups.health can give ages in real seconds."""

    def __call__(self) -> datetime:
        return _clock.now() if _clock else _real_now()

    @property
    def speed(self) -> float:
        return _clock.speed if _clock else 1.0


_now = _ClockNow()


def install_clock(clock: DemoClock | SharedClock) -> None:
    """Everything in the product reads time through django.utils.timezone.now (a default
    captured before, such as a model field's, calls this same function)."""
    global _clock
    _clock = clock
    timezone.now = _now


class ConsoleMessenger(InMemoryMessenger):
    """Telegram for the demo: what would be sent to the client is printed, marked as a
    scheduled send (with Telegram's random_id dedupe kept)."""

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        sent = super().send(recipient, text, random_id)
        if not sent.duplicate:
            say(f"\n{stamp()} ⏰ scheduled message → client:\n   {text}\n")
        return sent


def bind_admin(port: int, tries: int):
    """A server bound to the first free port of port, port + 1, … (`tries` of them), before
    anything is printed about it; None when all are taken."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    for candidate in range(port, port + tries):
        try:
            server = ThreadedWSGIServer(("127.0.0.1", candidate), WSGIRequestHandler)
        except OSError:
            continue
        server.daemon_threads = True
        return server
    return None


def serve_admin(server) -> None:
    """The admin, on a server bind_admin bound, in a daemon thread."""
    from django.core.servers.basehttp import get_internal_wsgi_application

    server.set_app(get_internal_wsgi_application())
    threading.Thread(target=server.serve_forever, name="demo-admin", daemon=True).start()


def start_background(stop: threading.Event, clock: DemoClock) -> tuple[Worker, threading.Thread]:
    """A Dramatiq worker on the in-process broker, and the dispatcher loop (which also saves
    demo time after each pass, so the saved time is never behind the heartbeat)."""
    import dramatiq
    from dramatiq import Worker

    import followups.actors  # noqa: F401  the worker's actor, as rundramatiq loads it
    from followups import dispatcher

    worker = Worker(dramatiq.get_broker(), worker_threads=2, worker_timeout=100)
    worker.start()

    def dispatch():
        while not stop.wait(0.2):
            try:
                dispatcher.reconcile(force=False, clean=False)
            except Exception as exc:  # SQLite busy under load: try again next tick
                say(f"(dispatcher: {exc})")
            clock.save()

    thread = threading.Thread(target=dispatch, name="demo-dispatcher", daemon=True)
    thread.start()
    return worker, thread


def next_due_within(window: timedelta) -> ScheduledAction | None:
    """The next pending action due within `window` of demo time, or None."""
    from followups.models import ActionStatus, ScheduledAction

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
    from followups.models import ActionStatus, ScheduledAction
    from followups.texts import describe_when

    now = timezone.now()
    return [
        f"{a.get_action_type_display()} {describe_when(a.scheduled_for, now, prospect.zone, 'en')}"
        for a in ScheduledAction.objects.filter(prospect=prospect, status=ActionStatus.PENDING)
    ]


def wait_until_quiet(stop: threading.Event, window: timedelta) -> None:
    """After the script ends: run on until nothing is due within `window` of demo time."""
    while not stop.is_set():
        due = next_due_within(window)
        if due is None:
            return
        time.sleep(0.2)
