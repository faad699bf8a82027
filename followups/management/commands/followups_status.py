"""`manage.py followups_status`: where every scheduled action stands, at a glance."""

import json

from django.core.management.base import BaseCommand

from followups import health
from followups.models import ActionStatus, ActionType


class Command(BaseCommand):
    help = (
        "Counts by status and type, overdue now, next due, sends in the last hour and day, "
        "the dispatcher's heartbeat age and the broker's queue depths. --json for scripts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="One JSON object.")

    def handle(self, *args, **options):
        snap = health.snapshot()
        if options["json"]:
            self.stdout.write(json.dumps(self._as_dict(snap), ensure_ascii=False))
            return
        types = ActionType.values
        self.stdout.write(f"{'status':<12}" + "".join(f"{t:>22}" for t in types) + f"{'all':>8}")
        for status in ActionStatus.values:
            row = [snap.counts.get((status, t), 0) for t in types]
            self.stdout.write(f"{status:<12}" + "".join(f"{n:>22}" for n in row) + f"{sum(row):>8}")
        next_due = snap.next_due.isoformat() if snap.next_due else "—"
        beat = "never" if snap.heartbeat_age_s is None else f"{snap.heartbeat_age_s:.1f} s ago"
        queues = snap.queues or f"broker unavailable ({snap.broker_error})"
        self.stdout.write("")
        self.stdout.write(f"overdue now:          {snap.overdue}")
        self.stdout.write(f"next due:             {next_due}")
        self.stdout.write(f"sent last hour / day: {snap.sent_last_hour} / {snap.sent_last_day}")
        self.stdout.write(f"failed last day:      {snap.failed_last_day}")
        self.stdout.write(f"dispatcher heartbeat: {beat}")
        self.stdout.write(f"broker queues:        {queues}")

    @staticmethod
    def _as_dict(snap: health.Snapshot) -> dict:
        counts: dict[str, dict[str, int]] = {}
        for (status, action_type), n in snap.counts.items():
            counts.setdefault(status, {})[action_type] = n
        return {
            "counts": counts,
            "overdue": snap.overdue,
            "next_due": snap.next_due.isoformat() if snap.next_due else None,
            "sent_last_hour": snap.sent_last_hour,
            "sent_last_day": snap.sent_last_day,
            "failed_last_day": snap.failed_last_day,
            "dispatcher_heartbeat_age_s": snap.heartbeat_age_s,
            "queues": snap.queues,
            "broker_error": snap.broker_error or None,
        }
