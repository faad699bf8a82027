"""`manage.py alerts`: one check (exit status 1 if anything fires, for cron); `--watch`: the
alerts loop, a process of its own so that it can tell of the dispatcher's death."""

import logging

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from followups import alerts
from followups.management.watching import (
    add_watch_arguments,
    interval_or_default,
    stop_on_signals,
)

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Check the alert conditions (send failures, session, flood wait, dispatcher heartbeat, "
        "missed actions, broker, dead letters) and notify the configured channels. Once, or "
        "with --watch every FOLLOWUPS_ALERT_INTERVAL_S until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        add_watch_arguments(parser, "checks", "FOLLOWUPS_ALERT_INTERVAL_S")

    def handle(self, *args, watch: bool, interval: float | None, **options):
        from django.conf import settings

        interval = interval_or_default(interval, settings.FOLLOWUPS_ALERT_INTERVAL_S)
        try:
            configured = alerts.channels()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if not configured:
            self.stderr.write("no alert channel configured: findings go to this output only")
        if not watch:
            if any(f.firing for f in self._check()):
                raise SystemExit(1)
            return
        stop = stop_on_signals("alerts")
        self.stdout.write(f"alerts --watch: every {interval} s; stop with SIGTERM/SIGINT")
        while True:
            close_old_connections()
            try:
                self._check()
            except Exception:  # the database is away: say so, try again next time
                log.exception("alert check failed; retrying in %s s", interval)
            if stop.wait(interval):
                break
        self.stdout.write("alerts --watch: stopped")

    def _check(self) -> list[alerts.Finding]:
        findings, sent = alerts.check()
        for finding in findings:
            state = "FIRING" if finding.firing else "ok"
            self.stdout.write(f"{state:<6} {finding.key}: {finding.text}")
        for notice in sent:
            self.stdout.write(f"sent: {notice}")
        return findings
