"""Text -> candidate contact times, each as fields of the structured schema (fields.py).

1. lexicon.tokenize turns the message into language-neutral tags.
2. RULES, regular expressions over the tag string, find time mentions (a duration, a day, a
   clock time, a part of the day ...); each handler turns its match into schema fields.
3. Neighbouring mentions that fit together merge ("завтра" + "после 3"); mentions joined by
   "или"/"or" become alternatives; "с понедельника по среду" keeps the start. A message typed
   without punctuation gets the clause breaks it lacks ("завтра не могу давай в среду"), and
   steps 2-3 run again on it.
4. Each expression is weighed in its clause: a contact verb raises it; a booking, an arrival or
   "3 ночи" (nights) marks it as something else; "не" or "занят" rules it out.
Numbers only become times inside these frames, so prices, guests and phone numbers stay out.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import accumulate, pairwise
from typing import Any

from .fields import WEEKDAYS, ResolverInputError, Spec, validate
from .lexicon import Tok, cut_short, names_time, time_form, tokenize
from .vocabulary import FULL_DAYS, ORDINAL_WORDS, ROUND_THE_CLOCK

SEVERAL = 3  # "несколько дней": the fallback reading of "several"
# A message naming more times than this is read from shortly before the last of them (see
# _expressions). The densest message of the corpus names 6 in 150 characters; a hostile one
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


# --- grammar -----------------------------------------------------------------------------------

NUM = r"\d+(?:\.\d+)?"
D12 = r"\d{1,2}"
HOUR = rf"(?:{D12}|noon|midnight)"
PARTS = r"(?:morning|afternoon|evening|night)"  # an hour a minute phrase counts from
UNIT_TAGS = ("min", "hour", "day", "dayg", "week", "month", "year")
UNIT = f"(?:{'|'.join(UNIT_TAGS)})"
# At most four ("где-то около после 5"): a longer run would cost quadratic time to scan.
PREPS = r"(?:(?:at|around|by|after|before|from|between|toward) ){1,4}"
MER = r"(?:am|pm|morning|afternoon|evening|dayg|night|oclock)"
DAYPRE = r"(?:(?P<pre>(?:day |dayg )?after|on|at|by|before|from|to|toward) )?"
# A number followed by one of these counts something else ("в 5 минутах", "в 2 раза").
NOT_COUNTED = (
    r"(?! (?:cnt|cur|nights|night|min|hour|day|dayg|week|month|year|date|times|big|sec|mo\d+"
    r"|\d+th)(?![^ ]))"  # a whole tag: "в 10 утра послезавтра" counts no days
)


# A clause or sentence reaches at most this many tags either side of the words it is sought
# for. No chat message has a clause that long (the corpus's longest message has 43 tags); the
# bound keeps the work of weighing every time in its clause linear in the message.
_REACH = 64
_MARKS = ("|", ",")


class _Tags(list[str]):
    """A message's tags, with its clause boundaries computed once."""

    def __init__(self, tags: list[str]) -> None:
        super().__init__(tags)
        self._bounds: dict[tuple[str, ...], tuple[list[int], list[int]]] = {}

    def clause(self, start: int, end: int, stops: tuple[str, ...] = _MARKS) -> tuple[int, int]:
        """The clause around self[start:end]: out to the nearest comma or sentence end (or
        other `stops`), at most _REACH tags either way."""
        if stops not in self._bounds:
            self._bounds[stops] = self._boundaries(stops)
        opening, closing = self._bounds[stops]
        return max(opening[start], start - _REACH), min(closing[end], end + _REACH)

    def _boundaries(self, stops: tuple[str, ...]) -> tuple[list[int], list[int]]:
        """For each position 0..len, where the clause around it opens (after the stop before
        it) and where it closes (at the stop from it on)."""
        opening: list[int] = []
        closing: list[int] = []
        start = 0
        for stop in [i for i, tag in enumerate(self) if tag in stops]:
            opening += [start] * (stop + 1 - start)
            closing += [stop] * (stop + 1 - start)
            start = stop + 1
        opening += [start] * (len(self) + 1 - start)
        closing += [len(self)] * (len(self) + 1 - start)
        return opening, closing

    @cached_property
    def words(self) -> int:
        """How many tags are not commas or sentence ends."""
        return sum(tag not in _MARKS for tag in self)


@dataclass
class _Ctx:
    """The tokens of a message, their tags and where each tag starts in the tag string."""

    toks: list[Tok]
    tags: _Tags
    tag_index: dict[int, int]
    month_first: bool = False  # "01/05" is 5 January where the client lives (the US)

    @classmethod
    def of(cls, toks: list[Tok], month_first: bool = False) -> _Ctx:
        tag_index, offset = {}, 0
        for i, tok in enumerate(toks):
            tag_index[offset] = i
            offset += len(tok.tag) + 1
        return cls(toks, _Tags([tok.tag for tok in toks]), tag_index, month_first)

    def tokens(self, m: re.Match[str], group: str | int = 0) -> tuple[int, int]:
        """The [first, last + 1) token indices a match (or one of its groups) covers."""
        last_tag = m.group(group).split()[-1]
        return self.tag_index[m.start(group)], self.tag_index[m.end(group) - len(last_tag)] + 1

    def texts(self, m: re.Match[str], group: str) -> list[str]:
        """The normalised words under a group of a match."""
        return [tok.text for tok in self.toks[slice(*self.tokens(m, group))]]


Handler = Callable[[re.Match[str], _Ctx], dict[str, Any] | None]


def _amount_fields(amount: float, unit: str, extra_minutes: float = 0) -> dict[str, Any]:
    """An amount of a unit from now: minutes and hours exactly, days and longer by the
    calendar (fractions of those fall back to the next finer unit)."""
    if unit in ("min", "hour"):
        return {"duration_minutes": amount * (60 if unit == "hour" else 1) + extra_minutes}
    if unit in ("day", "dayg"):
        whole = amount.is_integer()
        return {"days_ahead": int(amount)} if whole else {"duration_minutes": amount * 1440}
    if unit == "week":
        whole = amount.is_integer()
        return {"weeks_ahead": int(amount)} if whole else {"days_ahead": round(amount * 7)}
    months = amount * 12 if unit == "year" else amount
    whole = months.is_integer()
    return {"months_ahead": int(months)} if whole else {"days_ahead": round(months * 30)}


_FRACTIONS = {"half": 0.5, "quarter": 0.25}


