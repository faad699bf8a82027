"""Assembly: mentions found by RULES merge into expressions and alternatives."""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import Any

from ..fields import WEEKDAYS, ResolverInputError, Spec, validate
from .context import BOOKING, NIGHTS, PROPOSING, says_unavailable
from .grammar import RULES, Ctx, TagList, tag_class
from .model import DAY_KEYS, TIME_KEYS, Expr

# --- assembly -----------------------------------------------------------------------------------


def kind_of(fields: dict[str, Any]) -> str:
    if "vague" in fields:
        return "vague"
    if "duration_minutes" in fields:
        return "duration"
    return "day" if fields.keys() & DAY_KEYS else "time"


def slots_of(fields: dict[str, Any]) -> set[str]:
    """What a mention fixes: a day, a time of day, or a whole duration."""
    if "duration_minutes" in fields:
        return {"duration"}
    return {slot for slot, keys in (("day", DAY_KEYS), ("time", TIME_KEYS)) if fields.keys() & keys}


def spec_of(fields: dict[str, Any]) -> Spec | None:
    if "alternatives" not in fields:
        return _flat_spec(tuple(sorted(fields.items())))
    try:
        return validate(fields)
    except ResolverInputError:
        return None


@lru_cache(maxsize=4096)
def _flat_spec(items: tuple[tuple[str, Any], ...]) -> Spec | None:
    """Validation of fields without alternatives, memoised (a Spec is immutable)."""
    try:
        return validate(dict(items))
    except ResolverInputError:
        return None


