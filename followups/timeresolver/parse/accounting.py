"""Accounting: time words no rule read, so an unread time is asked about, not dropped."""

from __future__ import annotations

import re

from ..lexicon import Tok, names_time, time_form
from ..vocabulary import ORDINAL_WORDS
from .grammar import REACH, UNIT_TAGS, tag_class
from .model import Expr

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
        return after in _TIME_VOCABULARY or after in _OPEN or tag_class(after) in _NAMES
    if tag_class(tag) in ("wd", "mo", "zone") or tag in ("quarter", "past", "without"):
        return True
    if names_time(tag):  # "завтра", "утром", "вечерм" (a typo of one)
        return True
    if tag == "year" and i and toks[i - 1].tag in ("this", "next", "last"):
        return True  # "next year in march"
    ordinal = tag in _ORDINAL_OF_WEEKDAY or toks[i].text in ORDINAL_WORDS
    return ordinal and after.startswith("wd")


def unused_words(
    toks: list[Tok], expr: Expr, read: set[int], cut: list[int], sentences: list[int]
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
    near = range(expr.start - REACH, expr.end + REACH)  # as far as a clause reaches
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