def _duration(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    unit, pre, number = g["u"], g.get("pre"), g.get("n")
    if pre == "after" and ctx.texts(m, "pre") == ["после"] and unit == "hour" and number:
        # "после 2 часов" is after two o'clock, not two hours from now
        return _clock_fields(int(number), 0, None, "after") if number.isdigit() else None
    if g.get("next") and number is None:
        if pre == "after":
            return None  # "после следующей недели" is a week, not a wait (see _week)
        pre = "within" if pre == "in" else pre  # "in the next week": some time during it
    if pre == "within" and number is None and unit not in ("min", "hour"):
        return {"vague": True}
    approximate = number == "several"
    amount = float(SEVERAL if approximate else number or 1)
    amount *= _FRACTIONS.get(g.get("half"), 1)  # "a half hour", "a quarter of an hour"
    amount += _FRACTIONS.get(g.get("plushalf") or g.get("half2"), 0)  # "час с четвертью"
    extra = float(g.get("n3") or g.get("n3b") or 0)
    sign = -1 if g.get("ago") else 1
    options = [amount]
    for sep, other in ((g.get("sep"), g.get("n2")), (g.get("sep2"), g.get("n4"))):
        if sep == "or" and other:
            options.append(float(other))
    scale = 1
    if unit == "day" and ctx.texts(m, "u")[-1] in FULL_DAYS:
        unit, scale = "hour", 24
    fields = [_amount_fields(sign * option * scale, unit, sign * extra) for option in options]
    if len(fields) > 1:
        return {"alternatives": fields}
    return {**fields[0], "approximate": True} if approximate else fields[0]


def _unit_first(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "через минут 20" is 20 minutes, but "через час 15" is an hour and a quarter."""
    amount = float(m.group("n"))
    if m.group("u") == "hour" and ctx.texts(m, "u")[0] in ("час", "hour"):
        return {"duration_minutes": 60 + amount}
    return _amount_fields(amount, m.group("u"))


_WAIT_CUES = {"contact", "free", "give", "need", "still"}


def _bare_wait(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "5 минут и наберу", "минут 10 и я свободна", "brb 10 min", or just "15 min?": minutes
    or hours with no "через" are a wait only next to a word that says so, or alone; otherwise
    they are a length ("40 минут до аэропорта?")."""
    tags = ctx.tags
    start, end = ctx.tokens(m)
    left, right = tags.clause(start, end)
    amount, unit = float(m.group("n") or m.group("n2")), m.group("u") or m.group("u2")
    alone = unit == "min" and tags.words == sum(t not in _MARKS for t in tags[start:end])
    if not (alone or _WAIT_CUES & set(tags[left:start] + tags[end:right])):
        return None  # alone, "2 часа" may be a clock time as well
    return _amount_fields(amount, unit)


def _bound(pre: str | None) -> dict[str, str]:
    words = (pre or "").split()
    if "after" in words:
        return {"bound": "after"}
    if "before" in words and "from" not in words:
        return {"bound": "before"}
    return {}


_MERIDIEM_FIELDS: dict[str, dict[str, str]] = {
    "oclock": {},
    "am": {"meridiem": "am"},
    "pm": {"meridiem": "pm"},
    "morning": {"part_of_day": "morning"},
    "afternoon": {"part_of_day": "afternoon"},
    "dayg": {"part_of_day": "afternoon"},
    "evening": {"part_of_day": "evening"},
    "night": {"part_of_day": "night"},
}


def _clock_fields(
    hour: int, minute: int, mer: str | None, pre: str | None, zero: bool = False
) -> dict[str, Any] | None:
    """`zero`: the hour was written with a leading zero ("07:30"), so on the 24-hour clock."""
    if not (0 <= hour <= 24 and 0 <= minute <= 59):
        return None
    fields: dict[str, Any] = {"hour": hour}
    if minute:
        fields["minute"] = minute
    if mer:
        fields.update(_MERIDIEM_FIELDS[mer])
    elif zero and hour < 12:
        fields["meridiem"] = "am"  # "07:30": a leading zero means the 24-hour clock
    return {**fields, **_bound(pre)}


def _split_hm(text: str) -> tuple[int, int, bool]:
    """ "07:30" -> (7, 30, leading zero)."""
    hour, _, minute = text.partition(":")
    return int(hour), int(minute or 0), len(hour) == 2 and hour.startswith("0")


def _clock_range(first, second, sep: str | None, pre: str | None) -> dict[str, Any] | None:
    """ "с 3 до 5" and "в 2-3 дня" start at the first; "в 3 или 4" are alternatives."""
    if first is None or (sep and second is None):
        return None
    if sep in ("or", "and") and "between" not in (pre or ""):
        return {"alternatives": [first, second]}
    if second and sep in ("-", "to", "before"):
        # the end, taken off in _find: "с 9 до 11 занята, потом наберите" is 11:00
        return {**first, "_until": {k: v for k, v in second.items() if k != "bound"}}
    return first


def _clock(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    pre, mer, mer2 = g.get("pre"), g.get("mer"), g.get("mer2")
    if g.get("h3"):
        hour, minute, zero, mer = int(g["h3"]), 0, False, g["mer3"]
    else:
        hour, minute, zero = _split_hm(g.get("hm") or g.get("h") or "1")  # "в час" is one
        minute = minute or int(g.get("m") or 0)
    h2 = g.get("h2") or ""
    if g.get("sep") == "-" and len(h2) == 2 and not g.get("m") and (h2 == "00" or int(h2) > 24):
        return _clock_fields(hour, int(h2), mer or mer2, pre, zero)  # "в 8-30" is 8:30
    second = None
    if g.get("hm2") or g.get("h2"):
        hour2, minute2, zero2 = _split_hm(g.get("hm2") or g["h2"])
        second = _clock_fields(hour2, minute2, mer2 or mer, None, zero2)
        if hour % 12 > hour2 % 12:
            mer2 = None  # "с 10 до 6 вечера": the evening is the end's, 10 is in the morning
    first = _clock_fields(hour, minute, mer or mer2, pre, zero)
    return _clock_range(first, second, g.get("sep"), pre)


_FRACTION_MINUTES = {"half": 30, "quarter": 15}


def _moved_to(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "перенести (звонок) на 5", "перенесём на завтра на 5?", "push it to 4": after a word
    for moving, "на"/"to" and a number is a clock time, not a count."""
    start, _ = ctx.tokens(m)
    tags = ctx.tags
    if "move" not in tags[tags.clause(start, start)[0] : start]:
        return None
    return _clock(m, ctx)


_NAMED_HOURS = {"noon": 12, "midnight": 24}


def _spelt_minutes_to(m: re.Match[str], ctx: _Ctx) -> bool:
    """ "twenty to six": minutes spelt out before an English "to", with no "from" before them
    ("from five to six" is a range); or minutes counted ("20 min to 6")."""
    first, end = ctx.tokens(m)
    words = ctx.toks[first:end]
    if any(tok.tag == "min" for tok in words):
        return True
    spelt = words[0].text.isalpha() and words[1].text == "to"
    return spelt and (first == 0 or ctx.toks[first - 1].tag not in ("from", "between"))


def _clock_fraction(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "половина десятого" 9:30, "четверть пятого" 4:15, "в начале шестого" and "в шестом
    часу" 5:00 (of the hour that is running), "без пятнадцати три" 2:45, "half past 3",
    "quarter to 5"; the British "half 7" is 7:30, the Russian "пол 7" 6:30."""
    g = m.groupdict()
    if g.get("running") and ctx.texts(m, "running") != ["часу"]:
        return None  # "25-го часа в 4" is no hour of the clock
    named = g["h"] or "1"  # "без пяти час"
    hour, op, amount = _NAMED_HOURS.get(named) or int(named), g.get("op"), g.get("q")
    if op == "to" and amount.isdigit() and not _spelt_minutes_to(m, ctx):
        return None  # "5 to 6", "с 5 по 6" are ranges
    if g.get("q") and ctx.texts(m, "q") == ["half"]:
        op = "past"
    op = {"after": "past", "from": "past", "and": "past", "before": "to"}.get(op, op)
    minutes = int(amount) if amount and amount.isdigit() else _FRACTION_MINUTES.get(amount, 0)
    if op == "past":
        return _clock_fields(hour % 24, minutes, g.get("mer"), g.get("pre"))
    previous = hour - 1 or 12
    return _clock_fields(previous, 60 - minutes if op else minutes, g.get("mer"), g.get("pre"))


def _from_day(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "a week from tomorrow", "через неделю от завтра", "3 days from tomorrow": days counted
    from a named day; "two weeks from Monday" is the third coming Monday (the first is the
    nearest upcoming one, as for a weekday alone)."""
    count, weeks, day = float(m.group("n") or 1), m.group("u") == "week", m.group("d")
    if day.startswith("wd"):
        if not (weeks and count in (1, 2, 3, 4)):
            return None  # "3 days from monday": left unread, so asked about
        return {"weekday": _weekday_fields(day), "weekday_ordinal": int(count) + 1}
    days = count * (7 if weeks else 1)
    if not days.is_integer():
        return None
    return {"days_ahead": int(days) + {"today": 0, "tomorrow": 1, "dayafter": 2}[day]}


def _nth_weekday(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "third tuesday of september 2014", "в последнюю пятницу декабря", "first monday of next
    month"; "через 3 пятницы", "3 fridays from now", "2 thursdays ago"."""
    g = m.groupdict()
    fields: dict[str, Any] = {"weekday": _weekday_fields(g["wd"])}
    if g.get("count"):
        count = int(g["count"])
        if not 1 <= count <= 5 or not (g.get("pre") or g.get("dir")):
            return None
        fields["weekday_ordinal"] = -count if g.get("dir") == "ago" else count
        return fields
    nth = -1 if g["n"] in ("end", "last") else int(g["n"].rstrip("thord"))
    if not 1 <= abs(nth) <= 5:
        return None
    fields["weekday_ordinal"] = nth
    fields["month"] = int(g["mo"][2:]) if g.get("mo") else g.get("mod") or "this"
    if g.get("y"):
        fields["year"] = int(g["y"])
    return fields


def _glued_clock(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "15h30", "17ч10": an hour and its minutes written as one word; "8h" alone only beside
    a day or a zone ("Thursday 8h GMT"), else it may be a wait."""
    first, end = ctx.tokens(m, "hm")
    toks = ctx.toks
    if any(toks[i].end != toks[i + 1].start for i in range(first, end - 1)):
        return None  # "2 часа 30" is no clock time
    if not m.group("m") and int(m.group("h")) < 13:  # "17h" is a clock time, "2h" a wait
        _, after = ctx.tokens(m)
        zoned = after < len(toks) and toks[after].tag.startswith("zone=")
        if not (zoned or _day_beside(m, ctx, after=False)):
            return None
    minute = int(m.group("m") or 0)
    return _clock_fields(int(m.group("h")), minute, m.group("mer"), m.group("pre"))


_YEARS = range(1900, 2100)


def _compact_clock(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "at 730 in the evening", "330 p.m.", "at 1530": hours and minutes without a colon,
    after "at" or before am/pm (a year such as "after 2015" is none)."""
    digits, mer, pre = m.group("hhmm"), m.group("mer"), m.group("pre")
    if not (mer or pre) or (int(digits) in _YEARS and not mer):
        return None
    hour, minute = int(digits[:-2]), int(digits[-2:])
    if hour > 23 or minute > 59:
        return None
    return _clock_fields(hour, minute, mer, pre, zero=digits.startswith("0"))


_PLURAL_DAYS = ("days", "ы", "и", "ц", "ов")


def _hour_before_day(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "8 tonight", "9 tomorrow evening", "call me 9 tomorrow": a bare hour right before a
    named day is its clock time."""
    start, end = ctx.tokens(m)
    before = ctx.tags[start - 1] if start else ""
    if before[:1].isdigit() or before.startswith("mo") or before in ("in", "within"):
        return None  # "5 9 tomorrow", "dec 9 tomorrow", "через 6 пятниц" (a count)
    day = ctx.toks[end + (ctx.toks[end].tag == "on")].text
    if day.endswith(_PLURAL_DAYS):
        return None  # "3 fridays", "2 пятницы": a count
    return _clock_fields(int(m.group("h")), 0, None, None) if 1 <= int(m.group("h")) <= 12 else None


def _part_then_hour(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "tonight 9", "tomorrow morning 9": a bare hour closing the clause after a part of
    the day is its clock time."""
    fields = _clock_fields(int(m.group("h")), 0, None, None)
    return fields and {**fields, "part_of_day": m.group("p")}


def _utc_offset(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "UTC+3", "GMT-5", "UTC+5:30": a fixed offset from UTC."""
    hours, _, minutes = m.group("off").partition(":")
    sign = -1 if m.group("sign") == "-" else 1
    if int(minutes or 0):
        name = _HALF_HOUR_ZONES.get((sign * int(hours), int(minutes)))
        return {"time_zone": name} if name else None
    if not -12 <= sign * int(hours) <= 14:
        return None
    # the Etc zones count the other way: UTC+3 is Etc/GMT-3
    return {"time_zone": f"Etc/GMT{'-' if sign > 0 else '+'}{int(hours)}" if int(hours) else "UTC"}


_HALF_HOUR_ZONES = {
    (5, 30): "Asia/Kolkata",
    (3, 30): "Asia/Tehran",
    (4, 30): "Asia/Kabul",
    (5, 45): "Asia/Kathmandu",
    (6, 30): "Asia/Yangon",
    (9, 30): "Australia/Darwin",
    (-3, 30): "America/St_Johns",
}


def _day_fields(pre: str | None) -> dict[str, Any]:
    """ "после пятницы" is after it; "the day after tmrw, 9 a.m." is the day after at 9."""
    if pre and pre.endswith(" after"):
        return {"days_before": -1}
    return {"bound": "after"} if pre == "after" else {}


def _relday(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    offsets = {"today": 0, "tomorrow": 1, "dayafter": 2, "yesterday": -1, "daybefore": -2}
    return {"days_ahead": offsets[m.group("d")], **_day_fields(m.group("pre"))}


def _weekday_fields(tag: str) -> str:
    return WEEKDAYS[int(tag[2:]) - 1]


def _weekday(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    fields: dict[str, Any] = {"weekday": _weekday_fields(m.group("wd"))}
    if m.group("mod") in ("this", "next", "last"):
        fields["weekday_modifier"] = m.group("mod")
    return {**fields, **_day_fields(m.group("pre"))}


def _week(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    pre, part, mod = m.group("pre"), m.group("part"), m.group("mod")
    relation = "after_next" if m.group("after_next") else {"nearest": "this"}.get(mod, mod)
    week = {"week": relation} if relation else {}
    if pre == "after" and not part:  # "после выходных", "после следующей недели"
        return {"week": relation or "this", "bound": "after"}
    if m.group("w") == "weekend":
        if pre == "toward":  # "ближе к выходным": the end of the working week
            return {"week_part": "end", **week}
        return {"weekend": True, **week}
    if not (part or relation) and (
        pre in (None, "in", "within") or ctx.texts(m, "w")[0] == "неделю"
    ):
        return None  # "через неделю" is a duration, "на неделю" a length of stay
    fields: dict[str, Any] = {"week_part": part} if part else {}
    if relation or not part:
        fields["week"] = relation or "this"
    return fields


def _month(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    part = "start" if g["part"] in ("1ord", "1th") else "end" if g["lastday"] else g["part"]
    if g["m"]:
        if not (part or g["mod"]):
            return None
        ref = g["mod"]
    else:
        ref = int(g["mo"][2:])
    fields: dict[str, Any] = {"month_part": part} if part else {}
    if ref is not None:
        fields["month"] = ref
    if g.get("y"):
        fields["year"] = int(g["y"])
    return fields


def _date(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    month = {"month": int(g["mo"][2:])} if g.get("mo") else {}
    if g.get("dsep") == "or":  # "20 или 21 ноября"
        days = (g["d"], g["d2"])
        return {"alternatives": [{"day": int(d.removesuffix("th")), **month} for d in days]}
    day = int((g.get("d") or g.get("d2")).removesuffix("th"))
    fields: dict[str, Any] = {"day": day, **month}
    if g.get("y") or g.get("yy"):
        fields["year"] = int(g["y"] or 2000 + int(g["yy"]))  # "10 марта 27 года"
    if g.get("wd"):
        fields["weekday"] = _weekday_fields(g["wd"])
    if g.get("dsep"):
        fields["_range"] = True  # "20-25 ноября": taken off in _find, marks a stay
    return {**fields, **_day_fields(g.get("pre"))}


def _numeric_date(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "20.11" is a date, "в 10.30" a time, "20/11" and "20.11.2026" always dates."""
    text, pre, mer = m.group("dm"), m.group("pre"), m.group("mer")
    if text == ROUND_THE_CLOCK and not pre:
        return None  # "24/7 support": round the clock, not 24 July
    parts = re.split(r"[./]", text)
    first, second = int(parts[0]), int(parts[1])
    year = {"year": int(parts[2])} if len(parts) == 3 else {}
    slashed = "/" in ctx.toks[ctx.tokens(m, "dm")[0]].text
    if slashed and 1 <= first <= 12 and 1 <= second <= 12 and first != second:
        if ctx.month_first:  # "01/05" in the US is 5 January
            return {"day": second, "month": first, **year, **_day_fields(pre)}
        # "03/04": 3 April or March 4, depending on who wrote it
        options = [{"day": first, "month": second, **year}, {"day": second, "month": first, **year}]
        return {"alternatives": options}
    if slashed and first <= 12 < second <= 31:
        first, second = second, first  # "11/25": only the American order makes a date
    if year:
        return {"day": first, "month": second, **year, **_day_fields(pre)}
    is_date = 1 <= first <= 31 and 1 <= second <= 12 and max(map(len, parts)) == 2
    is_time = "." in text and first <= 23 and len(parts[1]) == 2 and second <= 59
    said_as_time = mer or pre in ("at", "by", "before", "after", "from", "toward")  # "в 10.30"
    if is_time and (not is_date or (said_as_time and second % 5 == 0)):
        hour, minute, zero = _split_hm(text.replace(".", ":"))
        return _clock_fields(hour, minute, mer, pre, zero)
    return {"day": first, "month": second, **_day_fields(pre)} if is_date else None


_NAMED_DAYS = re.compile(r"today|tomorrow|dayafter|wd\d")


def _day_beside(m: re.Match[str], ctx: _Ctx, after: bool) -> bool:
    """Whether a named day stands right before the match (or, if `after`, right after it)."""
    first, end = ctx.tokens(m)
    neighbours = [ctx.toks[first - 1].tag] if first else []
    if after and end < len(ctx.toks):
        neighbours.append(ctx.toks[end].tag)
    return any(_NAMED_DAYS.fullmatch(tag) for tag in neighbours)


def _part_of_day(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    pre, mod, part = m.group("pre"), m.group("mod"), m.group("p")
    bare = not (pre or mod)
    spoken = ctx.texts(m, "p")[0] in ("ночью", "overnight")
    if bare and part == "night" and not spoken and not _day_beside(m, ctx, after=False):
        return None  # "за ночь", "$300/night" are prices; "завтра ночью" is a time
    if bare and part in ("breakfast", "lunch", "dinner") and not _day_beside(m, ctx, after=True):
        return None  # "завтрак включён?" is the meal; "в обед", "lunch tomorrow" its time
    if part == "midnight":
        return {"part_of_day": "night"} if pre == "after" else {"hour": 0}
    part = {"breakfast": "morning", "dinner": "evening", "eod": "end_of_day"}.get(part, part)
    if pre == "toward" and part == "evening":
        part = "towards_evening"
    fields: dict[str, Any] = {"part_of_day": part}
    if pre in ("after", "before", "by") and m.group("p") not in ("breakfast", "dinner"):
        fields["bound"] = pre
    if mod == "this":
        fields["days_ahead"] = 0
    return fields


def _meridiem_part(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """ "wed pm", "tmrw am": after a named day, am/pm is the morning or the afternoon."""
    if not _day_beside(m, ctx, after=False):
        return None
    return {"part_of_day": "morning" if m.group("p") == "am" else "afternoon"}


def _end_of_day(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    return {"part_of_day": "end_of_day"}


def _half_day(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    return {"part_of_day": "morning" if m.group("o") == "1" else "afternoon"}


def _new_year(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    """ "после Нового года" is 2 January, "с/ближе к Новому году" 1 January; "на Новый год",
    "в новом году", "до Нового года" name the holidays, no day (like "на Рождество")."""
    pre = m.group("pre")
    if pre not in ("after", "from", "toward", "by"):
        return {"vague": True}
    # the start of January, so that a day named next narrows it ("после НГ, числа 3-4")
    return {"month": 1, "month_part": "start", **_day_fields(pre)}


def _zone(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    """ "в 15 по мск": the clock time is on another zone's clock."""
    return {"time_zone": m.group("zone")}


def _year(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    """ "в следующем году": a year for the month named beside it ("next year in march"); alone
    it names no time (see parse)."""
    return {"year": m.group("rel")}


def _year_number(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    """ "в 2025 году", "in 2028": a year named alone is `past` once it has gone, else it names
    no day; beside a month it is that month's year ("в 2027 году в марте"). «в 2028» is one
    too, but "at 2028" is none (a clock without its colon, which a year cannot be)."""
    if m.group("pre") == "at" and ctx.texts(m, "pre")[0] not in _YEAR_AT:
        return None
    return {"year": int(m.group("y") or m.group("y2"))}


_YEAR_AT = {"в", "во", "v"}


def _same_time(m: re.Match[str], ctx: _Ctx) -> dict[str, Any]:
    return {"same_time": True}


def _vague(m: re.Match[str], ctx: _Ctx) -> dict[str, Any] | None:
    """A wish with no usable time; but "в следующий раз дайте другой номер" / "next time
    another villa" is about the next stay."""
    if m.group().endswith("times"):
        start, end = ctx.tokens(m)
        if "other" in ctx.tags[slice(*ctx.tags.clause(start, end))]:
            return None
    return {"vague": True}


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    handler: Handler
    anchors: frozenset[str]  # tag classes (see _tag_class) without which it cannot match


def _rule(pattern: str, handler: Handler, anchors: str) -> _Rule:
    classes = frozenset(UNIT_TAGS if anchors == "UNIT" else anchors.split())
    return _Rule(re.compile(rf"(?<![^ ])(?:{pattern})(?![^ ])"), handler, classes)


def _tag_class(tag: str) -> str:
    """A number is "#" (of three digits or more "###"), a weekday "wd", a month "mo", a zone
    "zone"; other tags are their own."""
    if tag[0].isdigit():
        return "###" if len(tag) > 2 and tag.isdigit() else "#"
    if tag.startswith(("wd", "mo")) and tag[2:].isdigit():
        return tag[:2]
    return "zone" if tag.startswith("zone=") else tag


# The order breaks ties between matches of equal length: earlier wins.
RULES = [
    _rule(
        rf"(?P<pre>in|within|after|give(?: me)?) (?:around )?(?P<next>next )?"
        rf"(?:(?P<n>{NUM}|several) (?:(?P<sep>-|or|to) (?P<n2>{NUM}) )?"
        rf"(?:(?:from|and) (?:1 )?(?P<plushalf>half|quarter) )?)?"  # "2 and a half hours"
        rf"(?:(?P<half>half|quarter) (?:1 )?)?(?P<u>{UNIT})"
        rf"(?: (?:and )?(?P<n3>{D12}) min|(?<=hour) (?P<n3b>\d\d){NOT_COUNTED})?"  # "1h30"
        rf"(?: (?:and|from) (?:1 )?(?P<half2>half|quarter))?"  # "час с четвертью"
        rf"(?: (?P<sep2>-|or) (?P<n4>{NUM})(?: {UNIT})?)?",
        _duration,
        "UNIT",
    ),
    _rule(
        rf"(?P<u>{UNIT}) (?P<pre>in|within) (?:around )?(?P<n>{NUM})"
        rf"(?: (?P<sep>-|or) (?P<n2>{NUM}))?{NOT_COUNTED}",
        _duration,
        "UNIT",
    ),
    _rule(rf"in (?P<u>{UNIT}) (?P<n>{NUM})(?: (?:-|or) {NUM})?{NOT_COUNTED}", _unit_first, "UNIT"),
    _rule(
        rf"(?:(?P<n>{NUM}) (?P<u>min|hour)|(?P<u2>min|hour) (?P<n2>{NUM}){NOT_COUNTED})",
        _bare_wait,
        "min hour",
    ),
    _rule(
        rf"(?:(?P<n>{NUM}|several) )?(?:(?P<half>half) (?:1 )?)?(?P<u>{UNIT}) "
        rf"(?:(?:and|from) (?:1 )?(?P<half2>half|quarter) )?"  # "an hour and a half from now"
        rf"(?:laterpost|later|from (?:now|today)|(?P<ago>ago))",
        _duration,
        "UNIT",
    ),
    _rule(
        rf"(?:(?:in )?(?P<n>{NUM})|in) (?P<u>day|dayg|week) (?:from|after) "
        rf"(?P<d>today|tomorrow|dayafter|wd[1-7])",
        _from_day,
        "today tomorrow dayafter wd",
    ),
    _rule(
        rf"{DAYPRE}(?P<d>today|tomorrow|dayafter|yesterday|daybefore)(?: (?:day|dayg))?",
        _relday,
        "today tomorrow dayafter yesterday daybefore",
    ),
    _rule(rf"{DAYPRE}(?:(?P<mod>this|next|last|nearest) )?(?P<wd>wd[1-7])", _weekday, "wd"),
    _rule(
        r"(?:(?P<pre>on|at|in|by|before|after|from|to|within|toward) )?"
        r"(?:(?P<part>start|middle|end) )?(?:(?P<mod>this|next|last|nearest) )?(?P<w>week|weekend)"
        r"(?P<after_next> after next)?",
        _week,
        "week weekend",
    ),
    _rule(
        r"(?:(?P<pre>on|at|in|by|before|after|from|to|within) )?"
        r"(?:(?P<part>start|middle|end|1ord|1th) (?:(?:date|day|dayg) )?"
        r"|(?P<lastday>last) (?:date|day|dayg) )?"
        r"(?:(?P<mod>this|next|last) )?"
        r"(?:(?P<m>month)|(?P<mo>mo\d{1,2})(?:(?: ,)? (?P<y>\d{4})(?: year)?)?)",
        _month,
        "month mo",
    ),
    _rule(r"(?:(?:on|at|in) )?(?P<rel>next|this) year", _year, "year"),
    _rule(
        r"(?:(?:on|at|in) )?(?P<y>20\d\d) year|(?P<pre>in|at) (?P<y2>20\d\d)", _year_number, "###"
    ),
    _rule(
        rf"{DAYPRE}(?:(?P<wd>wd[1-7]) (?:, )?)?(?P<d>{D12})(?:th)? (?:date )?(?P<mo>mo\d{{1,2}})"
        rf"(?:(?: ,)? (?P<y>\d{{4}})(?: year)?| (?P<yy>\d\d) year)?",
        _date,
        "mo",
    ),
    _rule(
        rf"{DAYPRE}(?P<mo>mo\d{{1,2}}) (?P<d>{D12})(?:th)?"
        rf"(?: (?P<dsep>-|or|to) (?P<d2>{D12})(?:th)?)?(?:(?: ,)? (?P<y>\d{{4}}))?{NOT_COUNTED}",
        _date,
        "mo",
    ),
    _rule(
        rf"(?:from )?(?P<d>{D12})(?:th)? (?P<dsep>-|to|before|and|or) (?P<d2>{D12})(?:th)? "
        rf"(?:(?:date )?(?P<mo>mo\d{{1,2}})|date)",
        _date,
        "mo date",
    ),
    _rule(
        rf"(?:(?P<pre>on|at|by|before|after|from|to|around|toward) )?"
        rf"(?P<dm>{D12}[./]{D12}(?:\.\d{{4}})?)(?: (?P<mer>{MER}))?{NOT_COUNTED}",
        _numeric_date,
        "#",
    ),
    _rule(rf"{DAYPRE}(?:(?P<d>{D12})th(?: date)?|(?P<d2>{D12}) date)", _date, "#"),
    _rule(
        rf"{DAYPRE}date (?P<d>{D12})(?:th)?(?: (?P<dsep>-|or|and) (?P<d2>{D12})(?:th)?)?"
        rf"{NOT_COUNTED}",
        _date,
        "date",
    ),
    _rule(
        rf"(?:(?P<pre>{PREPS}))?(?P<hm>{D12}:\d\d)(?: (?:in )?(?P<mer>{MER}))?"
        rf"(?: (?P<sep>-|to|before|or|and) (?:at |to )?(?P<hm2>{D12}(?::\d\d)?)"
        rf"(?: (?P<mer2>{MER}))?)?",
        _clock,
        "#",
    ),
    _rule(
        rf"(?P<pre>{PREPS})(?:(?P<h>{D12})(?: hour)?|(?P<one>hour))(?: (?P<m>\d\d)(?: min)?)?"
        rf"(?: (?:in )?(?P<mer>{MER}))?"
        rf"(?: (?P<sep>-|to|before|or|and) (?:at |to )?(?P<h2>{D12})(?: hour)?"
        rf"(?: (?:in )?(?P<mer2>{MER}))?)?{NOT_COUNTED}",
        _clock,
        "# hour",
    ),
    _rule(
        rf"(?P<pre>on|to) (?P<h>{D12})(?: (?P<m>\d\d))?(?: (?:in )?(?P<mer>{MER}))?{NOT_COUNTED}",
        _moved_to,
        "move",
    ),
    _rule(
        rf"(?P<h>{D12})(?: hour)?(?: (?P<m>\d\d)(?: min)?)? (?:in )?"
        rf"(?P<mer>am|pm|morning|evening|oclock)"
        rf"|(?P<h3>{D12}) hour (?P<mer3>dayg|night|afternoon)"
        rf"|(?P<hm>{D12}) (?P<sep>-|to) (?P<h2>{D12}) (?P<mer2>am|pm)",
        _clock,
        "#",
    ),
    *(
        _rule(
            rf"(?:(?P<pre>{PREPS}))?{fraction}(?: (?:in )?(?P<mer>{MER}))?", _clock_fraction, anchor
        )
        for fraction, anchor in (
            (rf"(?P<q>half|quarter) (?P<h>{D12})th", "half quarter"),
            (rf"(?P<q>half) (?P<h>{D12}){NOT_COUNTED}", "half"),  # "в пол 7", "half 7"
            # "без четверти пять", "без четверти полночь", "без пяти час" (one o'clock)
            (
                rf"(?P<op>without) (?P<q>{D12}|quarter)(?: min)? (?:(?P<h>{HOUR})(?: hour)?|hour)",
                "without",
            ),
            (
                rf"(?P<h>{D12}) (?P<op>without) (?P<q>{D12}|quarter)(?: min)?",
                "without",
            ),  # "в 6 без 15"
            (rf"(?P<q>half|quarter|{D12})(?: min)? (?P<op>past) (?P<h>{HOUR})", "past"),
            (rf"(?P<q>quarter|{D12}(?= min))(?: min)? (?P<op>to) (?P<h>{HOUR})", "to"),
            # "twenty after 3pm", "quarter after 5", "15 minutes from 1pm", "10 min before 6"
            (rf"(?P<q>quarter|{D12})(?: min)? (?P<op>after) (?P<h>{HOUR})", "after"),
            (rf"(?P<q>{D12}) min (?P<op>from|before) (?P<h>{HOUR})", "min"),
            (rf"(?P<q>{D12}) min (?P<h>{D12})th", "min"),  # "в 5 минут девятого"
            (rf"(?P<q>{D12}) (?P<op>to) (?P<h>{D12})", "to"),  # "twenty to six", checked
            # "в 5 с половиной", "at 5 and a half"
            (
                rf"(?P<h>{D12}) (?P<op>from|and) (?:1 )?(?P<q>half|quarter)(?! (?:hour|min))",
                "half quarter",
            ),
            (rf"(?P<q>start) (?P<h>{D12})th(?! date| mo\d)", "start"),  # "в начале шестого"
            (rf"(?P<h>{D12})(?:th|ord) (?P<running>hour)", "hour"),  # "в пятом часу"
        )
    ),
    _rule(
        r"(?:(?P<pre>at|in|on|by|before|after|from|toward|within|around) )?"
        r"(?:(?P<mod>this|start|end|middle) )?"
        r"(?<![^a-z\d]\d )(?<!^\d )(?<![^a-z\d]\d\d )(?<!^\d\d )"  # "за 2 ночи": nights
        r"(?P<p>morning|noon|lunch|afternoon|evening|night|midnight|breakfast|dinner|eod)"
        r"(?: (?:- )?ish)?",  # "noonish"
        _part_of_day,
        "morning noon lunch afternoon evening night midnight breakfast dinner eod",
    ),
    _rule(r"(?:(?:at|by|before|in|toward|on) )?end (?:this )?(?:dayg|day)", _end_of_day, "end"),
    _rule(r"(?:(?:at|in|on) )?(?P<o>1|2)(?:th|ord) half (?:dayg|day)", _half_day, "half"),
    _rule(r"(?:(?P<pre>at|on|after|before|by|from|toward) )?newyear", _new_year, "newyear"),
    _rule(r"(?P<p>am|pm)", _meridiem_part, "am pm"),
    _rule(rf"(?:(?P<pre>{PREPS}))?(?P<h>{D12}) (?:- )?ish", _clock, "ish"),
    _rule(
        rf"{DAYPRE}(?P<n>[1-5](?:th|ord)|end|last) (?P<wd>wd[1-7]) (?:in )?"
        rf"(?:(?P<mo>mo\d{{1,2}})(?:(?: ,)? (?P<y>\d{{4}}))?|(?P<mod>this|next) month|month)",
        _nth_weekday,
        "wd",
    ),
    _rule(rf"{DAYPRE}(?P<n>[1-5](?:th|ord)) (?P<wd>wd[1-7])", _nth_weekday, "wd"),  # this month's
    _rule(
        r"(?:(?P<pre>in) )?(?P<count>\d) (?P<wd>wd[1-7])"
        r"(?: (?P<dir>later|laterpost|ago|(?:from (?:now|today))))?",
        _nth_weekday,
        "wd",
    ),
    _rule(
        rf"(?:(?P<pre>{PREPS}))?(?P<hm>(?P<h>{D12}) hour(?: (?P<m>\d\d))?)(?: (?P<mer>{MER}))?",
        _glued_clock,
        "hour",
    ),
    _rule(
        rf"(?:(?P<pre>{PREPS}))?(?P<hhmm>\d{{3,4}})(?: (?:in )?(?P<mer>{MER}))?{NOT_COUNTED}",
        _compact_clock,
        "###",
    ),
    _rule(
        rf"(?P<h>{D12})(?= (?:on )?(?:today|tomorrow|dayafter|wd[1-7]|this {PARTS})(?![^ ]))",
        _hour_before_day,
        "today tomorrow dayafter wd this",
    ),
    # "tmrw 9 kyiv time", «завтра 9 по Москве»: a bare hour on a named clock is a clock time
    _rule(rf"(?P<h>{D12})(?= zone=)", _clock, "zone"),
    _rule(r"zone=UTC (?P<sign>and|-) (?P<off>\d{1,2}(?::\d\d)?)", _utc_offset, "zone"),
    _rule(rf"(?P<p>{PARTS}) (?P<h>{D12})(?=$| [|,])", _part_then_hour, "#"),
    _rule(r"sametime", _same_time, "sametime"),
    _rule(r"zone=(?P<zone>\S+)", _zone, "zone"),
    _rule(
        r"later|sometime|soon|not now|(?:next|other) times", _vague, "later sometime soon now times"
    ),
]


# --- assembly -----------------------------------------------------------------------------------


@dataclass(eq=False)  # two mentions are the same only if they are one object
class _Expr:
    options: list[dict[str, Any]]
    start: int  # token indices, end exclusive
    end: int
    lead: str = ""
    is_range: bool = False
    focus: tuple[int, int] | None = None  # where its clause is, if not at [start, end)
    replaced: bool = False  # a correction after it names another time
    until: dict[str, Any] | None = None  # the end of a range of hours ("с 9 до 11")


def _kind(fields: dict[str, Any]) -> str:
    if "vague" in fields:
        return "vague"
    if "duration_minutes" in fields:
        return "duration"
    return "day" if fields.keys() & DAY_KEYS else "time"


def _slots(fields: dict[str, Any]) -> set[str]:
    """What a mention fixes: a day, a time of day, or a whole duration."""
    if "duration_minutes" in fields:
        return {"duration"}
    return {slot for slot, keys in (("day", DAY_KEYS), ("time", TIME_KEYS)) if fields.keys() & keys}


def _spec(fields: dict[str, Any]) -> Spec | None:
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


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any] | None:
    """One time from two mentions that fit together; a field both name must agree ("at 730 in
    the evening, after dinner": dinner is the evening too)."""
    if any(a[key] != b[key] for key in a.keys() & b.keys()):
        return None
    if {_kind(a), _kind(b)} & {"vague", "duration"}:
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
    return union if _spec(union) else None


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


def _find(tag_string: str, ctx: _Ctx) -> list[Hit]:
    """All rule matches, longest first, without overlaps, in text order. A match's handler runs
    only if no longer match has taken its words."""
    matches = []
    present = {_tag_class(tag) for tag in set(ctx.tags)}
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


def _mention(start: int, end: int, fields: dict[str, Any], lead: str) -> _Expr:
    options = fields.get("alternatives", [fields])
    is_range = any(option.pop("_range", False) for option in options)  # see _date
    until = next((o.pop("_until") for o in options if "_until" in o), None)
    return _Expr(options, start, end, lead, is_range, until=until)


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


def _join(expr: _Expr, nxt: _Expr, gap: list[str], denied: bool) -> bool:
    """Fold `nxt` into `expr` if they belong together, as another option ("или", "or", a dash),
    as the end of a range (only the start counts), or merged into one time ("завтра" + "в 5");
    False keeps them apart. `denied`: `expr` follows a "не" ("не завтра, в четверг")."""
    if _OR_ELSE.search(" ".join(gap)):  # "Можно завтра? Если нет, то в понедельник"
        gap = ["or"]
    if "|" in gap:
        # "Завтра? Или в пятницу?" still offers options; "Обсудим в среду? Часов в 12?" adds
        # the time to the day
        adds_time = _slots(expr.options[-1]) == {"day"} and _slots(nxt.options[0]) == {"time"}
        narrows = gap == ["|"] and _slots(nxt.options[0]) == {"day"} and _within_span(expr)
        if gap != ["|", "or"] and not ((adds_time or narrows) and gap.count("|") == 1):
            return False
        gap = [tag for tag in gap if tag != "|"]
    if denied and "day" in _slots(expr.options[-1]) & _slots(nxt.options[0]):
        return False  # "не завтра в четверг", "not tomorrow saturday"
    if gap == [","] and expr.options[-1].keys() & DAY_KEYS == {"days_ahead"}:
        # "завтра, 1 марта", "завтра, в воскресенье": one day named twice
        gap = [] if nxt.options[0].keys() & {"day", "weekday"} else gap
    kinds = {_kind(expr.options[-1]), _kind(nxt.options[0])}
    same = len(kinds) == 1 and "vague" not in kinds
    shared = bool(_slots(expr.options[-1]) & _slots(nxt.options[0]))
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
            merged = [_merged(expr.options[-1], nxt.options[0])]
            target = slice(len(expr.options) - 1, None)
        elif len(expr.options) == 1:
            merged = [_merged(expr.options[0], option) for option in nxt.options]
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


def _refines(expr: _Expr, nxt: _Expr, gap: list[str]) -> bool:
    """Two days that name one day even across a comma: a week, weekend or month (or a part of
    one) and a day in it ("на следующей неделе, в среду или четверг", "на выходных, в субботу",
    "в начале декабря, числа 2-го"), or a weekday and a date ("в среду, 25-го")."""
    named = [option.keys() & DAY_KEYS for option in (expr.options[-1], nxt.options[0])]
    if any(keys and keys <= _SPANS for keys in named):
        return True
    # "в среду, 25-го", "Monday, Dec 7", but not "на 24-е число, позвоните в понедельник"
    dated = [keys - {"month", "year"} if "day" in keys else keys for keys in named]
    return sorted(map(sorted, dated)) == [["day"], ["weekday"]] and "contact" not in gap


def _within_span(expr: _Expr) -> bool:
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


def _share_context(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _group(exprs: list[_Expr], tags: _Tags) -> list[_Expr]:
    """Join neighbouring mentions (_join). A vague wish between two of them is filler there
    ("завтра, в любое время после 11"); it stays a mention of its own."""
    vague = [expr for expr in exprs if _kind(expr.options[0]) == "vague"]
    masked = list(tags)
    for expr in vague:
        masked[expr.start : expr.end] = ["_"] * (expr.end - expr.start)
    grouped: list[_Expr] = []
    for expr in exprs:
        if _kind(expr.options[0]) == "vague":
            continue
        gap = masked[grouped[-1].end : expr.start] if grouped else []
        apart = not grouped or _apart(grouped[-1], expr, gap, tags)
        denied = not apart and tags[grouped[-1].start - 1 : grouped[-1].start] == ["not"]
        if not apart and _join(grouped[-1], expr, gap, denied):
            continue
        grouped.append(expr)
    return sorted(grouped + vague, key=lambda e: e.start)


def _apart(expr: _Expr, nxt: _Expr, gap: list[str], tags: _Tags) -> bool:
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
    busy = [_unavailable(clause) for clause in clauses]
    # "вылет в 6, давайте в пн"; but "заехать 20-го пораньше, в 10 утра?" is one trip
    trip = bool(_BOOKING & set(clauses[0])) and not _BOOKING & set(clauses[1])
    return busy[0] != busy[1] or (trip and bool(_PROPOSING & set(clauses[1])))


def _about_booking(expr: _Expr, tags: _Tags) -> bool:
    """Whether a mention's clause talks about a trip, a booking or the business."""
    clause = tags[slice(*tags.clause(expr.start, expr.end))]
    return bool(_BOOKING & set(clause)) or bool(_NIGHTS.search(" ".join(clause)))


# --- ellipsis and corrections ------------------------------------------------------------------

# A fragment names no time alone; it completes the nearest earlier mention. It stands where the
# noun was left out: before the end of its clause or a verb ("напишите после", "давайте на
# следующих, ок?").
_ELIDED = (
    r"(?= (?:_ )?(?:\||,|or|and|contact|me|free|convenient|can|ok|lets|rather)(?![^ ])|(?: _)? ?$)"
)


def _after_that(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """ "я в отпуске до 5 декабря, напишите после", "busy till 5, call me after": the start
    of what the earlier mention ended."""
    if ref is None:
        return None
    if ref.until and len(ref.options) == 1:
        if _WELCOME & set(tags[slice(*tags.clause(ref.start, ref.end))]):
            return None  # "с 10 до 12 свободна, потом занята": the window is the free time
        return [{**_only(ref.options[0], DAY_KEYS), **ref.until}], True  # "с 9 до 11 занята"
    options = [
        option if _kind(option) == "duration" else {**option, "bound": "after"}
        for option in ref.options
    ]
    return options, True


def _after_window(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """ "я на серфинге до 6, потом наберите", "занят до пятницы, позже напишите": "later"
    after a window that ends means its end."""
    if ref and (
        ref.lead == "before" or ref.until or any(o.get("bound") == "before" for o in ref.options)
    ):
        return _after_that(m, ref, tags)
    return None


def _next_one(m: re.Match[str], ref: _Expr | None, tags: _Tags):
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


def _part_of_it(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """ "в декабре, где-то в середине", "на следующей неделе, ближе к концу": a part of the
    month or week just named."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    part, days = m.group("part"), option.keys() & DAY_KEYS
    if days and days <= {"month", "year"}:
        return [{**option, "month_part": part}], True
    if days == {"week"}:
        return [{**option, "week_part": part}], True
    return None


def _same_unit(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """A bare number counts what the mention before it counted: "через 2 часа не смогу,
    давайте через 3" is 3 hours, "в 3, хотя нет, в 4" / "at 3, actually 4" a clock time.
    After "через" with nothing before it, minutes ("перезвони через 20")."""
    amount = float(m.group("n"))
    option = ref.options[-1] if ref else {}
    if option.keys() & _AMOUNT_KEYS:
        unit = next((tag for tag in tags[ref.start : ref.end] if tag in UNIT_TAGS), None)
        if unit:
            return [_amount_fields(amount, unit)], False
    if m.group("corr"):
        fields = _clock_fields(int(amount), 0, None, None) if "hour" in option else None
        return ([fields], False) if fields else None
    return ([{"duration_minutes": amount}], False) if 5 <= amount < 60 else None


_AMOUNT_KEYS = {"duration_minutes", "days_ahead", "weeks_ahead", "months_ahead"}


def _week_after(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """ "lets talk the week after": the week after the one just named, or next week if none
    was (the client means the present one)."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    if not option:
        return [{"week": "next"}], False
    if option.keys() & DAY_KEYS == {"week"} and option["week"] in ("this", "next"):
        return [{"week": {"this": "next", "next": "after_next"}[option["week"]]}], True
    return None


def _days_before(m: re.Match[str], ref: _Expr | None, tags: _Tags):
    """ "прилетаем 1 декабря, напишите за пару дней до прилёта", "за неделю до вылета 12
    января", "call me the day before": that many days before the day named."""
    option = ref.options[-1] if ref and len(ref.options) == 1 else {}
    if "bound" in option or not option.keys() & {"day", "weekday", "days_ahead"}:
        return None
    days = int(m.group("n") or 1) * (7 if m.group("u") == "week" else 1)
    return [{**_only(option, DAY_KEYS), "days_before": days}], True


def _day_after(m: re.Match[str], ref: _Expr | None, tags: _Tags):
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


def _named_after(expr: _Expr, end: int, tags: list[str], reach: int) -> bool:
    """Whether `expr` is the day a "before" at `end` refers to: "за неделю до (вылета) 12
    января". Only the words of that construction stand between them, up to `reach`."""
    if expr.start <= end:
        return expr.lead == "before"
    return expr.start <= reach and "before" in tags[end : expr.start]


def _reference(exprs: list[_Expr], start: int, end: int, forward: bool, ctx: _Ctx) -> _Expr | None:
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


def _same_event(exprs: list[_Expr], start: int, end: int, ctx: _Ctx) -> _Expr | None:
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


def _complete(exprs: list[_Expr], tag_string: str, ctx: _Ctx) -> list[_Expr]:
    """Fill in what the client left out, from the nearest earlier mention: fragments (see
    _FRAGMENTS), then corrections (_corrected)."""
    tags = ctx.tags
    solid = [expr for expr in exprs if _kind(expr.options[0]) != "vague"]
    vague_at = {
        i: e for e in exprs if _kind(e.options[0]) == "vague" for i in range(e.start, e.end)
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
                expr = _Expr(options, *span, focus=(start, end))
            else:
                expr = _Expr(options, start, end)
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
            _weigh(e, tags)[1] == "booking" for e in (earlier, later)
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


def _corrected(earlier: _Expr, later: _Expr, tags: _Tags) -> None:
    """A mention that replaces an earlier one keeps the wider frame it does not name: "завтра
    в 5 не могу, давайте в 6" is tomorrow 18:00, "на следующей неделе в среду не получится,
    давайте в четверг" next week's Thursday. A bare hour close to the replaced one keeps its
    part of the day too ("в 7 вечера, хотя нет, в 8" is 20:00). It replaces it after a
    correction word or a ruled-out time."""
    if len(earlier.options) != 1 or len(later.options) != 1:
        return
    old, new = earlier.options[0], later.options[0]
    if earlier.replaced and not _slots(old) & _slots(new):
        merged = _merged(old, new)  # "в понедельник удобно, лучше в 10": it only adds a time
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
    if earlier.replaced or _weigh(earlier, tags)[1] in ("negated", "unavailable"):
        merged = {**inherited, **new}
        if _spec(merged):
            later.options[0] = merged


# --- context -------------------------------------------------------------------------------------

_POSITIVE = {"contact", "convenient"}  # and "free", unless the villa is what is free
_WELCOME = {"contact", "convenient", "free", "ok"}
_PROPOSING = _WELCOME | {"lets"}
_BOOKING = {"event", "biz"}  # a trip or a booking; a question about the business
_PREFERRED = {"rather", "convenient", "ok"}  # "X лучше/удобнее, чем Y"
# A condition ("если ...") about contact or the client's time, whose time is an option.
_CONDITION_CUES = _WELCOME | {"can", "not can", "busy", "not convenient", "not ok", "lets"}
_NIGHTS = re.compile(r"(?:^|(?<!at) )(?:\d+|several) nights?(?= |$)")


_NOT_CONTACT = re.compile(r"(?<![^ ])not (?:me )?(?:contact|disturb)(?![^ ])")
# "занят", "не могу", "не подходит"; but "не занят", "в выходные не работаю" say the opposite
_UNAVAILABLE = re.compile(
    r"(?<![^ ])(?:(?<!not )busy|not (?:(?!busy )\S+ )?(?:can|convenient|ok|need))(?![^ ])"
)


def _unavailable(clause: list[str]) -> bool:
    return bool(_UNAVAILABLE.search(" ".join(clause)))


def _weigh(expr: _Expr, tags: _Tags) -> tuple[int, str | None]:
    """Score a time by its clause (between commas or sentence ends), or say why it is not a
    contact time."""
    start, end = expr.focus or (expr.start, expr.end)
    left, right = tags.clause(start, end, ("|", ",", "and"))
    before, after = tags[left:start], tags[end:right]
    clause = before + after
    lead = start
    while lead > left and tags[lead - 1] in ("contact", "me"):
        lead -= 1
    previous = tags.clause(left - 1, left - 1)[0] if left else left
    before_this = " ".join(tags[previous:left])
    denied = (lead > left and tags[lead - 1] == "not") or "no" in after  # "в пятницу нет"
    denied = denied or ("also" in clause and _NOT_CONTACT.search(before_this))  # "1-го тоже"
    if denied or _NOT_CONTACT.search(" ".join(clause)):
        return 0, "negated"  # "не сегодня", "не пишите сегодня", "ночью не звоните"
    unavailable = _unavailable(clause) or ("also" in clause and _UNAVAILABLE.search(before_this))
    if unavailable and "if" not in clause:  # "если не получится, то в понедельник": an option
        return 0, "unavailable"  # "завтра не могу, в четверг тоже"
    if "if" in before and "_" in clause and not _CONDITION_CUES & set(clause):
        # "завтра утром, если не просплю после Нового года": the condition is about something
        # else; "если в пятницу не получится, то в понедельник" offers two times
        return 0, "condition"
    if "reported" in clause and not _POSITIVE & set(clause) and "would" not in clause:
        return 0, "reported"  # "мы созванивались в понедельник", "I called yesterday"
    opening, closing = tags.clause(left, right, ("|",))
    if tags[start - 1 : start] == ["than"] and _PREFERRED & set(tags[opening:start]):
        return 0, "worse"  # "лучше в пятницу, чем в понедельник", "Friday is better than Monday"
    if expr.lead == "on" and start and tags[start - 1] in _BOOKING:
        return 0, "booking"  # "пришлите цены на январь": the date belongs to the prices
    sentence = tags[opening:closing]
    alone = set(tags[opening:start] + tags[end:closing]) <= {"_"} and "|" not in tags[start:end]
    if opening and alone:
        # a time alone answers the sentence before: "Во сколько заселение? В 14?"
        sentence = tags[tags.clause(opening - 1, opening - 1, ("|",))[0] : closing]
    # "во сколько выезд, в 12?": a question about the trip, within one sentence
    parts = [part.split() for part in " ".join(sentence).split("|")]
    asked = any("whattime" in part and _BOOKING & set(part) for part in parts)
    days_only = not any(option.keys() & TIME_KEYS for option in expr.options)
    if "lapse" in clause and days_only and not _PROPOSING & set(sentence) - {"free"}:
        return 0, "lapse"  # "договор действует до 31 декабря 2027", "our fiscal year ends on ..."
    nights = _NIGHTS.search(" ".join(clause))
    booking = bool(_BOOKING & set(clause)) or nights or expr.is_range or asked
    able = "can" in clause and not unavailable  # not "если в 3 неудобно"
    positive = _POSITIVE - {"convenient"} if unavailable else _POSITIVE
    contact = bool(positive & set(clause)) or able or ("free" in clause and not booking)
    # "давайте в пятницу, я уже буду знать даты": a proposal outweighs talk of dates or prices
    contact = contact or (lead > left and tags[lead - 1] == "lets" and "event" not in clause)
    if booking and not contact:
        return 0, "booking"
    welcome = contact or bool({"ok", "lets"} & set(clause))  # "в понедельник можно", "давайте в 5"
    proposed = bool(_POSITIVE & set(sentence)) or "lets" in sentence
    corrected = "rather" in tags[previous:start]  # "в 7, хотя нет, лучше в 8"
    return 1 + 2 * welcome + proposed + corrected, None


# "не пишите мне", "не беспокойте" alone are an opt-out; next to a time they rule that time
# out ("до 10 не звоните", "8 марта не беспокоить"; see parse)
_DO_NOT_CONTACT = re.compile(
    r"(?<![^ ])not (?:me |_ )*(?:contact(?: me| _)*(?= \||$)|disturb(?![^ ]))"
)
_OPT_OUT_STRONG = re.compile(
    r"(?<![^ ])(?:"
    r"not (?:me |_ )*contact(?: me| _)* (?:more|never)"
    r"|(?:more|never) (?:me |_ )*(?:not (?:me |_ )*)?contact"
    r"|stop (?:me |_ )*contact"
    r"|(?:not|no) need (?:me |_ |more |to )*contact"
    r"|optout|unsub (?:me|from)|not disturb (?:me |_ )*(?:more|never)"
    r"|stop(?= \||$)"
    r")"
)
_OPT_OUT_SOFT = re.compile(r"(?<![^ ])(?:not interest|not relevant|no (?:, )?thanks)")
# "спасибо, не нужно"; but not "звонить не надо", nor "31-го не надо" (that day ruled out)
_NOT_NEEDED = re.compile(r"(?<![^ ])(?<!contact )(?:not|no) need(?= \||$| ,)")


def _span(toks: list[Tok], start: int, end: int) -> tuple[int, int]:
    return toks[start].start, toks[end - 1].end


# --- accounting ---------------------------------------------------------------------------------

# Words that may stand inside a time expression without naming a time themselves: the run of
# words around a time that accounting looks at goes across these (and across time-bearing ones).
_TIME_VOCABULARY = {
    *(",", "-", "at", "on", "in", "within", "by", "from", "to", "after", "before", "around"),
    *("toward", "this", "next", "last", "nearest", "start", "middle", "end", "ago", "date"),
    *UNIT_TAGS,
    *("today", "tomorrow", "dayafter", "yesterday", "daybefore", "week", "weekend"),
    *("morning", "noon", "lunch", "afternoon", "evening", "night", "midnight", "eod"),
    *("am", "pm", "oclock", "half", "quarter", "past", "without", "ish"),
}
# A number followed by one of these counts something else ("4 человека", "2 раза", a phone).
_COUNTING = {"cnt", "cur", "nights", "night", "times", "sec", "big", "me", "_"}
_ORDINAL_OF_WEEKDAY = {"start", "end", "last", "next"}  # "в последнюю пятницу", "last friday"
_OPEN = {"", "|", "or", "and"}
_NAMED_DAY = re.compile(r"today|tomorrow|dayafter|yesterday|daybefore|(?:wd|mo)\d+|\d+th")
_NAMES = {"#", "###", "wd", "mo", "zone"}
# The run accounting looks at goes across time words and "или" ("в 10 по Москве или по Киеву").
_ACCOUNT_ACROSS = _TIME_VOCABULARY | {"or"}
# How far accounting looks either side of a time: no time expression is longer.
_ACCOUNT_REACH = 8


def _time_bearing(toks: list[Tok], i: int) -> bool:
    """Whether toks[i] names (part of) a time: a number that counts no thing, a weekday, a
    month, a named day or part of the day, a zone, a minute phrase, an ordinal before a
    weekday ("третий вторник"), or a word that is one of these in a form no rule read
    (lexicon.time_form: "tomo", "Mon" the weak check set aside, "Москва")."""
    tag = toks[i].tag
    after = toks[i + 1].tag if i + 1 < len(toks) else ""
    if tag == "_":  # a clock no one taught us: "в 18 по минскому", "at 7 Paris time"
        named = after == "times" and toks[i + 1].text == "time"
        return named or (i > 0 and toks[i - 1].text == "по") or time_form(toks[i].text)
    if tag in UNIT_TAGS and after in ("after", "before") and i + 2 < len(toks):
        # "the day after tmrw", "a week before the 20th": days counted from a day; not from a
        # clock time ("каждый день после 8 вечера" is every day)
        return bool(_NAMED_DAY.fullmatch(toks[i + 2].tag))
    if tag == "half":
        return True  # "в 5 с половиной"
    if tag[0].isdigit():
        if toks[i].text in ("a", "an"):
            return after in UNIT_TAGS  # "a week from tomorrow"
        if after == "_" and time_form(toks[i + 1].text):
            return True  # "4 дека": a month cut short
        if after in _COUNTING:
            return False
        # before a time word, a number, a name of a day or month or nothing: part of the time;
        # before any other word it counts that ("2 виллы", "3 of us")
        return after in _TIME_VOCABULARY or after in _OPEN or _tag_class(after) in _NAMES
    if _tag_class(tag) in ("wd", "mo", "zone") or tag in ("quarter", "past", "without"):
        return True
    if names_time(tag):  # "завтра", "утром", "вечерм" (a typo of one)
        return True
    if tag == "year" and i and toks[i - 1].tag in ("this", "next", "last"):
        return True  # "next year in march"
    ordinal = tag in _ORDINAL_OF_WEEKDAY or toks[i].text in ORDINAL_WORDS
    return ordinal and after.startswith("wd")


def _unused(
    toks: list[Tok], expr: _Expr, read: set[int], cut: list[int], sentences: list[int]
) -> tuple[tuple[int, str], ...]:
    """The time-bearing words in the run of time words around `expr` that no reading used:
    "April 14, 2015" read as 14 April leaves "2015", "через 3 пятницы" read as Friday "3".
    Also an unknown time-word form inside it, between the mentions it joins ("text me Frid
    afternoon"), and a time word cut short anywhere in its sentence, which is no other word
    ("давайте завт, только не раньше двух"): `cut` are those, `sentences` each token's
    sentence number."""
    unused = [
        (tok.start, tok.text)
        for tok in toks[expr.start : expr.end]
        if tok.tag == "_" and time_form(tok.text)
    ]
    near = range(expr.start - _REACH, expr.end + _REACH)  # as far as a clause reaches
    for i in cut:
        if i in near and sentences[i] == sentences[expr.start]:
            unused.append((toks[i].start, toks[i].text))
    for step, first in ((-1, expr.start - 1), (1, expr.end)):
        i = first
        while 0 <= i < len(toks) and abs(i - first) < _ACCOUNT_REACH:
            bearing = _time_bearing(toks, i)
            if not bearing and toks[i].tag not in _ACCOUNT_ACROSS:
                break
            if bearing and i not in read:
                unused.append((toks[i].start, toks[i].text))
            i += step
    return tuple(sorted(set(unused)))


# --- run-on messages ------------------------------------------------------------------------------

# Words that close a clause after the time they follow ("утром не могу", "в 4 нельзя",
# "завтра занят", "в пятницу уезжаю") or open one ("давайте", "если", "наберите", "я").
_CLOSERS = {"can", "not can", "busy", "ok", "convenient", "not convenient", "free", "also"}
_CLOSERS |= {"event", "biz", "need", "no", "reported", "disturb"}
_OPENERS = {"lets", "if", "move", "later"}
_PLEASE = {"пожалуйста", "плиз", "please", "pls", "plz"}
_SUBJECTS = {"я", "мы", "i", "we", "i'm", "im", "когда", "when"}
# Right before a time, cues that belong to it ("можно созвон сегодня", "кроме воскресенья").
_LEANING = {"ok", "convenient", "free", "contact", "back"}
_LEADS = {"not", "on", "at", "in", "to", "by", "from", "after", "before", "toward", "around"}
_DAY_AND_TIME = {frozenset({"day"}), frozenset({"time"})}
# A contact verb that asks ("наберите", "позвони", "созвонимся", "call") opens a clause; one
# that tells what the client will do ("наберу", "напишу", "звонить") closes one.
_ASKING = ("те", "тесь", "ись", "и", "имся", "емся")
_MODALS = {"can", "could"}
_CUES = _CLOSERS | _OPENERS | {"contact", "now", "rather", "after", "not"}
_ELIDED_AFTER = {"ok", "contact", "free", "can", "lets", "|", ",", ""}


def _asks(tok: Tok) -> bool:
    return tok.tag == "contact" and (tok.text.isascii() or tok.text.endswith(_ASKING))


def _opens(toks: list[Tok], i: int, loose: bool = False) -> bool:
    """Whether toks[i] starts a clause; `loose` also counts a subject ("я", "when")."""
    tok, nxt = toks[i], toks[i + 1].tag if i + 1 < len(toks) else ""
    if i and toks[i - 1].tag == "not":
        return False  # "не пишите": the verb belongs to its "не"
    if tok.tag == "rather":
        return nxt != "not"  # "в выходные лучше не надо" closes
    if tok.tag == "after":
        return nxt in _ELIDED_AFTER  # "до 6 занята после можно"
    return (
        _asks(tok)
        or tok.tag in _OPENERS
        or tok.text in _MODALS  # "could we talk on monday"
        or (loose and tok.text in _SUBJECTS)
    )


def _closes(toks: list[Tok], i: int) -> bool:
    tok = toks[i]
    if tok.text in _MODALS:
        return False  # "can we do it after 7": it asks
    if tok.tag == "contact":
        return not _asks(tok) or (i > 0 and toks[i - 1].tag == "not")
    return tok.tag in _CLOSERS or tok.text in _PLEASE or (i > 0 and toks[i - 1].tag == "not")


def _leans(toks: list[Tok], i: int) -> bool:
    """Whether toks[i], right before a time, belongs to it: a preposition or "не", a cue
    ("можно созвон сегодня"), a busy word before "until" ("я щас на встрече до вечера"), or
    a trip word not after a preposition ("у меня вылет в 6 утра", but "весь день на экскурсии
    | послезавтра")."""
    tag, before = toks[i].tag, toks[i - 1].tag
    if tag in _LEADS:
        return True
    if tag == "busy":
        return toks[i + 1].tag == "before"  # "на встрече до вечера": busy until then
    if tag in ("event", "biz"):
        return before not in _LEADS
    return tag in _LEANING and before != "not"


def _run_on_breaks(toks: list[Tok], exprs: list[_Expr]) -> list[int]:
    """Where a message typed without punctuation starts a new clause, so that each time keeps
    its own cues: "завтра не могу давай в среду", "утром не могу в обед можно", "ща занят
    набери через часик", "заезд 5 марта на 7 ночей можно созвон сегодня в 8", "sorry busy
    today tomorrow same time". Between two times that did not join (or "сейчас"), the break
    goes before the first word that opens a clause, else before the cues leaning on the
    second time, else right before it. Anywhere, a clause opens after a word that closes one
    ("звонить не надо пишите в телеграм"), and after a time that has its cue ("я в отпуске
    до 5-го напишите после", "перезвоните через 15 минут я за рулём")."""
    if len(exprs) < 2 and not any(tok.tag in _CUES for tok in toks):
        return []  # one time and nothing that could close or open a clause
    slots = {e.start: _slots(e.options[0]) for e in exprs}
    anchors = sorted(
        [(e.start, e.end) for e in exprs]
        + [(i, i + 1) for i, t in enumerate(toks) if t.tag == "now"]
    )
    breaks = set()
    for (a_start, a_end), (b_start, _) in pairwise(anchors):
        gap = {tok.tag for tok in toks[a_end:b_start]}
        if b_start < a_end or gap & {"|", ",", "or", "and"}:
            continue  # already apart, or options ("после 8 или в выходные")
        if {frozenset(slots.get(a_start, ())), frozenset(slots.get(b_start, ()))} == _DAY_AND_TIME:
            continue  # "в понедельник заселение в 14:00": one moment, the cue covers both
        cut = next((i for i in range(a_end, b_start) if _opens(toks, i)), None)
        if cut is None:
            cut = b_start
            while cut > a_end and _leans(toks, cut - 1):
                cut -= 1  # "кроме воскресенья", "с 16:00 на 18:00", "можно созвон сегодня"
        breaks.add(cut)
    starts = {start for start, _ in anchors}
    closed = cued = timed = False
    for i, tok in enumerate(toks):
        if tok.tag in ("|", ","):
            closed = cued = timed = False
            continue
        if (closed or (timed and cued)) and _opens(toks, i, loose=True):
            breaks.add(i)  # "я в самолёте до вечера наберите завтра" even inside a joined time
            closed = cued = timed = False
        timed = timed or i in starts
        if tok.tag != "_" or tok.text in _PLEASE:
            closed = _closes(toks, i)
            cued = cued or closed or _asks(tok) or tok.tag in ("ok", "lets")
            cued = cued or tok.text in _MODALS
    return sorted(i for i in breaks if i and toks[i - 1].tag not in ("|", ","))


def _with_breaks(toks: list[Tok], breaks: list[int]) -> list[Tok]:
    """The tokens with a comma (of no width) before each break."""
    out: list[Tok] = []
    cuts = set(breaks)
    for i, tok in enumerate(toks):
        if i in cuts:
            out.append(Tok(",", tok.start, tok.start, ""))
        out.append(tok)
    return out


def _expressions(
    toks: list[Tok], month_first: bool
) -> tuple[list[Tok], list[_Expr], _Tags, _Ctx, str]:
    """The mentions of time in the tokens, grouped. A message naming more than MAX_MENTIONS
    times is read from _REACH tags before the MAX_MENTIONS-th last one on: the tokens before
    are dropped (the mentions after keep what was found for them)."""
    ctx = _Ctx.of(toks, month_first)
    tag_string = " ".join(ctx.tags)
    hits = _find(tag_string, ctx)
    if len(hits) > MAX_MENTIONS:
        cut = max(0, hits[-MAX_MENTIONS][0] - _REACH)
        toks = toks[cut:]
        ctx = _Ctx.of(toks, month_first)
        tag_string = " ".join(ctx.tags)
        hits = [(start - cut, end - cut, *rest) for start, end, *rest in hits[-MAX_MENTIONS:]]
    exprs = [_mention(*hit) for hit in hits]
    return toks, _group(exprs, ctx.tags), ctx.tags, ctx, tag_string


def parse(text: str, month_first: bool = False) -> Parsed:
    """`month_first`: the client writes dates month first ("01/05" is 5 January)."""
    toks, exprs, tags, ctx, tag_string = _expressions(tokenize(text), month_first)
    if breaks := _run_on_breaks(toks, exprs):
        toks, exprs, tags, ctx, tag_string = _expressions(_with_breaks(toks, breaks), month_first)
    weighed = []
    for expr in _complete(exprs, tag_string, ctx)[-MAX_MENTIONS:]:
        options = _share_context(expr.options)
        fields = options[0] if len(options) == 1 else {"alternatives": options}
        score, drop = (0, "replaced") if expr.replaced else _weigh(expr, tags)
        until = fields.get("bound") == "before" or (expr.lead == "before" and "bound" not in fields)
        if drop in ("unavailable", "negated") and until:
            # "занят до 5", "до 9 не звоните": contact can start where the window ends
            fields, drop = {k: v for k, v in fields.items() if k != "bound"}, None
        if fields.keys() <= {"year", "bound"} and not isinstance(fields.get("year"), int):
            fields = {"vague": True}  # "в следующем году" alone: no month, no day
        if spec := _spec(fields):
            weighed.append((expr, spec, score, drop))
    # the words of every time found were read, whether it is chosen or set aside; a vague
    # wish reads none ("next year in march": which March?)
    read = {i for e, spec, *_ in weighed if not spec.vague for i in range(e.start, e.end)}
    read -= {i for i in read if toks[i].tag == "_" and time_form(toks[i].text)}  # a gap
    cut = [i for i, tok in enumerate(toks) if tok.tag == "_" and cut_short(tok.text)]
    sentences = list(accumulate(tok.tag == "|" for tok in toks)) if cut else []
    candidates = [
        Candidate(
            spec, _span(toks, e.start, e.end), score, drop, _unused(toks, e, read, cut, sentences)
        )
        for e, spec, score, drop in weighed
    ]
    opt_out, opt_span = None, None
    checks = [("strong", _OPT_OUT_STRONG), ("soft", _OPT_OUT_SOFT)]
    if not any(c.drop in ("negated", "unavailable") for c in candidates):
        checks[1:1] = [("strong", _DO_NOT_CONTACT), ("soft", _NOT_NEEDED)]
    for strength, regex in checks:
        if m := regex.search(tag_string):
            opt_out, opt_span = strength, _span(toks, *ctx.tokens(m))
            break
    return Parsed(tuple(candidates), opt_out, opt_span)
