"""Ellipsis and corrections: fragments complete the nearest mention; later times correct earlier."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from .assembly import kind_of, merged_fields, slots_of, spec_of
from .context import WELCOME, weigh
from .grammar import D12, NOT_COUNTED, UNIT_TAGS, Ctx, TagList, amount_fields, clock_fields
from .model import DAY_KEYS, TIME_KEYS, Expr

# --- ellipsis and corrections ------------------------------------------------------------------

# A fragment names no time alone; it completes the nearest earlier mention. It stands where the
# noun was left out: before the end of its clause or a verb ("напишите после", "давайте на
# следующих, ок?").
_ELIDED = (
    r"(?= (?:_ )?(?:\||,|or|and|contact|me|free|convenient|can|ok|lets|rather)(?![^ ])|(?: _)? ?$)"
)


def _after_that(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "я в отпуске до 5 декабря, напишите после", "busy till 5, call me after": the start
    of what the earlier mention ended."""
    if ref is None:
        return None
    if ref.until and len(ref.options) == 1:
        if WELCOME & set(tags[slice(*tags.clause(ref.start, ref.end))]):
            return None  # "с 10 до 12 свободна, потом занята": the window is the free time
        return [{**_only(ref.options[0], DAY_KEYS), **ref.until}], True  # "с 9 до 11 занята"
    options = [
        option if kind_of(option) == "duration" else {**option, "bound": "after"}
        for option in ref.options
    ]
    return options, True


