"""Validated fields + now -> a contact time, by the rules of docs/TIME_CONVENTIONS.md.

Everything happens on the client's wall clock (`now` is aware, in their zone). Day-based
results are that calendar day at a wall-clock time; durations are added in absolute time, so
"через 2 часа" stays two real hours across a DST change.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .fields import WEEKDAYS, Spec
from .result import Status

DAY_DEFAULT = time(10)
PART_START = {
    "morning": time(10),
    "noon": time(12),
    "lunch": time(13),
    "afternoon": time(14),
    "towards_evening": time(17),
    "end_of_day": time(17),
    "evening": time(19),
}
# Until when "today <part of day>" is still going on (so "сегодня вечером" at 20:00 is not past).
PART_END = {
    "morning": time(12),
    "noon": time(13),
    "lunch": time(14),
    "afternoon": time(17),
    "towards_evening": time(19),
    "end_of_day": time(18),
    "evening": time.max,
}
_AFTER_PART = {
    "morning": "noon",
    "noon": "afternoon",
    "lunch": "afternoon",
    "afternoon": "towards_evening",
    "towards_evening": "evening",
    "end_of_day": "evening",
    "evening": "night",
}
_BEFORE_PART = {
    "noon": "morning",
    "lunch": "morning",
    "afternoon": "morning",
    "towards_evening": "afternoon",
    "evening": "towards_evening",
    "night": "evening",
}
_BY_PART = {"evening": "towards_evening"}
BEFORE_NOON = (11, 12, 13)  # "до 12", "before 1pm": the morning, like "до обеда"
TOMORROW_NIGHT_END = time(4)  # "завтра" said before this may mean "after I sleep"
AFTER_MIDNIGHT = "'tomorrow' said after midnight may mean after they sleep"
END_OF_WEEK_CUTOFF = time(12)  # "к концу недели" is ambiguous from Friday afternoon on
RECENT_PAST_DAYS = 14  # a date without a year this recent is "past", not next year's
WEEK_OFFSET = {"this": 0, "next": 1, "last": -1, "after_next": 2}  # the `week` field, in weeks


@dataclass(frozen=True)
class Outcome:
    status: Status
    when: datetime | None = None
    fallback: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Clock:
    time: time
    kind: str  # "explicit" (a clock time), "part" (a part of the day) or "default" (10:00)
    part: str | None = None


def _fmt(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


def _at(day: date, clock: time, tz) -> datetime:
    """Wall-clock time on a day; a time skipped by a DST change moves forward."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC).astimezone(tz)


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _hour24(hour: int, meridiem: str | None, part: str | None) -> int:
    if hour in (0, 24):
        return 0
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm" or hour > 12:
        return hour + 12 if hour < 12 else hour
    if part == "morning":
        return hour
    if part == "night":
        return 0 if hour == 12 else hour + 12 if hour >= 9 else hour
    if part in ("evening", "towards_evening"):
        return hour + 12 if hour < 12 else hour
    if part in ("afternoon", "lunch", "noon", "end_of_day"):
        return hour + 12 if hour <= 8 else hour
    return hour + 12 if hour <= 7 else hour


def _clock(spec: Spec, now: datetime) -> _Clock | None:
    """The time of day asked for; None for "at night", which is no contact time."""
    part = spec.part_of_day
    if part and spec.bound and spec.hour is None:
        table = {"after": _AFTER_PART, "before": _BEFORE_PART, "by": _BY_PART}[spec.bound]
        part = table.get(part, part)
    if spec.same_time:
        return _Clock(now.time().replace(second=0, microsecond=0), "explicit")
    if spec.hour is not None:
        hour = _hour24(spec.hour, spec.meridiem, part)
        if spec.bound == "before" and hour in BEFORE_NOON:
            return _Clock(PART_START["morning"], "part", "morning")  # "до 12" is the morning
        return _Clock(time(hour, spec.minute or 0), "explicit", part)
    if part == "night":
        return None
    if part:
        return _Clock(PART_START[part], "part", part)
    return _Clock(DAY_DEFAULT, "default")


def compute(spec: Spec, now: datetime) -> Outcome:
    """The outcome for validated fields; `now` is aware, in the client's zone."""
    if spec.alternatives:
        return either([compute(option, now) for option in spec.alternatives], "alternatives")
    if spec.vague:
        return Outcome(Status.AMBIGUOUS, reason="no usable time named")
    if spec.time_zone:
        return _on_other_clock(spec, now)
    outcome = _duration(spec, now) if spec.duration_minutes is not None else _calendar(spec, now)
    if spec.approximate and outcome.status == Status.OK:
        reason = f"{outcome.reason}; the amount was approximate"
        return Outcome(Status.AMBIGUOUS, fallback=outcome.when, reason=reason)
    return outcome


