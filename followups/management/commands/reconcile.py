"""`manage.py reconcile`: one pass at startup; `--watch`: the dispatcher loop."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from followups import dispatcher, outcomes

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Publish pending actions that are due soon, release claims of dead workers, mark "
        "actions overdue beyond grace as missed, and delete old rows. Once (at startup, "
        "republishing everything due soon), or with --watch every few seconds until "
        "SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("--watch", action="store_true", help="Repeat until stopped.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between passes with --watch (default FOLLOWUPS_WATCH_INTERVAL_S).",
        )
        parser.add_argument(
            "--cleanup-every",
            type=int,
            default=300,
            help="With --watch, delete old rows and summarize closed days for the outcomes "
            "page every N seconds (default 300).",
        )

    def handle(self, *args, watch: bool, interval: float | None, cleanup_every: int, **opts):
        from django.conf import settings

        interval = settings.FOLLOWUPS_WATCH_INTERVAL_S if interval is None else interval
        if interval <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        if cleanup_every <= 0:
            raise CommandError("--cleanup-every must be a positive number of seconds")
        stop = self._stop_on_signals() if watch else None
        # Startup: nothing on the broker can be trusted, so everything due soon goes again.
        report = dispatcher.reconcile(force=True, progress=self._progress())
        self.stdout.write(("\r" if self.stdout.isatty() else "") + f"reconcile: {report}")
        if stop is not None:
            self._watch(stop, interval, cleanup_every)

    def _progress(self) -> dispatcher.Progress | None:
        """A progress line for the startup pass (it can be long after an outage), when a person
        is watching a terminal."""
        if not self.stdout.isatty():
            return None

        def show(what: str, count: int) -> None:
            self.stdout.write(f"\r  {what} {count:,}…", ending="")
            self.stdout.flush()

        return show

    @staticmethod
    def _stop_on_signals() -> threading.Event:
        """Installed before the first pass, so a deploy's SIGTERM is clean even at startup."""
        stop = threading.Event()

        def request_stop(signum, frame):
            log.info("dispatcher stopping on signal %s", signum)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        return stop

    def _watch(self, stop: threading.Event, interval: float, cleanup_every: int) -> None:
        self.stdout.write(f"reconcile --watch: every {interval} s; stop with SIGTERM/SIGINT")
        passes_per_cleanup = max(1, round(cleanup_every / interval))
        passes = 0
        while not stop.wait(interval):
            passes += 1
            close_old_connections()
            housekeeping = passes % passes_per_cleanup == 0
            try:
                report = dispatcher.reconcile(force=False, clean=housekeeping)
                # The outcomes page's summary of closed days, a month at most per pass.
                summarized = outcomes.roll_up() if housekeeping else 0
            except Exception:  # the database or broker is away: say so, try again next pass
                log.exception("dispatcher pass failed; retrying in %s s", interval)
                continue
            if report.released or report.missed or report.enqueued or report.deleted:
                self.stdout.write(f"reconcile: {report}")
            if summarized:
                self.stdout.write(f"reconcile: summarized the outcomes of {summarized} days")
        self.stdout.write("reconcile --watch: stopped")