def _after_window(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "я на серфинге до 6, потом наберите", "занят до пятницы, позже напишите": "later"
    after a window that ends means its end."""
    if ref and (
        ref.lead == "before" or ref.until or any(o.get("bound") == "before" for o in ref.options)
    ):
        return _after_that(m, ref, tags)
    return None


def _next_one(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "в эти выходные не получится, давайте на следующих", "в эту пятницу не могу, давайте в
    следующую": the same kind of day, next week (or month). A part named with it is its own:
    "до конца месяца в отпуске, напишите в начале следующего" is the start of next month."""
    option = ref.options[-1] if ref else {}
    part = m.group("part")
    if part is None and option.get("weekend"):
        return [{"weekend": True, "week": "next"}], False
    days = option.keys() & DAY_KEYS
    if "weekday" in option and days <= {"weekday", "weekday_modifier"}:
        # "в эту пятницу не могу, давайте в следующую" / "... в начале следующей (недели)"
        named = {"week_part": part} if part else {"weekday": option["weekday"]}
        return [{**named, "week": "next"}], False
    if "month_part" in option or ("month" in days and days <= {"month", "year"}):
        parts = {"month_part": part} if part else _only(option, {"month_part"})
        return [{**parts, **_month_after(option)}], False
    if "week" in option and not option.keys() & {"weekday", "weekend"}:
        parts = {"week_part": part} if part else _only(option, {"week_part"})
        return [{**parts, "week": "next"}], False
    return None


def _month_after(option: dict[str, Any]) -> dict[str, Any]:
    """The month after the one named: "в декабре не получится, давайте в следующем" is
    January; after "this month" or a part of one, next month."""
    month, year = option.get("month"), option.get("year")
    if not isinstance(month, int) or isinstance(year, str):
        return {"month": "next"}
    after = {"month": month % 12 + 1}
    return {**after, "year": year + (month == 12)} if year else after


def _part_of_it(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "в декабре, где-то в середине", "на следующей неделе, ближе к концу": a part of the
    month or week just named."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    part, days = m.group("part"), option.keys() & DAY_KEYS
    if days and days <= {"month", "year"}:
        return [{**option, "month_part": part}], True
    if days == {"week"}:
        return [{**option, "week_part": part}], True
    return None


def _same_unit(m: re.Match[str], ref: Expr | None, tags: TagList):
    """A bare number counts what the mention before it counted: "через 2 часа не смогу,
    давайте через 3" is 3 hours, "в 3, хотя нет, в 4" / "at 3, actually 4" a clock time.
    After "через" with nothing before it, minutes ("перезвони через 20")."""
    amount = float(m.group("n"))
    option = ref.options[-1] if ref else {}
    if option.keys() & _AMOUNT_KEYS:
        unit = next((tag for tag in tags[ref.start : ref.end] if tag in UNIT_TAGS), None)
        if unit:
            return [amount_fields(amount, unit)], False
    if m.group("corr"):
        fields = clock_fields(int(amount), 0, None, None) if "hour" in option else None
        return ([fields], False) if fields else None
    return ([{"duration_minutes": amount}], False) if 5 <= amount < 60 else None


_AMOUNT_KEYS = {"duration_minutes", "days_ahead", "weeks_ahead", "months_ahead"}


def _week_after(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "lets talk the week after": the week after the one just named, or next week if none
    was (the client means the present one)."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    if not option:
        return [{"week": "next"}], False
    if option.keys() & DAY_KEYS == {"week"} and option["week"] in ("this", "next"):
        return [{"week": {"this": "next", "next": "after_next"}[option["week"]]}], True
    return None


def _days_before(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "прилетаем 1 декабря, напишите за пару дней до прилёта", "за неделю до вылета 12
    января", "call me the day before": that many days before the day named."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    if "bound" in option or not option.keys() & {"day", "weekday", "days_ahead"}:
        return None
    days = int(m.group("n") or 1) * (7 if m.group("u") == "week" else 1)
    return [{**_only(option, DAY_KEYS), "days_before": days}], True


def _day_after(m: re.Match[str], ref: Expr | None, tags: TagList):
    """ "прилетаем 20-го, на следующий день наберите", "call me the day after": the day after
    the day just named."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    if "bound" in option or not option.keys() & {"day", "days_ahead", "weekday"}:
        return None
    return [{**_only(option, DAY_KEYS), "bound": "after"}], True


def _only(option: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in option.items() if k in keys}


# (pattern, handler, whether the mention referred to may come right after: "за неделю до
# вылета 12 января").
_FRAGMENTS = [
    (
        re.compile(rf"(?<![^ ])(?:on )?(?:next (?:day|dayg)|(?:day|dayg) after){_ELIDED}"),
        _day_after,
        False,
    ),
    (
        re.compile(r"(?<![^ ])(?:(?P<n>\d{1,3}) )?(?P<u>day|dayg|week)(?= before)"),
        _days_before,
        True,
    ),
    (re.compile(rf"(?<![^ ])week after{_ELIDED}"), _week_after, False),
    (re.compile(rf"(?<![^ ])after(?: this)?{_ELIDED}"), _after_that, False),  # not "after church"
    (re.compile(rf"(?<![^ ])later{_ELIDED}"), _after_window, False),
    (
        re.compile(
            r"(?<![^ ])(?:(?:on|at|in|to|toward|by) )?(?:(?P<part>start|middle|end) )?"
            rf"(?:next|nearest){_ELIDED}"
        ),
        _next_one,
        False,
    ),
    (
        re.compile(
            r"(?<![^ ])(?:around )?(?:on|at|in|toward|by|to) (?:around )?"
            rf"(?P<part>start|middle|end){_ELIDED}"
        ),
        _part_of_it,
        False,
    ),
    (
        re.compile(
            rf"(?<![^ ])(?:(?:in|give(?: me)?) (?:around )?|(?P<corr>rather)(?: ,| _){{0,2}} )"
            rf"(?P<n>{D12}){NOT_COUNTED}(?! (?:-|or|to|and \d|\d|wd))"
        ),
        _same_unit,
        False,
    ),
]


_BEFORE_GAP = {"before", "event", "_", ","}


def _named_after(expr: Expr, end: int, tags: list[str], reach: int) -> bool:
    """Whether `expr` is the day a "before" at `end` refers to: "за неделю до (вылета) 12
    января". Only the words of that construction stand between them, up to `reach`."""
    if expr.start <= end:
        return expr.lead == "before"
    return expr.start <= reach and "before" in tags[end : expr.start]


def _reference(exprs: list[Expr], start: int, end: int, forward: bool, ctx: Ctx) -> Expr | None:
    """The mention a fragment at [start, end) completes: the nearest earlier one, unless it
    may refer forward (see _FRAGMENTS) or names its event."""
    if forward:
        tags, reach = ctx.tags, end
        while reach < len(tags) and tags[reach] in _BEFORE_GAP:
            reach += 1
        ref = next((e for e in exprs if _named_after(e, end, tags, reach)), None)
        if ref := ref or _same_event(exprs, start, end, ctx):
            return ref
    return next((e for e in reversed(exprs) if e.end <= start), None)


def _same_event(exprs: list[Expr], start: int, end: int, ctx: Ctx) -> Expr | None:
    """The earlier mention of the event a "before" names: in "прилетаем 1 декабря, улетаем
    15-го, напишите за пару дней до прилёта" the arrival, not the nearer departure."""
    toks = ctx.toks
    after = toks[end + 1] if end + 1 < len(toks) and toks[end].tag == "before" else None
    if after is None or after.tag != "event":
        return None
    for expr in reversed([e for e in exprs if e.end <= start]):
        left, right = ctx.tags.clause(expr.start, expr.end)
        if any(tok.text[:5] == after.text[:5] for tok in toks[left:right]):
            return expr
    return None


def complete_ellipses(exprs: list[Expr], tag_string: str, ctx: Ctx) -> list[Expr]:
    """Fill in what the client left out, from the nearest earlier mention: fragments (see
    _FRAGMENTS), then corrections (_corrected)."""
    tags = ctx.tags
    solid = [expr for expr in exprs if kind_of(expr.options[0]) != "vague"]
    vague_at = {
        i: e for e in exprs if kind_of(e.options[0]) == "vague" for i in range(e.start, e.end)
    }
    taken = {i for expr in solid for i in range(expr.start, expr.end)}
    for regex, handler, forward in _FRAGMENTS:
        for m in regex.finditer(tag_string):
            start, end = ctx.tokens(m)
            if taken.intersection(range(start, end)):
                continue
            ref = _reference(solid, start, end, forward, ctx)
            completed = handler(m, ref, tags)
            if completed is None:
                continue
            for i in range(start, end):
                if word := vague_at.get(i):
                    exprs.remove(word)  # "до 6, потом наберите": "потом" is no vague wish here
                    for j in range(word.start, word.end):
                        del vague_at[j]
            options, absorbs = completed
            # "за 2 дня до отъезда": the words of the construction, not a booking
            construction = ("before", "event")
            while forward and end < len(tags) and tags[end] in construction and end not in taken:
                end += 1
            if absorbs:  # the mention referred to was only the reference point
                exprs.remove(ref)
                solid.remove(ref)
                span = min(ref.start, start), max(ref.end, end)
                expr = Expr(options, *span, focus=(start, end))
            else:
                expr = Expr(options, start, end)
            exprs.append(expr)
            solid.append(expr)
            taken.update(range(start, end))
    exprs.sort(key=lambda e: e.start)
    moving = "move" in tags
    for earlier, later in pairwise(exprs):
        # "в среду, нет, лучше в четверг", "at 3, actually 4", "перенести с 16:00 на 18:00"
        gap = tags[earlier.end : later.start]
        slip = "no" in gap and set(gap) <= {",", "|", "-", "_", "no"}  # "в пн, ой нет, во вт"
        corrected = "rather" in gap or tags[later.start] == "rather" or slip
        corrected = corrected and tags[later.start - 1] != "than"  # "better than Monday"
        onto = later.lead == "on" or tags[later.start - 1] == "on"
        moved = earlier.lead == "from" and onto and moving
        earlier.replaced = (corrected or moved) and not any(  # a trip is not corrected
            weigh(e, tags)[1] == "booking" for e in (earlier, later)
        )
        _corrected(earlier, later, tags)
    return exprs


# What a replacing mention keeps from the one it replaces: (the keys it names, alone, and the
# keys it then takes). A clock time keeps the day, a weekday the week, a date the month.
_KEPT = (
    (TIME_KEYS, DAY_KEYS),
    ({"weekday"}, {"week"}),
    ({"day"}, {"month", "year"}),
)


def _corrected(earlier: Expr, later: Expr, tags: TagList) -> None:
    """A mention that replaces an earlier one keeps the wider frame it does not name: "завтра
    в 5 не могу, давайте в 6" is tomorrow 18:00, "на следующей неделе в среду не получится,
    давайте в четверг" next week's Thursday. A bare hour close to the replaced one keeps its
    part of the day too ("в 7 вечера, хотя нет, в 8" is 20:00). It replaces it after a
    correction word or a ruled-out time."""
    if len(earlier.options) != 1 or len(later.options) != 1:
        return
    old, new = earlier.options[0], later.options[0]
    if earlier.replaced and not slots_of(old) & slots_of(new):
        merged = merged_fields(old, new)  # "в понедельник удобно, лучше в 10": it only adds a time
        if merged:
            later.options[0] = merged
        return
    named = set(new) - {"bound"}
    kept = next((keys for alone, keys in _KEPT if named <= alone and alone & old.keys()), None)
    if kept is None or not named:
        return
    inherited = _only(old, kept)
    bare_hour = "hour" in new and not new.keys() & {"part_of_day", "meridiem"}
    if bare_hour and "hour" in old and abs(old["hour"] % 12 - new["hour"] % 12) <= 2:
        inherited.update(_only(old, {"part_of_day", "meridiem"}))
    if not inherited:
        return
    if earlier.replaced or weigh(earlier, tags)[1] in ("negated", "unavailable"):
        merged = {**inherited, **new}
        if spec_of(merged):
            later.options[0] = merged