def _on_other_clock(spec: Spec, now: datetime) -> Outcome:
    """ "в 15 по мск": do the calendar work on that zone's clock, answer in the client's."""
    inner = compute(replace(spec, time_zone=None), now.astimezone(ZoneInfo(spec.time_zone)))
    if inner.reason == AFTER_MIDNIGHT and now.time() >= TOMORROW_NIGHT_END:
        # past midnight on that clock, but not on the client's: their "tomorrow" is plain
        inner = Outcome(Status.OK, inner.fallback, reason="+1 day(s)")

    def back(moment: datetime | None) -> datetime | None:
        return moment.astimezone(now.tzinfo) if moment else None

    reason = f"{inner.reason} ({spec.time_zone} clock)"
    return Outcome(inner.status, back(inner.when), back(inner.fallback), reason)


def either(outcomes: list[Outcome], why: str) -> Outcome:
    """Several readings: one answer if they agree, else ambiguous with the earliest as
    fallback."""
    whens = {o.when for o in outcomes}
    if all(o.status == Status.OK for o in outcomes) and len(whens) == 1:
        return outcomes[0]
    live = [o.when or o.fallback for o in outcomes if o.status in (Status.OK, Status.AMBIGUOUS)]
    live = [moment for moment in live if moment]
    if live:
        earliest = min(live)
        return Outcome(
            Status.AMBIGUOUS, fallback=earliest, reason=f"{why}; earliest {_fmt(earliest)}"
        )
    if all(o.status == Status.PAST for o in outcomes):
        return Outcome(Status.PAST, reason=f"{why}, all in the past")
    return Outcome(Status.AMBIGUOUS, reason=f"{why}, none usable")


