"""Grammar: RULES, regular expressions over the tag string, and their handlers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..fields import WEEKDAYS
from ..lexicon import Tok
from ..vocabulary import FULL_DAYS, ROUND_THE_CLOCK
from .model import SEVERAL

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
REACH = 64
_MARKS = ("|", ",")


class TagList(list[str]):
    """A message's tags, with its clause boundaries computed once."""

    def __init__(self, tags: list[str]) -> None:
        super().__init__(tags)
        self._bounds: dict[tuple[str, ...], tuple[list[int], list[int]]] = {}

    def clause(self, start: int, end: int, stops: tuple[str, ...] = _MARKS) -> tuple[int, int]:
        """The clause around self[start:end]: out to the nearest comma or sentence end (or
        other `stops`), at most REACH tags either way."""
        if stops not in self._bounds:
            self._bounds[stops] = self._boundaries(stops)
        opening, closing = self._bounds[stops]
        return max(opening[start], start - REACH), min(closing[end], end + REACH)

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
class Ctx:
    """The tokens of a message, their tags and where each tag starts in the tag string."""

    toks: list[Tok]
    tags: TagList
    tag_index: dict[int, int]
    month_first: bool = False  # "01/05" is 5 January where the client lives (the US)

    @classmethod
    def of(cls, toks: list[Tok], month_first: bool = False) -> Ctx:
        tag_index, offset = {}, 0
        for i, tok in enumerate(toks):
            tag_index[offset] = i
            offset += len(tok.tag) + 1
        return cls(toks, TagList([tok.tag for tok in toks]), tag_index, month_first)

    def tokens(self, m: re.Match[str], group: str | int = 0) -> tuple[int, int]:
        """The [first, last + 1) token indices a match (or one of its groups) covers."""
        last_tag = m.group(group).split()[-1]
        return self.tag_index[m.start(group)], self.tag_index[m.end(group) - len(last_tag)] + 1

    def texts(self, m: re.Match[str], group: str) -> list[str]:
        """The normalised words under a group of a match."""
        return [tok.text for tok in self.toks[slice(*self.tokens(m, group))]]


Handler = Callable[[re.Match[str], Ctx], dict[str, Any] | None]


def amount_fields(amount: float, unit: str, extra_minutes: float = 0) -> dict[str, Any]:
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


