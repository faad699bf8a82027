"""`manage.py reconcile`: one pass at startup; `--watch`: the dispatcher loop."""

import logging
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from followups import dispatcher, outcomes
from followups.management.watching import (
    add_watch_arguments,
    interval_or_default,
    stop_on_signals,
)

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Publish pending actions that are due soon, release claims of dead workers, mark "
        "actions overdue beyond grace as missed, and delete old rows. Once (at startup, "
        "republishing everything due soon), or with --watch every few seconds until "
        "SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        add_watch_arguments(parser, "passes", "FOLLOWUPS_WATCH_INTERVAL_S")
        parser.add_argument(
            "--cleanup-every",
            type=int,
            default=300,
            help="With --watch, delete old rows and summarize closed days for the outcomes "
            "page every N seconds (default 300).",
        )

    def handle(self, *args, watch: bool, interval: float | None, cleanup_every: int, **opts):
        from django.conf import settings

        interval = interval_or_default(interval, settings.FOLLOWUPS_WATCH_INTERVAL_S)
        if cleanup_every <= 0:
            raise CommandError("--cleanup-every must be a positive number of seconds")
        stop = stop_on_signals("dispatcher") if watch else None
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
