"""Do follow-ups work? What was sent, how soon clients answered, how late the sends were, what
was missed or failed, over a period: three aggregate queries (GROUP BY in the database, never
a loop over rows), for the admin's outcomes page."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from followups.models import ActionStatus, ActionType, ScheduledAction

ANSWER_WINDOW = timedelta(hours=24)
MAX_DAYS = 366  # the longest period a page covers

# How far ahead a follow-up was asked for (created → due): no category is stored, only the
# words, so the delay itself is bucketed. Upper bounds, the last open.
DELAY_BUCKETS = (
    ("< 3 h", timedelta(hours=3)),
    ("3 h – 2 days", timedelta(days=2)),
    ("2 – 7 days", timedelta(days=7)),
    ("> 7 days", None),
)
# How late a send went out (due → executed). Upper bounds, the last open.
LATENESS_BUCKETS = (
    ("≤ 1 s", timedelta(seconds=1)),
    ("1–10 s", timedelta(seconds=10)),
    ("10–60 s", timedelta(minutes=1)),
    ("1–5 min", timedelta(minutes=5)),
    ("5–30 min", timedelta(minutes=30)),
    ("> 30 min", None),
)


class LocalHour(Func):
    """The hour of a moment on the clock of a zone named by another column (the client's)."""

    output_field = IntegerField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(HOUR FROM %(expressions)s)::integer",
            arg_joiner=" AT TIME ZONE ", **extra,
        )  # fmt: skip

    def as_sqlite(self, compiler, connection, **extra):
        # Django's own SQLite function for Extract, given the zone per row.
        template = "django_datetime_extract('hour', %(expressions)s, 'UTC')"
        return self.as_sql(compiler, connection, template=template, **extra)


@dataclass
class Period:
    """Whole days [first, last] on the admin's clock (settings.TIME_ZONE)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @classmethod
    def last_days(cls, n: int) -> "Period":
        today = timezone.localdate()
        return cls(today - timedelta(days=n - 1), today)


@dataclass
class Share:
    """Sends whose 24 h are over, and how many of them the client answered within them."""

    settled: int = 0
    answered: int = 0

    @property
    def percent(self) -> float | None:
        return 100 * self.answered / self.settled if self.settled else None


@dataclass
class Outcomes:
    period: Period
    sent_per_day: dict[str, list[int]] = field(default_factory=dict)  # kind → one per day
    answered_by_type: dict[str, Share] = field(default_factory=dict)
    answered_by_delay: dict[str, Share] = field(default_factory=dict)
    answered_by_hour: dict[int, Share] = field(default_factory=dict)  # client's hour → share
    lateness: dict[str, int] = field(default_factory=dict)
    missed_failed_per_day: dict[str, list[int]] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return sum(map(sum, self.sent_per_day.values()))

    @property
    def answered(self) -> Share:
        shares = self.answered_by_type.values()
        return Share(sum(s.settled for s in shares), sum(s.answered for s in shares))


def _buckets(expression, buckets) -> Case:
    whens = [When(**{f"{expression}__lt": bound}, then=Value(label)) for label, bound in buckets]
    return Case(*whens[:-1], default=Value(buckets[-1][0]), output_field=CharField())


def mark_answered(prospect, at: datetime) -> int:
    """The client wrote at `at`: it answers their sends of the 24 h before not yet answered."""
    return ScheduledAction.objects.filter(
        prospect=prospect,
        status=ActionStatus.EXECUTED,
        executed_at__lt=at,
        executed_at__gte=at - ANSWER_WINDOW,
        answered_at__isnull=True,
    ).update(answered_at=at)


def _of(accounts, **conditions):
    """The actions matching `conditions`, of those accounts' clients (None: every account's)."""
    rows = ScheduledAction.objects.filter(**conditions)
    return rows if accounts is None else rows.filter(prospect__account__in=accounts)


def _executed(period: Period, accounts=None):
    return _of(
        accounts,
        status=ActionStatus.EXECUTED,
        executed_at__gte=period.start,
        executed_at__lt=period.end,
    )


def _share_counts(now: datetime) -> dict:
    settled = Q(executed_at__lte=now - ANSWER_WINDOW)
    # Counted on a column of action_sent_idx (never null in a send): the index alone answers.
    return {
        "settled": Count("executed_at", filter=settled),
        "answered_n": Count("executed_at", filter=settled & Q(answered_at__isnull=False)),
    }


def _per_day(rows, period: Period, key: str, names) -> dict[str, list[int]]:
    """{name: [count for each day]} from grouped rows of (day, key, n)."""
    index = {day: n for n, day in enumerate(period.days)}
    series = {name: [0] * len(index) for name in names}
    for row in rows:
        series[row[key]][index[row["day"]]] += row["n"]
    return series


def compute(period: Period, accounts=None) -> Outcomes:
    """The outcomes of the sends to the clients of `accounts` (ids or a queryset of them;
    None: every account, which the index alone answers)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":  # JIT compiling these costs seconds, each
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        return _compute(period, accounts)


def _compute(period: Period, accounts) -> Outcomes:
    now = timezone.now()
    out = Outcomes(period=period)
    sent = _executed(period, accounts)
    shares = _share_counts(now)

    # One pass over the sends for three figures: grouped by day, type, delay asked and
    # lateness, at most days × 3 × 4 × 6 rows come back, and are summed up here.
    delay = ExpressionWrapper(F("scheduled_for") - F("created_at"), DurationField())
    late = ExpressionWrapper(F("executed_at") - F("scheduled_for"), DurationField())
    groups = (
        sent.annotate(
            day=TruncDate("executed_at"),
            delay=delay,
            delay_bucket=_buckets("delay", DELAY_BUCKETS),
            late=late,
            late_bucket=_buckets("late", LATENESS_BUCKETS),
        )
        .values("day", "action_type", "delay_bucket", "late_bucket")
        .annotate(n=Count("*"), **shares)
        .order_by()
    )
    out.sent_per_day = _per_day(groups, period, "action_type", ActionType.values)
    out.answered_by_type = {t: Share() for t in ActionType.values}
    out.answered_by_delay = {label: Share() for label, _ in DELAY_BUCKETS}
    out.lateness = dict.fromkeys((label for label, _ in LATENESS_BUCKETS), 0)
    for row in groups:
        shares_of = [out.answered_by_type[row["action_type"]]]
        if row["action_type"] == ActionType.FOLLOW_UP:
            shares_of.append(out.answered_by_delay[row["delay_bucket"]])
        for share in shares_of:
            share.settled += row["settled"]
            share.answered += row["answered_n"]
        out.lateness[row["late_bucket"]] += row["n"]

    by_hour = (
        sent.annotate(hour=LocalHour("executed_at", "prospect__time_zone"))
        .values("hour")
        .annotate(**shares)
        .order_by()
    )
    found = {row["hour"]: Share(row["settled"], row["answered_n"]) for row in by_hour}
    out.answered_by_hour = {hour: found.get(hour, Share()) for hour in range(24)}

    lost = (
        _of(
            accounts,
            status__in=[ActionStatus.MISSED, ActionStatus.FAILED],
            scheduled_for__gte=period.start,
            scheduled_for__lt=period.end,
        )
        .annotate(day=TruncDate("scheduled_for"))
        .values("day", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    out.missed_failed_per_day = _per_day(
        lost, period, "status", [ActionStatus.MISSED, ActionStatus.FAILED]
    )
    return out