def _duration(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    unit, pre, number = g["u"], g.get("pre"), g.get("n")
    if pre == "after" and ctx.texts(m, "pre") == ["после"] and unit == "hour" and number:
        # "после 2 часов" is after two o'clock, not two hours from now
        return clock_fields(int(number), 0, None, "after") if number.isdigit() else None
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
    fields = [amount_fields(sign * option * scale, unit, sign * extra) for option in options]
    if len(fields) > 1:
        return {"alternatives": fields}
    return {**fields[0], "approximate": True} if approximate else fields[0]


def _unit_first(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "через минут 20" is 20 minutes, but "через час 15" is an hour and a quarter."""
    amount = float(m.group("n"))
    if m.group("u") == "hour" and ctx.texts(m, "u")[0] in ("час", "hour"):
        return {"duration_minutes": 60 + amount}
    return amount_fields(amount, m.group("u"))


_WAIT_CUES = {"contact", "free", "give", "need", "still"}


def _bare_wait(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
    return amount_fields(amount, unit)


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


def clock_fields(
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
        # the end, taken off in match_rules: "с 9 до 11 занята, потом наберите" is 11:00
        return {**first, "_until": {k: v for k, v in second.items() if k != "bound"}}
    return first


def _clock(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    g = m.groupdict()
    pre, mer, mer2 = g.get("pre"), g.get("mer"), g.get("mer2")
    if g.get("h3"):
        hour, minute, zero, mer = int(g["h3"]), 0, False, g["mer3"]
    else:
        hour, minute, zero = _split_hm(g.get("hm") or g.get("h") or "1")  # "в час" is one
        minute = minute or int(g.get("m") or 0)
    h2 = g.get("h2") or ""
    if g.get("sep") == "-" and len(h2) == 2 and not g.get("m") and (h2 == "00" or int(h2) > 24):
        return clock_fields(hour, int(h2), mer or mer2, pre, zero)  # "в 8-30" is 8:30
    second = None
    if g.get("hm2") or g.get("h2"):
        hour2, minute2, zero2 = _split_hm(g.get("hm2") or g["h2"])
        second = clock_fields(hour2, minute2, mer2 or mer, None, zero2)
        if hour % 12 > hour2 % 12:
            mer2 = None  # "с 10 до 6 вечера": the evening is the end's, 10 is in the morning
    first = clock_fields(hour, minute, mer or mer2, pre, zero)
    return _clock_range(first, second, g.get("sep"), pre)


_FRACTION_MINUTES = {"half": 30, "quarter": 15}


def _moved_to(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "перенести (звонок) на 5", "перенесём на завтра на 5?", "push it to 4": after a word
    for moving, "на"/"to" and a number is a clock time, not a count."""
    start, _ = ctx.tokens(m)
    tags = ctx.tags
    if "move" not in tags[tags.clause(start, start)[0] : start]:
        return None
    return _clock(m, ctx)


_NAMED_HOURS = {"noon": 12, "midnight": 24}


def _spelt_minutes_to(m: re.Match[str], ctx: Ctx) -> bool:
    """ "twenty to six": minutes spelt out before an English "to", with no "from" before them
    ("from five to six" is a range); or minutes counted ("20 min to 6")."""
    first, end = ctx.tokens(m)
    words = ctx.toks[first:end]
    if any(tok.tag == "min" for tok in words):
        return True
    spelt = words[0].text.isalpha() and words[1].text == "to"
    return spelt and (first == 0 or ctx.toks[first - 1].tag not in ("from", "between"))


def _clock_fraction(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
        return clock_fields(hour % 24, minutes, g.get("mer"), g.get("pre"))
    previous = hour - 1 or 12
    return clock_fields(previous, 60 - minutes if op else minutes, g.get("mer"), g.get("pre"))


def _from_day(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _nth_weekday(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _glued_clock(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
    return clock_fields(int(m.group("h")), minute, m.group("mer"), m.group("pre"))


_YEARS = range(1900, 2100)


def _compact_clock(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "at 730 in the evening", "330 p.m.", "at 1530": hours and minutes without a colon,
    after "at" or before am/pm (a year such as "after 2015" is none)."""
    digits, mer, pre = m.group("hhmm"), m.group("mer"), m.group("pre")
    if not (mer or pre) or (int(digits) in _YEARS and not mer):
        return None
    hour, minute = int(digits[:-2]), int(digits[-2:])
    if hour > 23 or minute > 59:
        return None
    return clock_fields(hour, minute, mer, pre, zero=digits.startswith("0"))


_PLURAL_DAYS = ("days", "ы", "и", "ц", "ов")


def _hour_before_day(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "8 tonight", "9 tomorrow evening", "call me 9 tomorrow": a bare hour right before a
    named day is its clock time."""
    start, end = ctx.tokens(m)
    before = ctx.tags[start - 1] if start else ""
    if before[:1].isdigit() or before.startswith("mo") or before in ("in", "within"):
        return None  # "5 9 tomorrow", "dec 9 tomorrow", "через 6 пятниц" (a count)
    day = ctx.toks[end + (ctx.toks[end].tag == "on")].text
    if day.endswith(_PLURAL_DAYS):
        return None  # "3 fridays", "2 пятницы": a count
    return clock_fields(int(m.group("h")), 0, None, None) if 1 <= int(m.group("h")) <= 12 else None


def _part_then_hour(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "tonight 9", "tomorrow morning 9": a bare hour closing the clause after a part of
    the day is its clock time."""
    fields = clock_fields(int(m.group("h")), 0, None, None)
    return fields and {**fields, "part_of_day": m.group("p")}


def _utc_offset(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _relday(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    offsets = {"today": 0, "tomorrow": 1, "dayafter": 2, "yesterday": -1, "daybefore": -2}
    return {"days_ahead": offsets[m.group("d")], **_day_fields(m.group("pre"))}


def _weekday_fields(tag: str) -> str:
    return WEEKDAYS[int(tag[2:]) - 1]


def _weekday(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    fields: dict[str, Any] = {"weekday": _weekday_fields(m.group("wd"))}
    if m.group("mod") in ("this", "next", "last"):
        fields["weekday_modifier"] = m.group("mod")
    return {**fields, **_day_fields(m.group("pre"))}


def _week(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _month(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _date(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
        fields["_range"] = True  # "20-25 ноября": taken off in match_rules, marks a stay
    return {**fields, **_day_fields(g.get("pre"))}


def _numeric_date(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
        return clock_fields(hour, minute, mer, pre, zero)
    return {"day": first, "month": second, **_day_fields(pre)} if is_date else None


_NAMED_DAYS = re.compile(r"today|tomorrow|dayafter|wd\d")


def _day_beside(m: re.Match[str], ctx: Ctx, after: bool) -> bool:
    """Whether a named day stands right before the match (or, if `after`, right after it)."""
    first, end = ctx.tokens(m)
    neighbours = [ctx.toks[first - 1].tag] if first else []
    if after and end < len(ctx.toks):
        neighbours.append(ctx.toks[end].tag)
    return any(_NAMED_DAYS.fullmatch(tag) for tag in neighbours)


def _part_of_day(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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


def _meridiem_part(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
    """ "wed pm", "tmrw am": after a named day, am/pm is the morning or the afternoon."""
    if not _day_beside(m, ctx, after=False):
        return None
    return {"part_of_day": "morning" if m.group("p") == "am" else "afternoon"}


def _end_of_day(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    return {"part_of_day": "end_of_day"}


def _half_day(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    return {"part_of_day": "morning" if m.group("o") == "1" else "afternoon"}


def _new_year(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    """ "после Нового года" is 2 January, "с/ближе к Новому году" 1 January; "на Новый год",
    "в новом году", "до Нового года" name the holidays, no day (like "на Рождество")."""
    pre = m.group("pre")
    if pre not in ("after", "from", "toward", "by"):
        return {"vague": True}
    # the start of January, so that a day named next narrows it ("после НГ, числа 3-4")
    return {"month": 1, "month_part": "start", **_day_fields(pre)}


def _zone(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    """ "в 15 по мск": the clock time is on another zone's clock."""
    return {"time_zone": m.group("zone")}


def _year(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    """ "в следующем году": a year for the month named beside it ("next year in march"); alone
    it names no time (see parse)."""
    return {"year": m.group("rel")}


def _year_number(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    """ "в 2025 году", "in 2028": a year named alone is `past` once it has gone, else it names
    no day; beside a month it is that month's year ("в 2027 году в марте"). «в 2028» is one
    too, but "at 2028" is none (a clock without its colon, which a year cannot be)."""
    if m.group("pre") == "at" and ctx.texts(m, "pre")[0] not in _YEAR_AT:
        return None
    return {"year": int(m.group("y") or m.group("y2"))}


_YEAR_AT = {"в", "во", "v"}


def _same_time(m: re.Match[str], ctx: Ctx) -> dict[str, Any]:
    return {"same_time": True}


def _vague(m: re.Match[str], ctx: Ctx) -> dict[str, Any] | None:
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
    anchors: frozenset[str]  # tag classes (see tag_class) without which it cannot match


def _rule(pattern: str, handler: Handler, anchors: str) -> _Rule:
    classes = frozenset(UNIT_TAGS if anchors == "UNIT" else anchors.split())
    return _Rule(re.compile(rf"(?<![^ ])(?:{pattern})(?![^ ])"), handler, classes)


def tag_class(tag: str) -> str:
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