def _duration(spec: Spec, now: datetime) -> Outcome:
    minutes = spec.duration_minutes
    moment = (now.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(now.tzinfo)
    moment = moment.replace(second=0, microsecond=0)
    if minutes < 0:
        return Outcome(Status.PAST, reason=f"{-minutes:g} min ago")
    return Outcome(Status.OK, moment, reason=f"now + {minutes:g} min")


def _calendar(spec: Spec, now: datetime) -> Outcome:
    if isinstance(spec.year, str):  # "в следующем году в марте"
        spec = replace(spec, year=now.year + (spec.year == "next"))
    if spec.year and spec.month is None:  # "в 2025 году" alone (validated)
        if spec.year < now.year:
            return Outcome(Status.PAST, reason=f"the year {spec.year} has gone")
        return Outcome(Status.AMBIGUOUS, reason=f"the year {spec.year} names no day")
    clock = _clock(spec, now)
    if clock is None:
        return Outcome(Status.AMBIGUOUS, reason="'at night' is not a contact time")
    if spec.bound == "before" and clock.kind == "explicit":
        return Outcome(Status.AMBIGUOUS, reason=f"'before {clock.time:%H:%M}' names no time")
    if spec.days_ahead is not None or spec.weeks_ahead or spec.months_ahead:
        return _relative(spec, now, clock)
    if spec.weekend:
        return _weekend(spec, now, clock)
    if spec.week_part:
        return _week_part(spec, now, clock)
    if spec.weekday_ordinal is not None:
        return _nth_weekday(spec, now, clock)
    if spec.day is not None:
        return _date(spec, now, clock)
    if spec.month_part:
        return _month_part(spec, now, clock)
    if spec.weekday is not None:
        return _weekday(spec, now, clock)
    if spec.month is not None:
        return _month(spec, now, clock)
    if spec.week:
        return _week(spec, now, clock)
    return _clock_only(now, clock)


def _on(day: date, now: datetime, clock: _Clock, spec: Spec | None, what: str) -> Outcome:
    """A named day at the requested time: ok if ahead, else past (or ambiguous if it is today
    and the words still have a meaning today). "after <day>" is the day after."""
    if spec and spec.bound == "after" and clock.kind == "default":
        day += timedelta(days=1)
        what = f"after {what}"
    if spec and spec.days_before:  # "за 2 дня до заезда 1 декабря", "the day after the 15th"
        day -= timedelta(days=spec.days_before)
        side = "before" if spec.days_before > 0 else "after"
        what = f"{abs(spec.days_before)} day(s) {side} {what}"
    moment = _at(day, clock.time, now.tzinfo)
    if moment > now:
        return Outcome(Status.OK, moment, reason=f"{what} → {_fmt(moment)}")
    if day == now.date():
        if clock.kind == "default":
            return Outcome(Status.AMBIGUOUS, reason=f"{what} is today and names no time")
        if clock.kind == "part" and now.time() < PART_END[clock.part]:
            return Outcome(Status.AMBIGUOUS, reason=f"{what}: the {clock.part} is under way")
    return Outcome(Status.PAST, reason=f"{what} → {_fmt(moment)} has passed")


def _next_slot(now: datetime, clock: _Clock) -> datetime:
    """The requested time today if still ahead, else tomorrow."""
    today = now.date()
    moment = _at(today, clock.time, now.tzinfo)
    return moment if moment > now else _at(today + timedelta(days=1), clock.time, now.tzinfo)


def _monday(day: date, weeks: int = 0) -> date:
    return day - timedelta(days=day.weekday() - 7 * weeks)


def _relative(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    if spec.weeks_ahead and spec.weekday is not None:  # "через 2 недели в пятницу"
        day = _monday(today, spec.weeks_ahead) + timedelta(days=spec.weekday)
        name = WEEKDAYS[spec.weekday].capitalize()
        return _on(day, now, clock, spec, f"{name} in {spec.weeks_ahead} week(s)")
    if spec.months_ahead:
        day, what = _add_months(today, spec.months_ahead), f"in {spec.months_ahead} month(s)"
    elif spec.weeks_ahead:
        day, what = today + timedelta(weeks=spec.weeks_ahead), f"in {spec.weeks_ahead} week(s)"
    else:
        day, what = today + timedelta(days=spec.days_ahead), f"{spec.days_ahead:+d} day(s)"
    outcome = _on(day, now, clock, spec, what)
    if spec.days_ahead == 1 and now.time() < TOMORROW_NIGHT_END and outcome.when:
        return Outcome(Status.AMBIGUOUS, fallback=outcome.when, reason=AFTER_MIDNIGHT)
    return _check_weekday(spec, now, clock, day, outcome)


def _check_weekday(spec: Spec, now: datetime, clock: _Clock, day: date, outcome: Outcome):
    """A date and a weekday named together must agree, else both readings stand."""
    if spec.weekday is None or day.weekday() == spec.weekday or outcome.status == Status.PAST:
        return outcome  # "Sunday, 10 Feb 2019" has gone, whatever its weekday
    by_weekday = _weekday(
        replace(spec, day=None, month=None, year=None, days_ahead=None), now, clock
    )
    return either([outcome, by_weekday], "the date and the weekday disagree")


def _weekday(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today, weekday = now.date(), spec.weekday
    name = WEEKDAYS[weekday].capitalize()
    relation = spec.week or spec.weekday_modifier
    if relation in ("this", "last") or spec.week in ("next", "after_next"):
        weeks = WEEK_OFFSET[relation]
        if relation == "this" and weekday < today.weekday() and today.weekday() >= 5:
            weeks = 1  # "в эту среду" said at the weekend: the coming week's
        day = _monday(today, weeks) + timedelta(days=weekday)
        return _on(day, now, clock, spec, f"{name} of {relation} week")
    if relation == "next":
        day = _monday(today, 1) + timedelta(days=weekday)
        outcome = _on(day, now, clock, spec, f"next {name}")
        if _monday(today) + timedelta(days=weekday) > today and outcome.when:
            why = f"'next {name}' may be this week's or next week's"
            return Outcome(Status.AMBIGUOUS, fallback=outcome.when, reason=why)
        return outcome
    ahead = (weekday - today.weekday()) % 7 or 7
    outcome = _on(today + timedelta(days=ahead), now, clock, spec, name)
    if ahead == 7 and outcome.when and now.time() < DAY_DEFAULT:
        why = f"{name} is today; said early in the morning it may mean today"
        return Outcome(Status.AMBIGUOUS, fallback=outcome.when, reason=why)
    return outcome


def _nth_in_month(weekday: int, nth: int):
    """pick(year, month) for the N-th (or, if -1, the last) weekday of a month; a day past
    the month's end when there is no such one (no fifth Monday)."""

    def pick(year: int, month: int) -> int:
        if nth > 0:
            return 1 + (weekday - date(year, month, 1).weekday()) % 7 + 7 * (nth - 1)
        last = calendar.monthrange(year, month)[1]
        return last - (date(year, month, last).weekday() - weekday) % 7 + 7 * (nth + 1)

    return pick


def _nth_weekday(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    """ "third tuesday of september", "в последнюю пятницу декабря"; without a month, the N-th
    such weekday from now ("через 3 пятницы", "2 thursdays ago")."""
    today, nth = now.date(), spec.weekday_ordinal
    name = WEEKDAYS[spec.weekday].capitalize()
    what = f"{name} #{nth}" + (" of the month" if spec.month is not None else " from now")
    if spec.month is None:
        if nth > 0:
            ahead = (spec.weekday - today.weekday()) % 7 or 7
            day = today + timedelta(days=ahead + 7 * (nth - 1))
        else:
            back = (today.weekday() - spec.weekday) % 7 or 7
            day = today - timedelta(days=back - 7 * (nth + 1))
        return _on(day, now, clock, spec, what)
    pick = _nth_in_month(spec.weekday, nth)
    if isinstance(spec.month, str):
        found = _valid_date(*_month_ref(spec.month, today), 1)
        found = _valid_date(found.year, found.month, pick(found.year, found.month))
    elif spec.year:
        found = _valid_date(spec.year, spec.month, pick(spec.year, spec.month))
    else:
        found = _yearless(spec.month, pick, now)
    if isinstance(found, Outcome):
        return found
    if found is None:
        return Outcome(Status.NONE, reason=f"{what}: no such day")
    return _on(found, now, clock, spec, what)


def _weekend(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    if spec.bound == "after" and clock.kind == "default":  # "после выходных": the Monday after
        return _week(replace(spec, weekend=False), now, clock)
    today = now.date()
    weeks = WEEK_OFFSET.get(spec.week)
    for offset in range(-7, 21):
        day = today + timedelta(days=offset)
        in_week = weeks is None or _monday(day) == _monday(today, weeks)
        if day.weekday() < 5 or not in_week or (weeks is None and offset < 0):
            continue
        moment = _at(day, clock.time, now.tzinfo)
        if moment > now:
            return Outcome(Status.OK, moment, reason=f"the weekend → {_fmt(moment)}")
    return Outcome(Status.PAST, reason="that weekend has passed")


_WEEK_AFTER = {None: "next", "this": "next", "next": "after_next"}


def _week(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    after = spec.bound == "after" and clock.kind == "default"  # not "... после обеда"
    if after and spec.week in _WEEK_AFTER:  # "после этой недели": the Monday after it
        spec = replace(spec, week=_WEEK_AFTER[spec.week], bound=None)
    if spec.week == "this":
        fallback = _next_slot(now, clock)
        return Outcome(Status.AMBIGUOUS, fallback=fallback, reason="'this week' names no day")
    what = "the week after next" if spec.week == "after_next" else f"{spec.week} week"
    return _on(_monday(today, WEEK_OFFSET[spec.week]), now, clock, spec, f"Monday of {what}")


def _week_part(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    offset = {"start": 0, "middle": 2, "end": 4}[spec.week_part]
    what = f"{spec.week_part} of the week"
    if spec.week:
        weeks = WEEK_OFFSET[spec.week]
        return _on(_monday(today, weeks) + timedelta(days=offset), now, clock, spec, what)
    day = _monday(today) + timedelta(days=offset)
    outcome = _on(day, now, clock, spec, what)
    if outcome.status == Status.OK:
        return outcome
    if spec.week_part != "end":
        return _on(day + timedelta(weeks=1), now, clock, spec, what)
    if day == today and clock.kind == "default" and now.time() < END_OF_WEEK_CUTOFF:
        end_of_day = _Clock(PART_START["end_of_day"], "part", "end_of_day")
        return _on(day, now, end_of_day, None, "Friday, end of the working day")
    fallback = _at(day + timedelta(weeks=1), clock.time, now.tzinfo)
    return Outcome(Status.AMBIGUOUS, fallback=fallback, reason="the end of this week has come")


def _valid_date(year: int, month: int, day: int) -> date | None:
    return date(year, month, day) if 1 <= day <= calendar.monthrange(year, month)[1] else None


def _first_valid(month: int, pick, years: range) -> date | None:
    return next((d for y in years if (d := _valid_date(y, month, pick(y, month)))), None)


def _yearless(month: int, pick, now: datetime) -> date | Outcome:
    """This year's date if still to come; a date that passed only days ago is past; else next
    year's (for Feb 29, the next leap year). `pick(year, month)` gives the day of the month."""
    today = now.date()
    day = _first_valid(month, pick, range(today.year, today.year + 9))
    if day and day < today:
        if (today - day).days <= RECENT_PAST_DAYS:
            return Outcome(Status.PAST, reason=f"{day:%d %b} has just passed")
        day = _first_valid(month, pick, range(today.year + 1, today.year + 9))
    return day or Outcome(Status.NONE, reason=f"no such date in month {month}")


def _month_ref(ref: int | str | None, today: date) -> tuple[int, int]:
    first = date(today.year, today.month, 1)
    shifted = _add_months(first, {"next": 1, "last": -1}.get(ref, 0))
    return shifted.year, shifted.month


def _date(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    what = f"day {spec.day}"
    if isinstance(spec.month, int):
        what = f"{spec.day} {calendar.month_abbr[spec.month]}"
        if spec.year:
            day = _valid_date(spec.year, spec.month, spec.day)
        else:
            day = _yearless(spec.month, lambda _y, _m: spec.day, now)
    elif spec.month is not None:
        day = _valid_date(*_month_ref(spec.month, today), spec.day)
    else:
        day = _next_day_of_month(spec.day, now)
    if isinstance(day, Outcome):
        return day
    if day is None:
        return Outcome(Status.NONE, reason=f"{what}: no such date")
    return _check_weekday(spec, now, clock, day, _on(day, now, clock, spec, what))


def _next_day_of_month(number: int, now: datetime) -> date:
    """The next "20-го": this month's if still to come, else the next month that has it."""
    today = now.date()
    this_month = _valid_date(today.year, today.month, number)
    if this_month and this_month >= today:
        return this_month
    for months in range(1, 13):
        first = _add_months(date(today.year, today.month, 1), months)
        day = _valid_date(first.year, first.month, number)
        if day:
            return day
    raise AssertionError("every day number exists in some month")


def _part_day(part: str):
    return lambda year, month: {
        "start": 1,
        "middle": 15,
        "end": calendar.monthrange(year, month)[1],
    }[part]


def _month_part(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    pick = _part_day(spec.month_part)
    what = f"{spec.month_part} of the month"
    if isinstance(spec.month, int):
        if spec.year:
            day = date(spec.year, spec.month, pick(spec.year, spec.month))
        else:
            day = _yearless(spec.month, pick, now)
        return day if isinstance(day, Outcome) else _on(day, now, clock, spec, what)
    if spec.month == "last":
        return Outcome(Status.PAST, reason=f"{what}, last month")
    year, month = _month_ref(spec.month, today)
    outcome = _on(date(year, month, pick(year, month)), now, clock, spec, what)
    if spec.month or outcome.status == Status.OK or spec.month_part == "end":
        return outcome
    year, month = _month_ref("next", today)
    return _on(date(year, month, pick(year, month)), now, clock, spec, what)


def _month(spec: Spec, now: datetime, clock: _Clock) -> Outcome:
    today = now.date()
    if spec.month == "last":
        return Outcome(Status.PAST, reason="last month")
    if spec.month == "next":
        year, month = _month_ref("next", today)
        return _on(date(year, month, 1), now, clock, spec, "start of next month")
    if spec.month == "this" or (spec.month == today.month and spec.year in (None, today.year)):
        fallback = _next_slot(now, clock)
        if fallback.month != today.month:
            fallback = None
        return Outcome(Status.AMBIGUOUS, fallback=fallback, reason="this month names no day")
    if spec.year:
        day = date(spec.year, spec.month, 1)
    else:
        day = _yearless(spec.month, lambda y, m: calendar.monthrange(y, m)[1], now)
        if isinstance(day, Outcome):
            return day
        day = day.replace(day=1)
    return _on(day, now, clock, spec, f"start of {calendar.month_name[spec.month]}")


def _clock_only(now: datetime, clock: _Clock) -> Outcome:
    """A time with no day: today if still ahead, else tomorrow ("by the end of the day" is
    today only)."""
    if clock.part == "end_of_day":
        return _on(now.date(), now, clock, None, "the end of the day")
    moment = _next_slot(now, clock)
    return Outcome(Status.OK, moment, reason=f"{clock.time:%H:%M}, the next one → {_fmt(moment)}")
