"""Candidates, drop reasons and the mention record shared by every parse stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..fields import Spec

SEVERAL = 3  # "несколько дней": the fallback reading of "several"
# A message naming more times than this is read from shortly before the last of them (see
# find_expressions). The densest message of the corpus names 6 in 150 characters; a hostile one
# names hundreds, and the work per mention is large. The request is usually at the end.
MAX_MENTIONS = 50

DAY_KEYS = {
    "days_ahead",
    "weeks_ahead",
    "months_ahead",
    "weekday",
    "weekday_modifier",
    "week",
    "week_part",
    "weekend",
    "year",
    "month",
    "day",
    "month_part",
}
TIME_KEYS = {"hour", "minute", "meridiem", "part_of_day", "same_time"}


@dataclass(frozen=True)
class Candidate:
    """One time expression in the message, as validated fields. `drop` says why it is not a
    contact time: one of DROP_REASONS."""

    spec: Spec
    span: tuple[int, int]
    score: int
    drop: str | None
    unused: tuple[tuple[int, str], ...] = ()  # (offset, word): time-bearing, beside it, unread


DROP_REASONS = {
    "negated": "the client ruled this time out",
    "unavailable": "the client is unavailable then",
    "booking": "about a booking, a trip or the business, not a contact time",
    "reported": "a report of an earlier contact or visit, not a contact time",
    "replaced": "corrected by a later time",
    "worse": "the client prefers another time to this one",
    "lapse": "a date something else ends or holds until, not a contact time",
    "condition": "part of a condition about something else, not a contact time",
}


@dataclass(frozen=True)
class Parsed:
    candidates: tuple[Candidate, ...]
    opt_out: str | None  # "strong" (stop writing to me) or "soft" (not interested)
    opt_out_span: tuple[int, int] | None


@dataclass(eq=False)  # two mentions are the same only if they are one object
class Expr:
    options: list[dict[str, Any]]
    start: int  # token indices, end exclusive
    end: int
    lead: str = ""
    is_range: bool = False
    focus: tuple[int, int] | None = None  # where its clause is, if not at [start, end)
    replaced: bool = False  # a correction after it names another time
    until: dict[str, Any] | None = None  # the end of a range of hours ("с 9 до 11")