def merged_fields(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """One time from two mentions that fit together; a field both name must agree ("at 730 in
    the evening, after dinner": dinner is the evening too)."""
    if any(a[key] != b[key] for key in a.keys() & b.keys()):
        return None
    if {kind_of(a), kind_of(b)} & {"vague", "duration"}:
        return None
    union = {**a, **b}
    for wide, narrow, inside in _NARROWED:
        if narrow == "day" and wide not in a:
            continue  # "14 февраля, созвонимся на следующей неделе" names two days
        if union.get(wide) and union.get(narrow, "") in inside:
            del union[wide]
            framed = a if wide in a else b
            if "bound" in framed and not framed.keys() & TIME_KEYS:
                del union["bound"]  # "после Нового года, числа 3-4": the day, not after it
    return union if spec_of(union) else None


# A span of days and a day inside it: the day is what the client means ("на выходных, в
# воскресенье", "в начале декабря, числа 2-го", "в конце недели, в пятницу").
_NARROWED = (
    ("days_ahead", "day", range(1, 32)),  # "завтра, 1 марта, в 11"
    ("weekend", "weekday", WEEKDAYS[5:]),
    ("month_part", "day", range(1, 32)),
    ("week_part", "weekday", WEEKDAYS),
    ("week_part", "day", range(1, 32)),  # "в конце недели, числа 5-го"
    ("week", "day", range(1, 32)),
    ("weekend", "day", range(1, 32)),
)


Hit = tuple[int, int, dict[str, Any], str]  # first token, end token, fields, first tag


def match_rules(tag_string: str, ctx: Ctx) -> list[Hit]:
    """All rule matches, longest first, without overlaps, in text order. A match's handler runs
    only if no longer match has taken its words."""
    matches = []
    present = {tag_class(tag) for tag in set(ctx.tags)}
    for order, rule in enumerate(RULES):
        if rule.anchors.isdisjoint(present):
            continue
        for m in rule.regex.finditer(tag_string):
            start, end = ctx.tokens(m)
            matches.append((start - end, start, order, end, m))
    chosen = []
    taken: set[int] = set()
    for _, start, order, end, m in sorted(matches, key=lambda match: match[:3]):
        if not taken.isdisjoint(range(start, end)):
            continue
        fields = RULES[order].handler(m, ctx)
        if fields is not None:
            taken.update(range(start, end))
            chosen.append((start, end, fields, m.group().split()[0]))
    return sorted(chosen, key=lambda hit: hit[0])


def build_mention(start: int, end: int, fields: dict[str, Any], lead: str) -> Expr:
    options = fields.get("alternatives", [fields])
    is_range = any(option.pop("_range", False) for option in options)  # see _date
    until = next((o.pop("_until") for o in options if "_until" in o), None)
    return Expr(options, start, end, lead, is_range, until=until)


# A fallback offered after a first choice: "если нет", "если не получится", "if not".
_OR_ELSE = re.compile(
    r"(?<![^ ])if (?:no|not (?:\S+ )?(?:can|convenient|ok)|not(?= ,| \||$))(?![^ ])"
)
_MERGE_GAP = {
    *("_", ",", "me", "and", "around", "hour", "at", "on"),
    *("contact", "convenient", "free", "ok", "lets", "if"),  # "во вторник, если удобно, в 11"
    "whattime",  # "сегодня во сколько удобно? я после 17"
    "in",  # "on Thursday in 3 p.m."
    "after",  # "tomorrow after church, like 1pm", "завтра после тренировки, часов в 7"
}


def _join(expr: Expr, nxt: Expr, gap: list[str], denied: bool) -> bool:
    """Fold `nxt` into `expr` if they belong together, as another option ("или", "or", a dash),
    as the end of a range (only the start counts), or merged into one time ("завтра" + "в 5");
    False keeps them apart. `denied`: `expr` follows a "не" ("не завтра, в четверг")."""
    if _OR_ELSE.search(" ".join(gap)):  # "Можно завтра? Если нет, то в понедельник"
        gap = ["or"]
    if "|" in gap:
        # "Завтра? Или в пятницу?" still offers options; "Обсудим в среду? Часов в 12?" adds
        # the time to the day
        adds_time = slots_of(expr.options[-1]) == {"day"} and slots_of(nxt.options[0]) == {"time"}
        narrows = gap == ["|"] and slots_of(nxt.options[0]) == {"day"} and _within_span(expr)
        if gap != ["|", "or"] and not ((adds_time or narrows) and gap.count("|") == 1):
            return False
        gap = [tag for tag in gap if tag != "|"]
    if denied and "day" in slots_of(expr.options[-1]) & slots_of(nxt.options[0]):
        return False  # "не завтра в четверг", "not tomorrow saturday"
    if gap == [","] and expr.options[-1].keys() & DAY_KEYS == {"days_ahead"}:
        # "завтра, 1 марта", "завтра, в воскресенье": one day named twice
        gap = [] if nxt.options[0].keys() & {"day", "weekday"} else gap
    kinds = {kind_of(expr.options[-1]), kind_of(nxt.options[0])}
    same = len(kinds) == 1 and "vague" not in kinds
    shared = bool(slots_of(expr.options[-1]) & slots_of(nxt.options[0]))
    dash = bool(gap) and set(gap) <= {"-", ","} and "-" in gap
    dates = same and all("day" in o for o in (expr.options[-1], nxt.options[0]))
    window = set(gap) <= {"and", ","} and nxt.lead in ("to", "before", "by")  # "после 11 и до 2"
    if shared and window:
        expr.is_range = dates  # "с 20 по 25 ноября" is a stay; "с пн по ср" just starts on Monday
    elif shared and (_offers(gap) or (dash and not dates) or (gap == ["and"])):
        expr.options.extend(nxt.options)
    elif same and kinds == {"day"} and dash:
        expr.is_range = dates
    elif kinds == {"day"} and set(gap) & {",", "contact"} and not _refines(expr, nxt, gap):
        return False
    elif len([tag for tag in gap if tag != ","]) <= 4 and set(gap) <= _MERGE_GAP:
        if len(nxt.options) == 1:
            merged = [merged_fields(expr.options[-1], nxt.options[0])]
            target = slice(len(expr.options) - 1, None)
        elif len(expr.options) == 1:
            merged = [merged_fields(expr.options[0], option) for option in nxt.options]
            target = slice(None)
        else:
            return False
        if None in merged:
            return False
        expr.options[target] = merged
    else:
        return False
    expr.end = nxt.end
    expr.until = nxt.until or expr.until
    return True


def _offers(gap: list[str]) -> bool:
    """Whether an "или"/"or" between two mentions makes them options: only fillers besides
    ("в эту пятницу или в следующую, заезд 15 января" offers no 15 January)."""
    return "or" in gap and len(gap) <= 4 and set(gap) <= _MERGE_GAP | {"or", "-"}


_SPANS = {"week", "week_part", "weekend", "month", "month_part", "year"}


def _refines(expr: Expr, nxt: Expr, gap: list[str]) -> bool:
    """Two days that name one day even across a comma: a week, weekend or month (or a part of
    one) and a day in it ("на следующей неделе, в среду или четверг", "на выходных, в субботу",
    "в начале декабря, числа 2-го"), or a weekday and a date ("в среду, 25-го")."""
    named = [option.keys() & DAY_KEYS for option in (expr.options[-1], nxt.options[0])]
    if any(keys and keys <= _SPANS for keys in named):
        return True
    # "в среду, 25-го", "Monday, Dec 7", but not "на 24-е число, позвоните в понедельник"
    dated = [keys - {"month", "year"} if "day" in keys else keys for keys in named]
    return sorted(map(sorted, dated)) == [["day"], ["weekday"]] and "contact" not in gap


def _within_span(expr: Expr) -> bool:
    """Whether a mention names a span of days (a week, a weekend, a month or a part of one)
    that a day named next can narrow, even in the next sentence: "this weekend? sat or sun",
    "На следующей неделе. В среду?"."""
    keys = expr.options[-1].keys() & DAY_KEYS
    return bool(keys) and keys <= _SPANS


# What an option of "X или Y" may take from its neighbours: (a key it must have, keys it must
# lack, keys it takes). A whole day or time of day ("в понедельник или вторник в 5"), or a
# qualifier of the day it names ("в четверг или пятницу на следующей неделе", "20 или 21 ноября").
_SHARED = (
    (None, DAY_KEYS, DAY_KEYS),
    (None, TIME_KEYS, TIME_KEYS | {"bound", "time_zone"}),
    ("hour", {"time_zone"}, {"time_zone"}),  # "в 5 или в 6 по мск"
    ("weekday", {"week", "weekday_modifier"}, {"week"}),
    ("day", {"month"}, {"month", "year"}),
)


def share_context(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each option takes what it lacks from its nearest neighbour that has it (the earlier one
    of two as near)."""
    if len(options) == 1:
        return [dict(options[0])]  # no neighbour
    donors = [
        [j for j, option in enumerate(options) if option.keys() & taken] for *_, taken in _SHARED
    ]
    result = []
    for i, option in enumerate(options):
        option = dict(option)
        for (having, lacking, taken), indices in zip(_SHARED, donors, strict=True):
            if (having and having not in option) or option.keys() & lacking or not indices:
                continue
            k = bisect_right(indices, i)
            j = indices[k - 1] if k else indices[0]
            if k < len(indices) and (not k or indices[k] - i < i - j):
                j = indices[k]
            option.update({key: v for key, v in options[j].items() if key in taken})
        result.append(option)
    return result


def group_mentions(exprs: list[Expr], tags: TagList) -> list[Expr]:
    """Join neighbouring mentions (_join). A vague wish between two of them is filler there
    ("завтра, в любое время после 11"); it stays a mention of its own."""
    vague = [expr for expr in exprs if kind_of(expr.options[0]) == "vague"]
    masked = list(tags)
    for expr in vague:
        masked[expr.start : expr.end] = ["_"] * (expr.end - expr.start)
    grouped: list[Expr] = []
    for expr in exprs:
        if kind_of(expr.options[0]) == "vague":
            continue
        gap = masked[grouped[-1].end : expr.start] if grouped else []
        apart = not grouped or _apart(grouped[-1], expr, gap, tags)
        denied = not apart and tags[grouped[-1].start - 1 : grouped[-1].start] == ["not"]
        if not apart and _join(grouped[-1], expr, gap, denied):
            continue
        grouped.append(expr)
    return sorted(grouped + vague, key=lambda e: e.start)


def _apart(expr: Expr, nxt: Expr, gap: list[str], tags: TagList) -> bool:
    """Whether two mentions stay apart whatever lies between them: a comma between a clause
    that says the client is busy (or talks about a trip) and one that does not ("созвонимся
    сегодня после 19:00, днём я на работе" is not "днём после 19:00", nor "я в самолёте до
    вечера, наберите завтра" "завтра до вечера"), or a sentence about a trip before a time
    ("Улетаем 19-го. Позвоните в 11" is not the 19th)."""
    if "|" in gap:
        return _about_booking(expr, tags)
    if "," not in gap or _OR_ELSE.search(" ".join(gap)):
        return False
    clauses = [tags[slice(*tags.clause(e.start, e.end))] for e in (expr, nxt)]
    busy = [says_unavailable(clause) for clause in clauses]
    # "вылет в 6, давайте в пн"; but "заехать 20-го пораньше, в 10 утра?" is one trip
    trip = bool(BOOKING & set(clauses[0])) and not BOOKING & set(clauses[1])
    return busy[0] != busy[1] or (trip and bool(PROPOSING & set(clauses[1])))


def _about_booking(expr: Expr, tags: TagList) -> bool:
    """Whether a mention's clause talks about a trip, a booking or the business."""
    clause = tags[slice(*tags.clause(expr.start, expr.end))]
    return bool(BOOKING & set(clause)) or bool(NIGHTS.search(" ".join(clause)))
