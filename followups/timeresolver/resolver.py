"""Entry points: words (or structured fields) + now + the client's zone -> Resolution."""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from .arithmetic import Outcome, compute, either
from .fields import ResolverInputError, get_zone, validate
from .parse import DROP_REASONS, Candidate, parse
from .result import Resolution, Status

DEFAULT_TZ = "Asia/Makassar"
# The longest text resolve_text reads: the listener's cap (BOT_MAX_INBOUND_CHARS, 4,000 by
# default) with room to spare; the cost grows linearly with the length up to it.
MAX_TEXT_LENGTH = 5000
# The years a `now` may fall in: the arithmetic reaches a few years either side of it, and
# the calendar ends at 1 and 9999.
NOW_YEARS = range(1900, 3000)
# Where "01/05" is 5 January: the zones of the United States (the client's locale is known
# only by their zone). Elsewhere a slashed date whose two numbers could both be the month is
# ambiguous.
MONTH_FIRST_ZONES = (
    *("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    *("America/Phoenix", "America/Anchorage", "America/Detroit", "America/Boise"),
    *("America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "America/Juneau"),
    *("America/Sitka", "America/Nome", "America/Adak", "America/Menominee", "Pacific/Honolulu"),
    *("US/",),
)
Span = tuple[int, int]


def local_now(now: datetime | str | None, zone: tzinfo) -> datetime:
    """`now` in the client's zone: None is the current time, a naive value is local to `zone`,
    a string is ISO 8601; ResolverInputError for anything else or a year outside NOW_YEARS."""
    if now is None:
        return datetime.now(zone)
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now)
        except ValueError as exc:
            shown = reprlib.repr(now)
            raise ResolverInputError(f"'now' is not an ISO 8601 timestamp: {shown}") from exc
    if not isinstance(now, datetime):
        shown = reprlib.repr(now)
        raise ResolverInputError(f"'now' must be a datetime or an ISO 8601 string, got {shown}")
    if now.year not in NOW_YEARS:
        raise ResolverInputError(
            f"'now' must fall in the years {NOW_YEARS[0]}-{NOW_YEARS[-1]}, got {now.isoformat()}"
        )
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


def _resolution(
    outcome: Outcome, span: Span | None = None, said: str = "", unused: tuple[str, ...] = ()
) -> Resolution:
    reason = f"'{said}': {outcome.reason}" if said else outcome.reason
    if unused and outcome.status == Status.OK:
        # half a sentence read: the best reading is only a guess, and the agent asks
        words = ", ".join(f"'{word}'" for word in unused)
        reason = f"{reason}; not read: {words}"
        outcome = Outcome(Status.AMBIGUOUS, fallback=outcome.when, reason=reason)
    return Resolution(
        status=outcome.status,
        when=outcome.when if outcome.status == Status.OK else None,
        fallback=outcome.fallback if outcome.status == Status.AMBIGUOUS else None,
        span=span,
        reason=reason,
        unused=unused,
    )


def resolve_fields(
    fields: Mapping[str, Any], now: datetime | str | None = None, tz: str | tzinfo = DEFAULT_TZ
) -> Resolution:
    """Resolve what an LLM extracted (see STRUCTURED_SCHEMA); ResolverInputError names a bad
    field."""
    moment = local_now(now, get_zone(tz))
    return _resolution(compute(validate(fields), moment))


def resolve_text(
    text: str, now: datetime | str | None = None, tz: str | tzinfo = DEFAULT_TZ
) -> Resolution:
    """Resolve a client's message. Pure and fast: no I/O, no network. ResolverInputError for
    a text that is not a string or is longer than MAX_TEXT_LENGTH characters."""
    if not isinstance(text, str):
        raise ResolverInputError(f"text must be a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ResolverInputError(
            f"text is {len(text):,} characters long; the resolver reads at most {MAX_TEXT_LENGTH:,}"
        )
    zone = get_zone(tz)
    moment = local_now(now, zone)
    parsed = parse(text, month_first=str(zone).startswith(MONTH_FIRST_ZONES))

    def said(span: Span) -> str:
        return text[span[0] : span[1]]

    live = [c for c in parsed.candidates if c.drop is None and not c.spec.vague]
    if live:
        return _choose(live, moment, said)
    if parsed.opt_out == "strong":
        return _opted_out(parsed.opt_out_span, said)
    vague = [c for c in parsed.candidates if c.drop is None and c.spec.vague]
    if vague:
        outcome = Outcome(Status.AMBIGUOUS, reason="a wish with no usable time")
        return _resolution(outcome, vague[0].span, said(vague[0].span))
    if parsed.opt_out == "soft":
        return _opted_out(parsed.opt_out_span, said)
    ruled_out = [c for c in parsed.candidates if c.drop in ("negated", "unavailable")]
    if ruled_out:
        first = ruled_out[0]
        outcome = compute(first.spec, moment)
        if outcome.status != Status.PAST:
            why = f"{DROP_REASONS[first.drop]}; no other time given"
            outcome = Outcome(Status.AMBIGUOUS, reason=why)
        return _resolution(outcome, first.span, said(first.span))
    if parsed.candidates:
        other = parsed.candidates[0]
        return Resolution(Status.NONE, reason=f"'{said(other.span)}': {DROP_REASONS[other.drop]}")
    return Resolution(Status.NONE, reason="no contact time")


def _opted_out(span: Span | None, said: Callable[[Span], str]) -> Resolution:
    return Resolution(Status.NONE, span=span, reason=f"opt-out: '{said(span)}'", opt_out=True)


_PREFERENCE = {Status.OK: 0, Status.AMBIGUOUS: 1, Status.PAST: 2, Status.NONE: 3}


def _choose(live: list[Candidate], now: datetime, said: Callable[[Span], str]) -> Resolution:
    """The best-supported times; a definite reading beats an unclear one and a future one a
    past one ("вчера не смог, давайте завтра", even when the past one has the stronger cue:
    "не получилось ответить вчера. Сегодня в 3 нормально?"); several different times left are
    alternatives."""
    outcomes = [(c, compute(c.spec, now)) for c in live]
    ahead = [(c, o) for c, o in outcomes if o.status != Status.PAST]
    outcomes = ahead or outcomes
    top = max(c.score for c, _ in outcomes)
    scored = [(c, o) for c, o in outcomes if c.score == top]
    best = min(_PREFERENCE[outcome.status] for _, outcome in scored)
    chosen = [(c, outcome) for c, outcome in scored if _PREFERENCE[outcome.status] == best]
    if len(chosen) == 1:
        candidate, outcome = chosen[0]
        return _resolution(outcome, candidate.span, said(candidate.span), _words(chosen))
    outcome = either([o for _, o in chosen], "several different times")
    span = (min(c.span[0] for c, _ in chosen), max(c.span[1] for c, _ in chosen))
    return _resolution(outcome, span, said(span), _words(chosen))


def _words(chosen: list[tuple[Candidate, Outcome]]) -> tuple[str, ...]:
    """The unused words of the chosen times that none of them reads (a word inside a time's
    span is read by it unless that time lists it: "text me Frid afternoon")."""
    unused = sorted({word for c, _ in chosen for word in c.unused})

    def read(word: tuple[int, str]) -> bool:
        return any(c.span[0] <= word[0] < c.span[1] and word not in c.unused for c, _ in chosen)

    return tuple(text for at, text in unused if not read((at, text)))
