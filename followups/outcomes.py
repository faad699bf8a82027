"""Do follow-ups work? What was sent, how soon clients answered, how late the sends were, what
was missed or failed, over a period, for the admin's outcomes page.

Counted by the database (GROUP BY, never a loop over rows). A closed day (its figures can no
longer change) is summarized once into OutcomeCount rows (`roll_up`: the dispatcher's
housekeeping, and the page for the days it lacks); a period sums those, and counts the open
days (the last two or three) from the actions. The summary outlives the actions the
dispatcher's cleanup deletes."""

import functools
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from followups.models import (
    ActionStatus,
    ActionType,
    OutcomeCount,
    OutcomeDay,
    ScheduledAction,
)

ANSWER_WINDOW = timedelta(hours=24)
MAX_DAYS = 366  # the longest period a page covers
ONE_DAY = timedelta(days=1)
# A day is closed (summarized) once it ended this long ago: the 24 h for an answer to its last
# send, and a day for late status changes (retries failing, a missed run marked late).
CLOSED_AFTER = ANSWER_WINDOW + ONE_DAY
ROLL_UP_DAYS = 31  # the most days one roll_up summarizes (bounded work per call)
PAGE_ROLL_UP_DAYS = 31  # … when a page asks for days not summarized yet
ROLL_UP_LOCK = 0x6F7574636F6D65  # pg_advisory_xact_lock key: "outcome"
ALL = -1  # OutcomeCount's delay/late/hour of a row summed over it
LOST = (ActionStatus.MISSED, ActionStatus.FAILED)
# OutcomeCount's key after the zone: the columns the summary and the live counts group by.
GRAIN = ("day", "account_id", "status", "action_type", "delay", "late", "hour")

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
    """The index of the bucket a duration falls in."""
    whens = [When(**{f"{expression}__lt": bound}, then=Value(n)) for n, (_, bound) in
             enumerate(buckets[:-1])]  # fmt: skip
    return Case(*whens, default=Value(len(buckets) - 1), output_field=IntegerField())


def mark_answered(prospect, at: datetime) -> int:
    """The client wrote at `at`: it answers their sends of the 24 h before not yet answered."""
    return ScheduledAction.objects.filter(
        prospect=prospect,
        status=ActionStatus.EXECUTED,
        executed_at__lt=at,
        executed_at__gte=at - ANSWER_WINDOW,
        answered_at__isnull=True,
    ).update(answered_at=at)


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _between(field: str, days: list[date]) -> Q:
    """`field` within the given days (sorted): one range per run of consecutive days."""
    ranges = (
        Q(**{f"{field}__gte": _start(first), f"{field}__lt": _start(last + ONE_DAY)})
        for first, last in _runs(days)
    )
    return functools.reduce(operator.or_, ranges)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + ONE_DAY == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _of(accounts, *conditions, **lookups) -> QuerySet:
    """The actions matching the conditions, of those accounts' clients (ids or a queryset of
    Accounts; None: every account's)."""
    rows = ScheduledAction.objects.filter(*conditions, **lookups)
    return rows if accounts is None else rows.filter(prospect__account__in=accounts)


def _grouped(days: list[date], now: datetime, accounts=None) -> list[QuerySet]:
    """The actions of these days (of `accounts`' clients) at the summary's grain
    (OutcomeCount's columns, and `settled`: sends whose 24 h are over): per account, sends by
    type, delay and lateness; sends by type and the client's hour; missed and failed by type.
    GROUP BY in the database."""
    sent = _of(accounts, _between("executed_at", days), status=ActionStatus.EXECUTED)
    # Counted on a column of action_sent_idx (never null in a send), not on a joined one.
    settled = Q(executed_at__lte=now - ANSWER_WINDOW)
    counts = {
        "n": Count("*"),
        "settled": Count("executed_at", filter=settled),
        "answered": Count("executed_at", filter=settled & Q(answered_at__isnull=False)),
    }
    by_bucket = (
        sent.annotate(
            day=TruncDate("executed_at"),
            account_id=F("prospect__account_id"),
            delay_span=ExpressionWrapper(F("scheduled_for") - F("created_at"), DurationField()),
            delay=_buckets("delay_span", DELAY_BUCKETS),
            late_span=ExpressionWrapper(F("executed_at") - F("scheduled_for"), DurationField()),
            late=_buckets("late_span", LATENESS_BUCKETS),
            hour=Value(ALL),
        )
        .values(*GRAIN)
        .annotate(**counts)
    )
    by_hour = (
        sent.annotate(
            day=TruncDate("executed_at"),
            account_id=F("prospect__account_id"),
            delay=Value(ALL),
            late=Value(ALL),
            hour=LocalHour("executed_at", "prospect__time_zone"),
        )
        .values(*GRAIN)
        .annotate(**counts)
    )
    lost = (
        _of(accounts, _between("scheduled_for", days), status__in=LOST)
        .annotate(
            day=TruncDate("scheduled_for"),
            account_id=F("prospect__account_id"),
            delay=Value(ALL),
            late=Value(ALL),
            hour=Value(ALL),
        )
        .values(*GRAIN)
        .annotate(n=Count("*"), settled=Value(0), answered=Value(0))
    )
    return [rows.order_by() for rows in (by_bucket, by_hour, lost)]


def last_closed_day(now: datetime) -> date:
    """The last day whose figures can no longer change: its sends' 24 h for an answer are
    over, and a margin for late status changes (a failed retry, a missed run)."""
    return timezone.localdate(now - CLOSED_AFTER) - ONE_DAY


