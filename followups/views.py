"""/healthz and /metrics: for load balancers, compose health checks and Prometheus; and the
admin's outcomes page."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from followups import access, charts, health, outcomes
from followups.models import ActionStatus, ActionType


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer and the dispatcher's heartbeat is fresh;
    503 otherwise, saying which part is unwell."""
    if not health.database_ok():
        return JsonResponse({"ok": False, "database": False}, status=503)
    snap = health.snapshot()
    body = {
        "ok": snap.queues is not None and snap.dispatcher_fresh,
        "database": True,
        "broker": snap.queues is not None,
        "dispatcher_heartbeat_age_s": snap.heartbeat_age_s,
        "overdue": snap.overdue,
    }
    return JsonResponse(body, status=200 if body["ok"] else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, computed from the rows at scrape time: every process's work is
    in them, so no multi-process counter store is needed."""
    snap = health.snapshot()
    lines = [
        "# HELP followups_actions Scheduled actions by status and type.",
        "# TYPE followups_actions gauge",
    ]
    for status in ActionStatus.values:
        for action_type in ActionType.values:
            n = snap.counts.get((status, action_type), 0)
            lines.append(f'followups_actions{{status="{status}",type="{action_type}"}} {n}')
    lines += [
        "# HELP followups_overdue Pending actions past their due time.",
        "# TYPE followups_overdue gauge",
        f"followups_overdue {snap.overdue}",
        "# HELP followups_sends Sends by outcome in the window.",
        "# TYPE followups_sends gauge",
        f'followups_sends{{outcome="executed",window="1h"}} {snap.sent_last_hour}',
        f'followups_sends{{outcome="executed",window="1d"}} {snap.sent_last_day}',
        f'followups_sends{{outcome="failed",window="1d"}} {snap.failed_last_day}',
        "# HELP followups_lateness_seconds Lateness of the sends in the last hour.",
        "# TYPE followups_lateness_seconds histogram",
    ]
    late = sorted(snap.lateness_last_hour)
    for bound in health.LATENESS_BUCKETS:
        within = sum(1 for seconds in late if seconds <= bound)
        lines.append(f'followups_lateness_seconds_bucket{{le="{bound}"}} {within}')
    lines += [
        f'followups_lateness_seconds_bucket{{le="+Inf"}} {len(late)}',
        f"followups_lateness_seconds_sum {sum(late):.3f}",
        f"followups_lateness_seconds_count {len(late)}",
        "# HELP followups_queue_messages Messages waiting on the broker.",
        "# TYPE followups_queue_messages gauge",
    ]
    for queue, n in (snap.queues or {}).items():
        lines.append(f'followups_queue_messages{{queue="{queue}"}} {n}')
    lines += [
        "# HELP followups_broker_up Whether the broker answered.",
        "# TYPE followups_broker_up gauge",
        f"followups_broker_up {int(snap.queues is not None)}",
        "# HELP followups_dispatcher_heartbeat_age_seconds Since the dispatcher's last pass.",
        "# TYPE followups_dispatcher_heartbeat_age_seconds gauge",
        f"followups_dispatcher_heartbeat_age_seconds {snap.heartbeat_age_s or -1:.1f}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; version=0.0.4")


class PeriodForm(forms.Form):
    """The outcomes page's period: the last 7, 30 or 90 days, or whole days from – to."""

    period = forms.ChoiceField(
        choices=[("7", "last 7 days"), ("30", "last 30 days"), ("90", "last 90 days"),
                 ("custom", "from – to")],
        required=False,
    )  # fmt: skip
    start = forms.DateField(required=False, label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        choice = data.get("period") or ("custom" if data.get("start") else "30")
        if choice != "custom":
            data["span"] = outcomes.Period.last_days(int(choice))
            return data
        start, end = data.get("start"), data.get("end") or timezone.localdate()
        if start is None:
            if not self.has_error("start"):
                self.add_error("start", "Give the first day of the period (YYYY-MM-DD).")
            return data
        if start > end:
            raise ValidationError("The first day is after the last.")
        if end > timezone.localdate():
            raise ValidationError("The period cannot end after today: nothing is sent yet.")
        if (end - start).days + 1 > outcomes.MAX_DAYS:
            raise ValidationError(f"A period is at most {outcomes.MAX_DAYS} days.")
        data["span"] = outcomes.Period(start, end)
        return data


def _percent(share: outcomes.Share) -> str:
    return "–" if share.percent is None else f"{share.percent:.0f} %"


def _share_chart(chart_id: str, title: str, key: str, shares: dict[str, outcomes.Share]) -> dict:
    svg = charts.bar_chart(
        chart_id,
        title,
        f"Share of sends the client answered within 24 hours, by {key}: "
        + "; ".join(f"{k}: {_percent(s)} of {s.settled}" for k, s in shares.items()),
        list(shares),
        [charts.Series("answered within 24 h", [s.percent for s in shares.values()])],
        unit=" %",
        top=100,
    )
    return {
        "id": chart_id, "title": title, "svg": svg,
        "head": [key, "sends (24 h over)", "answered", "share"],
        "rows": [[k, s.settled, s.answered, _percent(s)] for k, s in shares.items()],
    }  # fmt: skip


def _count_chart(chart_id: str, title: str, key: str, labels: list[str], series: dict) -> dict:
    """Stacked counts; `series` maps a name to one count per label."""
    names = list(series)
    columns = list(zip(*series.values(), strict=True))
    svg = charts.bar_chart(
        chart_id,
        title,
        f"{title}: {sum(map(sum, columns))} in all"
        + "".join(f"; {name}: {sum(values)}" for name, values in series.items()),
        labels,
        [charts.Series(name, values) for name, values in series.items()],
    ) if any(map(any, columns)) else None  # fmt: skip
    total = ["total"] if len(names) > 1 else []
    return {
        "id": chart_id, "title": title, "svg": svg,
        "head": [key, *names, *total],
        "rows": [[label, *column, *([sum(column)] if total else [])]
                 for label, column in zip(labels, columns, strict=True)],
    }  # fmt: skip


def _charts(out: outcomes.Outcomes) -> list[dict]:
    days = [f"{day:%d %b}" for day in out.period.days]
    kinds = dict(ActionType.choices)
    return [
        _count_chart(
            "sent", "Sent per day", "day", days,
            {f"{kinds[k]}s": v for k, v in out.sent_per_day.items()},
        ),
        _share_chart(
            "by-type", "Answered within 24 h, by type", "type",
            {kinds[k]: v for k, v in out.answered_by_type.items()},
        ),
        _share_chart(
            "by-delay", "Follow-ups answered within 24 h, by the delay asked", "delay asked",
            out.answered_by_delay,
        ),
        _share_chart(
            "by-hour", "Answered within 24 h, by the client's hour of sending", "client's hour",
            {f"{h:02}": v for h, v in out.answered_by_hour.items()},
        ),
        _count_chart(
            "lateness", "Lateness of the sends (sent − due)", "lateness",
            list(out.lateness), {"sends": list(out.lateness.values())},
        ),
        _count_chart(
            "lost", "Missed and failed per day (by due day)", "day", days,
            {str(k): v for k, v in out.missed_failed_per_day.items()},
        ),
    ]  # fmt: skip


class OutcomesForm(PeriodForm):
    """The period, and for those who see more than one account, optionally one of them."""

    account = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="every account", to_field_name="name"
    )

    def __init__(self, data, user):
        super().__init__(data)
        self.fields["account"].queryset = access.visible_accounts(user).order_by("name")
        if not access.sees_many(user):
            del self.fields["account"]
        self.user = user

    def accounts(self):
        """What compute() counts: the chosen account, else every one the user sees."""
        chosen = self.is_bound and self.cleaned_data.get("account")
        if chosen:
            return [chosen.pk]
        return None if access.sees_all(self.user) else access.visible_accounts(self.user)


def outcomes_view(request: HttpRequest) -> HttpResponse:
    """/admin/outcomes/: for any staff who may view scheduled actions (viewers too), of the
    accounts they see (followups.access)."""
    if not request.user.has_perm("followups.view_scheduledaction"):
        raise PermissionDenied
    form = OutcomesForm(request.GET or None, request.user)
    context = {
        **admin.site.each_context(request),
        "title": "Outcomes",
        "form": form,
        "zone": settings.TIME_ZONE,
        "no_account": access.sees_none(request.user) and access.NO_ACCOUNT,
    }
    if request.GET and not form.is_valid():
        return TemplateResponse(request, "admin/followups/outcomes.html", context, status=400)
    period = form.cleaned_data["span"] if request.GET else outcomes.Period.last_days(30)
    out = outcomes.compute(period, form.accounts())
    context.update(outcomes=out, period=period, charts=_charts(out))
    return TemplateResponse(request, "admin/followups/outcomes.html", context)
