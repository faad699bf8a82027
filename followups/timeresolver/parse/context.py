"""Context: each expression is weighed in its clause (contact, booking, refusal, opt-out)."""

from __future__ import annotations

import re

from ..lexicon import Tok
from .grammar import TagList
from .model import TIME_KEYS, Expr

# --- context -------------------------------------------------------------------------------------

_POSITIVE = {"contact", "convenient"}  # and "free", unless the villa is what is free
WELCOME = {"contact", "convenient", "free", "ok"}
PROPOSING = WELCOME | {"lets"}
BOOKING = {"event", "biz"}  # a trip or a booking; a question about the business
_PREFERRED = {"rather", "convenient", "ok"}  # "X лучше/удобнее, чем Y"
# A condition ("если ...") about contact or the client's time, whose time is an option.
_CONDITION_CUES = WELCOME | {"can", "not can", "busy", "not convenient", "not ok", "lets"}
NIGHTS = re.compile(r"(?:^|(?<!at) )(?:\d+|several) nights?(?= |$)")


_NOT_CONTACT = re.compile(r"(?<![^ ])not (?:me )?(?:contact|disturb)(?![^ ])")
# "занят", "не могу", "не подходит"; but "не занят", "в выходные не работаю" say the opposite
_UNAVAILABLE = re.compile(
    r"(?<![^ ])(?:(?<!not )busy|not (?:(?!busy )\S+ )?(?:can|convenient|ok|need))(?![^ ])"
)


def says_unavailable(clause: list[str]) -> bool:
    return bool(_UNAVAILABLE.search(" ".join(clause)))


def weigh(expr: Expr, tags: TagList) -> tuple[int, str | None]:
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
    unavailable = says_unavailable(clause) or (
        "also" in clause and _UNAVAILABLE.search(before_this)
    )
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
    if expr.lead == "on" and start and tags[start - 1] in BOOKING:
        return 0, "booking"  # "пришлите цены на январь": the date belongs to the prices
    sentence = tags[opening:closing]
    alone = set(tags[opening:start] + tags[end:closing]) <= {"_"} and "|" not in tags[start:end]
    if opening and alone:
        # a time alone answers the sentence before: "Во сколько заселение? В 14?"
        sentence = tags[tags.clause(opening - 1, opening - 1, ("|",))[0] : closing]
    # "во сколько выезд, в 12?": a question about the trip, within one sentence
    parts = [part.split() for part in " ".join(sentence).split("|")]
    asked = any("whattime" in part and BOOKING & set(part) for part in parts)
    days_only = not any(option.keys() & TIME_KEYS for option in expr.options)
    if "lapse" in clause and days_only and not PROPOSING & set(sentence) - {"free"}:
        return 0, "lapse"  # "договор действует до 31 декабря 2027", "our fiscal year ends on ..."
    nights = NIGHTS.search(" ".join(clause))
    booking = bool(BOOKING & set(clause)) or nights or expr.is_range or asked
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
DO_NOT_CONTACT = re.compile(
    r"(?<![^ ])not (?:me |_ )*(?:contact(?: me| _)*(?= \||$)|disturb(?![^ ]))"
)
OPT_OUT_STRONG = re.compile(
    r"(?<![^ ])(?:"
    r"not (?:me |_ )*contact(?: me| _)* (?:more|never)"
    r"|(?:more|never) (?:me |_ )*(?:not (?:me |_ )*)?contact"
    r"|stop (?:me |_ )*contact"
    r"|(?:not|no) need (?:me |_ |more |to )*contact"
    r"|optout|unsub (?:me|from)|not disturb (?:me |_ )*(?:more|never)"
    r"|stop(?= \||$)"
    r")"
)
OPT_OUT_SOFT = re.compile(r"(?<![^ ])(?:not interest|not relevant|no (?:, )?thanks)")
# "спасибо, не нужно"; but not "звонить не надо", nor "31-го не надо" (that day ruled out)
NOT_NEEDED = re.compile(r"(?<![^ ])(?<!contact )(?:not|no) need(?= \||$| ,)")


def char_span(toks: list[Tok], start: int, end: int) -> tuple[int, int]:
    return toks[start].start, toks[end - 1].end