def _summarized(days: list[date]) -> set[date]:
    return set(
        OutcomeDay.objects.filter(
            time_zone=timezone.get_current_timezone_name(), day__gte=days[0], day__lte=days[-1]
        ).values_list("day", flat=True)
    )


def roll_up(now: datetime | None = None, *, period: Period | None = None,
            limit: int = ROLL_UP_DAYS) -> int:  # fmt: skip
    """Summarize up to `limit` closed days not yet summarized, the latest first: those of
    `period`, or any since the first action kept. One INSERT … SELECT … GROUP BY per chart
    grain for all of them, in one transaction; idempotent (a day is summarized once, and
    summarizing it again replaces its rows). Returns how many days it summarized."""
    now = now or timezone.now()
    last = last_closed_day(now)
    if period is not None:
        first, last = period.first, min(period.last, last)
    else:
        earliest = ScheduledAction.objects.filter(
            status__in=[ActionStatus.EXECUTED, ActionStatus.MISSED, ActionStatus.FAILED]
        ).aggregate(sent=Min("executed_at"), due=Min("scheduled_for"))
        moments = [m for m in earliest.values() if m is not None]
        if not moments:
            return 0
        first = timezone.localdate(min(moments))
    if first > last:
        return 0
    days = Period(first, last).days
    if not set(days) - _summarized(days):
        return 0  # the usual case: no lock taken, a page never waits on the dispatcher's
    with transaction.atomic():
        if connection.vendor == "postgresql":  # one summarizer at a time (dispatcher, pages)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLL_UP_LOCK])
                cursor.execute("SET LOCAL jit = off")
        done = _summarized(days)
        todo = sorted(day for day in days if day not in done)[::-1][:limit][::-1]
        if todo:
            _summarize(todo, now)
    return len(todo)


def _summarize(days: list[date], now: datetime) -> None:
    zone = timezone.get_current_timezone_name()
    OutcomeCount.objects.filter(time_zone=zone, day__in=days).delete()
    key = ", ".join(GRAIN)
    table = connection.ops.quote_name(OutcomeCount._meta.db_table)
    with connection.cursor() as cursor:
        for rows in _grouped(days, now):
            sql, params = rows.query.sql_with_params()
            cursor.execute(
                f"INSERT INTO {table} (time_zone, {key}, actions, answers) "
                f"SELECT %s, {key}, n, answered FROM ({sql}) AS grouped",
                [zone, *params],
            )
    OutcomeDay.objects.bulk_create(OutcomeDay(time_zone=zone, day=day) for day in days)


def compute(period: Period, accounts=None, now: datetime | None = None) -> Outcomes:
    """The period's figures for the clients of `accounts` (ids or a queryset of Accounts;
    None: every account): summed from the summary for its closed days (summarizing first,
    within a bound, those not yet done, for every account), counted from the actions for the
    others."""
    now = now or timezone.now()
    roll_up(now, period=period, limit=PAGE_ROLL_UP_DAYS)
    with transaction.atomic():
        if connection.vendor == "postgresql":  # JIT compiling these costs seconds, each
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        days = period.days
        summarized = _summarized(days)
        live = [day for day in days if day not in summarized]
        # Rows exist for summarized days only (written with their OutcomeDay).
        summary = OutcomeCount.objects.filter(
            time_zone=timezone.get_current_timezone_name(),
            day__gte=period.first,
            day__lte=period.last,
        )
        if accounts is not None:
            summary = summary.filter(account__in=accounts)
        per_day = summary.filter(hour=ALL).values("day", "status", "action_type", "hour")
        per_day = per_day.annotate(n=Sum("actions"))
        totals = summary.values("status", "action_type", "delay", "late", "hour").annotate(
            n=Sum("actions"), settled=Sum("actions"), answered=Sum("answers")
        )  # fmt: skip
        live_rows = [row for rows in _grouped(live, now, accounts) for row in rows] if live else []
        out = Outcomes(period=period)
        _add_per_day(out, [*per_day.order_by(), *live_rows])
        _add_totals(out, [*totals.order_by(), *live_rows])
        return out


def _add_per_day(out: Outcomes, rows) -> None:
    index = {day: n for n, day in enumerate(out.period.days)}
    out.sent_per_day = {t: [0] * len(index) for t in ActionType.values}
    out.missed_failed_per_day = {s: [0] * len(index) for s in LOST}
    for row in rows:
        if row["status"] == ActionStatus.EXECUTED:
            if row["hour"] == ALL:
                out.sent_per_day[row["action_type"]][index[row["day"]]] += row["n"]
        else:
            out.missed_failed_per_day[row["status"]][index[row["day"]]] += row["n"]


def _add_totals(out: Outcomes, rows) -> None:
    out.answered_by_type = {t: Share() for t in ActionType.values}
    out.answered_by_delay = {label: Share() for label, _ in DELAY_BUCKETS}
    out.answered_by_hour = {hour: Share() for hour in range(24)}
    out.lateness = dict.fromkeys((label for label, _ in LATENESS_BUCKETS), 0)
    for row in rows:
        if row["status"] != ActionStatus.EXECUTED:
            continue
        if row["hour"] != ALL:
            shares = [out.answered_by_hour[row["hour"]]]
        else:
            shares = [out.answered_by_type[row["action_type"]]]
            if row["action_type"] == ActionType.FOLLOW_UP:
                shares.append(out.answered_by_delay[DELAY_BUCKETS[row["delay"]][0]])
            out.lateness[LATENESS_BUCKETS[row["late"]][0]] += row["n"]
        for share in shares:
            share.settled += row["settled"]
            share.answered += row["answered"]
