"""Normalisation, typo tolerance and tokenisation over the word tables of vocabulary.py.

Every surface form a client may type (Russian, English, Russian in Latin letters, typos,
abbreviations, number words) becomes a short language-neutral tag: "tomorrow", "wd5" (Friday),
"mo11" (November), "hour", "17:00", "20th", "contact" ... The grammar in parse/ is written once,
over tags, so "завтра в 5", "tmrw at 5" and "zavtra v 5" are the same sentence to it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .vocabulary import (
    ABBREVIATIONS,
    ACCEPTING,
    CITY_ZONES,
    CLOCK_TAG,
    CONTACT_STEMS,
    EN_CARDINALS,
    EN_ORDINALS,
    EN_TENS,
    EVENT_STEMS,
    FUZZY_GUARD,
    NO_FUZZY_TAGS,
    NUMBER_TAG,
    ORD_DATE_ENDINGS,
    ORD_OTHER_ENDINGS,
    PAST_TENSE,
    PHRASES,
    PREPOSITIONS,
    RU_CARDINALS,
    RU_ORDINAL_STEMS,
    VOCAB,
    WEAK,
    WEAK_NEXT,
    WEAK_PREV,
    WEAK_PREV_WORDS,
    WEEKDAY_NEXT,
)


@dataclass(slots=True)  # not frozen: that makes one four times as costly to build
class Tok:
    """One tag and the character span of the text it came from (several tags may share one)."""

    tag: str
    start: int
    end: int
    text: str


def _build_words() -> tuple[dict[str, str], dict[str, tuple[int, str]]]:
    """Every form -> its tag; number words also -> (value, "card" | "th" | "ord")."""
    words: dict[str, str] = {}
    numbers: dict[str, tuple[int, str]] = {}

    def add(form: str, tag: str) -> None:
        if words.setdefault(form, tag) != tag:
            raise ValueError(f"vocabulary form {form!r} has two tags")

    def add_number(form: str, value: int, kind: str) -> None:
        add(form, f"{value}{'' if kind == 'card' else kind}")
        numbers[form] = (value, kind)

    for tag, forms in VOCAB.items():
        for form in forms.split():
            add(form, tag)
    for value, forms in RU_CARDINALS.items():
        for form in forms.replace("/", " ").split():
            add_number(form, value, "card")
    for value, stem in {**RU_ORDINAL_STEMS, 3: "трет"}.items():
        date_endings = ("ье", "ьего", "ьему") if value == 3 else ORD_DATE_ENDINGS
        other_endings = (
            ("ий", "ья", "ью", "ьей", "ьи", "ьих", "ьем") if value == 3 else ORD_OTHER_ENDINGS
        )
        for ending in date_endings:
            add_number(stem + ending, value, "th")
        for ending in other_endings:
            add_number(stem + ending, value, "ord")
    cardinals = {form: value for value, form in enumerate(EN_CARDINALS)}
    for form, value in {**cardinals, **EN_TENS}.items():
        add_number(form, value, "card")
    for form, value in EN_ORDINALS.items():
        add_number(form, value, "th")
    return words, numbers


WORDS, _NUMBER_WORDS = _build_words()


def _build_phrases() -> dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]]:
    """Phrases by their first two words (one for a one-word phrase), longest first."""
    by_start: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
    for phrase, tag in PHRASES.items():
        parts = tuple(phrase.split())
        by_start.setdefault(parts[:2], []).append((parts, tag))
    for entries in by_start.values():
        entries.sort(key=lambda entry: -len(entry[0]))
    return by_start


_PHRASES_BY_START = _build_phrases()
_PHRASE_FIRST_WORDS = {start[0] for start in _PHRASES_BY_START}


# --- normalisation -----------------------------------------------------------------------------

_CHAR_MAP = str.maketrans(
    {"ё": "е", "’": "'", "‘": "'", "`": "'", "–": "-", "—": "-", "−": "-", "\u00a0": " "}
)
_HOMOGLYPHS = str.maketrans("aeopcxykmt", "аеорсхукмт")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN_LOOKALIKES = {"c", "k", "o", "y"}  # one-letter Russian prepositions in Latin letters
_LATIN = re.compile(r"[a-z]")


def normalise(text: str) -> str:
    """Lower-case and unify look-alike characters, keeping every character at its offset."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters ("İ") lower-case to two
        lowered = "".join(c if len(low := c.lower()) != 1 else low for c in text)
    return lowered.translate(_CHAR_MAP)


_TRANSLIT_PAIRS = {
    "shch": "щ",
    "sch": "щ",
    "zh": "ж",
    "kh": "х",
    "ts": "ц",
    "ch": "ч",
    "sh": "ш",
    "yu": "ю",
    "ju": "ю",
    "iu": "ю",
    "ya": "я",
    "ja": "я",
    "ia": "я",
    "yo": "е",
    "ye": "е",
    "je": "е",
    "ey": "ей",
    "iy": "ий",
    "yy": "ый",
    "'": "ь",
    "x": "кс",
    "w": "в",
    "q": "к",
    "4": "ч",
    **dict(zip("abvgdezijklmnoprstufhcy", "абвгдезийклмнопрстуфхцы", strict=True)),
}
_TRANSLIT_RE = re.compile("|".join(sorted(map(re.escape, _TRANSLIT_PAIRS), key=len, reverse=True)))


def transliterate(word: str) -> str:
    """Russian typed in Latin letters ("zavtra", "cherez 2 chasa") back to Cyrillic."""
    return _TRANSLIT_RE.sub(lambda m: _TRANSLIT_PAIRS[m.group()], word)


# --- typo tolerance --------------------------------------------------------------------------


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _max_typos(word: str) -> int:
    return 2 if len(word) >= 8 else 1


def _min_fuzzy_len(word: str) -> int:
    return 5 if _CYRILLIC.search(word) else 6


def _build_fuzzy_index() -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for word, tag in WORDS.items():
        if tag in NO_FUZZY_TAGS or len(word) < _min_fuzzy_len(word) or "-" in word:
            continue
        for variant in _deletions(word, _max_typos(word)):
            index.setdefault(variant, set()).add(word)
    return index


_FUZZY_INDEX = _build_fuzzy_index()


def _typo_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


# A word within two typos of the vocabulary is at most two letters longer than its longest
# word. The limit changes no answer and keeps _deletions, whose cost grows with the cube of
# the length, cheap on a hostile run of letters.
_MAX_FUZZY_LEN = max(map(len, _FUZZY_INDEX)) + 2


def _fuzzy(word: str, min_len: int | None = None) -> str | None:
    if not (min_len or _min_fuzzy_len(word)) <= len(word) <= _MAX_FUZZY_LEN:
        return None
    if word in FUZZY_GUARD:
        return None
    candidates: set[str] = set()
    for variant in _deletions(word, _max_typos(word)):
        candidates |= _FUZZY_INDEX.get(variant, set())
    best: dict[int, set[str]] = {}
    for candidate in candidates:
        distance = _typo_distance(word, candidate)
        if distance <= _max_typos(candidate) and distance <= _max_typos(word):
            best.setdefault(distance, set()).add(WORDS[candidate])
    if not best:
        return None
    tags = best[min(best)]
    return tags.pop() if len(tags) == 1 else None


# --- time words no rule read (for accounting) ---------------------------------------------------

# Tags of the words that name a day, a month or a part of the day.
_NAMED_TIME = re.compile(
    r"(?:wd|mo)\d+|today|tomorrow|dayafter|yesterday|daybefore|weekend|newyear"
    r"|morning|noon|afternoon|evening|night|midnight|today evening"
)
# A word cut short ("tomo", "завт", "wedn") is a form of the time word it starts, from four
# letters on; except these real words, which only start one ("even" is no "evening", "выход" an
# exit, "полу-" half; "вече" is one too, but rare beside "вечером" cut short; "ate", "anon" look
# like a part of the day written short).
_REAL_PREFIXES = {"even", "over", "break", "toni", "mont", "полу", "полн", "полно"}
_REAL_PREFIXES |= {"выход", "выхода", "ate", "non", "anon", "aeon", "aero", "afro", "eng", "nigh"}
_MIN_TRUNCATION = 4
# "may" beside a time is the modal verb ("tomorrow may be better"); where the month is meant
# it leans on a number or a preposition, and the weak check reads it.
_MODAL_LOOKALIKES = {"may"}
# Suffixes of approximation: "noonish", "tenish".
_APPROXIMATE_SUFFIXES = ("ish",)


def _build_time_prefixes() -> frozenset[str]:
    prefixes = set()
    for form, tag in WORDS.items():
        if _NAMED_TIME.fullmatch(tag) and form.isalpha():
            prefixes.update(form[:n] for n in range(_MIN_TRUNCATION, len(form)))
    return frozenset(prefixes - WORDS.keys() - _REAL_PREFIXES)


_TIME_PREFIXES = _build_time_prefixes()

# Latin parts of the day written short with letters left out ("mor", "mng", "nit", "noo"): the
# forms no rule reads, from three letters on, that start like the word and keep its order.
_PART_SOURCES = ("morning", "afternoon", "evening", "night", "noon")


def _build_part_abbreviations() -> frozenset[str]:
    forms = set()
    for word in _PART_SOURCES:
        rest = word[1:]
        for mask in range(1, 1 << len(rest)):
            kept = word[0] + "".join(c for k, c in enumerate(rest) if mask >> k & 1)
            if 3 <= len(kept) < len(word):
                forms.add(kept)
    return frozenset(forms - WORDS.keys() - _REAL_PREFIXES)


_PART_ABBREVIATIONS = _build_part_abbreviations()


def _build_cities() -> tuple[frozenset[str], tuple[str, ...]]:
    """The cities of the zone table, so that any case of one counts ("Москва", "Киева",
    "Moscow"): English names as written, Russian ones by their stem (the dative without its
    ending) when that keeps five letters, else as written ("по баку", "по индии": "инди" also
    starts "индивидуальный")."""
    names = {"moscow", "london", "dubai", "jakarta", "york", "kyiv", "kiev"}
    stems = {"москв", "киев", "лондон", "джакарт"}
    for ru, en in CITY_ZONES.values():
        names.update(en.split())
        for name in ru.split():
            if len(name) > 5:
                stems.add(name[:-1])
            else:
                names.add(name)
    return frozenset(names - WORDS.keys()), tuple(sorted(stems))


_CITY_NAMES, _CITY_STEMS = _build_cities()


@lru_cache(maxsize=4096)
def cut_short(word: str) -> bool:
    """Whether a word is a time word cut short ("tomo", "завт", "wedn"; "zavt" in Latin)."""
    if word.isascii() and word.isalpha() and transliterate(word) in _TIME_PREFIXES:
        return True
    return word in _TIME_PREFIXES


def names_time(tag: str) -> bool:
    """Whether a tag names a day, a month or a part of the day."""
    return _NAMED_TIME.fullmatch(tag) is not None


@lru_cache(maxsize=4096)
def time_form(word: str) -> bool:
    """Whether a word that no rule read is still a time word in some form: its vocabulary tag
    names a day, a month or a part of the day even where the context made it "_" ("mon" in
    "Mon, 10am"), it is one with an approximation suffix ("noonish", "tenish"), cut short
    ("tomo", "завт") or a part of the day written short ("mng", "nit"), or it names a city of
    the zone table ("по Москве или по Киеву"); in Latin letters, also as transliterated
    Russian ("zavt")."""
    tag = "" if word in _MODAL_LOOKALIKES else WORDS.get(word, "")
    if _NAMED_TIME.fullmatch(tag) or word in _TIME_PREFIXES or word in _PART_ABBREVIATIONS:
        return True
    if word in _CITY_NAMES:
        return True
    if word.startswith(_CITY_STEMS) or _approximate(word) is not None:
        return True
    # Russian in Latin letters ("zavt", "v pone utrom"); of the corpus's 562 Latin words only
    # such ones read as a Russian time word
    return word.isascii() and word.isalpha() and time_form(transliterate(word))


# --- words -------------------------------------------------------------------------------------

_UNIT_TAGS = {"min", "hour", "day", "dayg", "week", "month", "year"}
_ORDINAL_TAG = re.compile(r"\d+th")


def _cue(word: str) -> str | None:
    if word.startswith(CONTACT_STEMS):
        return "reported" if PAST_TENSE.search(word) else "contact"
    if word.startswith(EVENT_STEMS):
        return "event"
    return None


def _half_of(word: str) -> str | None:
    """ "полчаса", "полдесятого", "пол-пятого": "пол" glued to a unit or an hour ordinal."""
    if not word.startswith("пол") or len(word) < 6:
        return None
    rest = word[3:].lstrip("-")
    tag = WORDS.get(rest) or _fuzzy(rest)
    if tag in _UNIT_TAGS or (tag and _ORDINAL_TAG.fullmatch(tag)):
        return f"half {tag}"
    return None


def word_tags(word: str, translit: bool = False) -> str:
    """Tags for one normalised word ("" drops it, "_" is a word that means nothing here)."""
    if len(word) > _MAX_FUZZY_LEN:
        return _word_tags(word, translit)  # too long for a typo, so cheap; cached, it takes room
    return _cached_word_tags(word, translit)


def _word_tags(word: str, translit: bool) -> str:
    if translit and len(word) <= 2 and word.isalpha() and word.isascii():
        return word_tags(transliterate(word))  # "v", "k", "do", "na" in "zavtra k vecheru"
    tag = WORDS.get(word)
    if tag is not None:
        return tag
    if word.endswith("'s"):
        return word_tags(word[:-2], translit)
    if _LATIN.search(word) and _CYRILLIC.search(word):
        cyrillic = word.translate(_HOMOGLYPHS)
        if cyrillic != word:  # "приbет" keeps its "b": no look-alike left to replace
            return word_tags(cyrillic, translit)
    if translit and not _CYRILLIC.search(word):
        return word_tags(transliterate(word))
    return _half_of(word) or _approximate(word) or _cue(word) or _fuzzy(word) or "_"


def _approximate(word: str) -> str | None:
    """ "noonish", "tenish": a time word with a suffix of approximation, read as the word."""
    for suffix in _APPROXIMATE_SUFFIXES:
        head = WORDS.get(word.removesuffix(suffix), "") if word.endswith(suffix) else ""
        if _NAMED_TIME.fullmatch(head) or head.isdigit():
            return f"{head} ish"
    return None


_cached_word_tags = lru_cache(maxsize=65536)(_word_tags)


_MIN_TRANSLIT_TYPO = 7
_TRANSLIT_PREPOSITIONS = {"v", "vo", "k", "ko", "na", "po", "ot", "za", "cherez"}


def _is_translit(words: list[str]) -> bool:
    """Whether a message is Russian in Latin letters: some longer word only makes sense so.
    A typo counts only in a long word ("ponedelnik" lacks its "ь"): "cheers" is one letter
    from "черес"; or beside a Russian preposition ("zavtr v 10")."""
    prepositions = not _TRANSLIT_PREPOSITIONS.isdisjoint(words)
    for word in words:
        if len(word) >= 4 and word.isascii() and word_tags(word) == "_":
            cyrillic = transliterate(word)
            tag = WORDS.get(cyrillic) or _half_of(cyrillic) or _cue(cyrillic)
            if not tag and len(word) >= (5 if prepositions else _MIN_TRANSLIT_TYPO):
                tag = _fuzzy(cyrillic)
            if tag and tag not in NO_FUZZY_TAGS - {"contact"}:
                return True
    return False


# --- tokens -----------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<iso>\d{4}-\d{1,2}-\d{1,2})(?!\d)
  | (?P<big>\+?\d(?:[\s\-()]{0,2}\d){6,})(?![\d:])
  | (?P<dmy>\d{1,2}[./]\d{1,2}[./](?:\d{4}|\d{2}))(?!\d|[./]\d)
  | (?P<hm>\d{1,2}:\d{2})(?::\d{2})?(?!\d)
  | (?P<pair>\d{1,2}[./,]\d{1,2})(?!\d|[./,:]\d)
  | (?P<card>\d{1,2}-?(?:х|ти|ми|ех|ух))(?![a-zа-я\d])
  | (?P<ord>\d{1,2}(?:\s?-\s?)?(?:ого|его|го|ому|му|ом|ое|е|ье|ий|ый|ой|й|st|nd|rd|th))
    (?![a-zа-я\d])
  | (?P<yy>'\d{2})(?![\d:])
  | (?P<slang>(?:2moro|2morow|2morrow|2mrw|2day|2nite|2night|4erez|4as[a-z]*)(?![a-z]))
  | (?P<num>\d+)
  | (?P<word>[a-zа-я]+(?:'[a-z]+)?(?:-[a-zа-я]+)*)
  | (?P<nl>\n)
  | (?P<punct>[^\s\w]|_)
    """,
    re.VERBOSE,
)
_PUNCT_TAGS = {
    ".": "|",
    "!": "|",
    "?": "|",
    ";": "|",
    "\n": "|",
    "…": "|",
    ",": ",",
    "-": "-",
    "/": "or",
    "~": "around",
    "@": "at",
    "$": "cur",
    "€": "cur",
    "₽": "cur",
    "%": "cnt",
    "&": "and",
    "+": "and",
}


@dataclass(slots=True)
class _Raw:
    kind: str
    text: str
    start: int
    end: int


def _raw_tokens(norm: str) -> list[_Raw]:
    raws: list[_Raw] = []
    for m in _TOKEN_RE.finditer(norm):
        kind, text, start = m.lastgroup or "punct", m.group(), m.start()
        kind = "word" if kind == "slang" else kind
        if kind == "word" and "-" in text and text not in WORDS and _half_of(text) is None:
            offset = start
            for i, part in enumerate(text.split("-")):
                if i:
                    raws.append(_Raw("punct", "-", offset, offset + 1))
                    offset += 1
                raws.append(_Raw("word", part, offset, offset + len(part)))
                offset += len(part)
            continue
        raws.append(_Raw(kind, text, start, m.end()))
    return raws


_LEADING_DIGITS = re.compile(r"\d+")


def _number_tag(raw: _Raw) -> str:
    text = raw.text
    if raw.kind == "big":
        return "big"
    if raw.kind == "iso":
        year, month, day = text.split("-")
        return f"{int(day)}.{int(month)}.{year}"
    if raw.kind == "dmy":
        day, month, year = re.split(r"[./]", text)
        return f"{int(day)}.{int(month)}.{2000 + int(year) if len(year) == 2 else year}"
    if raw.kind == "pair":
        return text.replace(",", ".")
    if raw.kind == "ord":
        return f"{int(_LEADING_DIGITS.match(text).group())}th"
    if raw.kind == "card":
        return _LEADING_DIGITS.match(text).group()
    if raw.kind == "yy":
        return str(2000 + int(text[1:]))  # "dec 5 '27": a year
    return text


# "двадцать пять" is 25 and "двадцати пяти" too, but "без двадцати шесть" is 20 and 6.
_NOMINATIVE = {form for forms in RU_CARDINALS.values() for form in forms.partition("/")[0].split()}


def _compound(tens: Tok, unit: Tok) -> bool:
    """Whether two number words make one number: the cases agree (an ordinal unit is fine)."""
    if not _CYRILLIC.search(tens.text) or _NUMBER_WORDS[unit.text][1] != "card":
        return True
    return (tens.text in _NOMINATIVE) == (unit.text in _NOMINATIVE)


def _merge_number_words(toks: list[Tok]) -> list[Tok]:
    """ "двадцать пять" -> 25, "двадцати пяти" -> 25, "twenty-first" -> 21th."""
    merged: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        tens = _NUMBER_WORDS.get(tok.text)
        if tens and tens[1] == "card" and tens[0] in (20, 30, 40, 50):
            j = i + 1 + (i + 1 < len(toks) and toks[i + 1].tag == "-")
            unit = _NUMBER_WORDS.get(toks[j].text) if j < len(toks) else None
            if unit and 1 <= unit[0] <= 9 and _compound(tok, toks[j]):
                suffix = {"card": "", "th": "th", "ord": "ord"}[unit[1]]
                text = f"{tok.text} {toks[j].text}"
                merged.append(Tok(f"{tens[0] + unit[0]}{suffix}", tok.start, toks[j].end, text))
                i = j + 1
                continue
        merged.append(tok)
        i += 1
    return merged


_CALENDAR_NAME = re.compile(r"(?:wd|mo)\d+")


def _paired(toks: list[Tok], i: int) -> bool:
    """ "mon-wed", "sat/sun": a weekday (or month) joined to another one by a dash or slash."""
    kind = toks[i].tag[:2]
    for step in (-1, 1):
        j = i + 2 * step
        joined = 0 <= j < len(toks) and toks[i + step].tag in ("-", "or")
        if joined and _CALENDAR_NAME.fullmatch(toks[j].tag) and toks[j].tag[:2] == kind:
            return True
    return False


_WEEK_MOD = {"this", "next", "last"}  # "wed next week"
_CLOCK_QUARTER = {"past", "to", "after", "before", "from"}  # "a quarter past 5"
_MONTH_PREV = {"day", "date", "dayg", "start", "middle", "end"}
_NTH = re.compile(r"\d+th|last|end")  # "first monday of may", not "Friday may work"


def _weak_checked(toks: list[Tok]) -> list[Tok]:
    """Weak words ("may", "sun", "a") that have no time word to lean on become "_"; a weekday
    abbreviation that is the whole message ("mon.", "Sat?") is the weekday. "по" before a zone
    abbreviation ("в 10 вечера по CET") is dropped, as in "по мск"."""
    out = []
    alone = sum(tok.tag not in ("|", ",") for tok in toks) == 1
    for i, tok in enumerate(toks):
        if tok.text == "по" and i + 1 < len(toks) and toks[i + 1].tag.startswith("zone="):
            continue
        if tok.text == "second" and i + 1 < len(toks) and toks[i + 1].tag.startswith("wd"):
            tok = Tok("2th", tok.start, tok.end, tok.text)  # "second monday": not the unit
        if tok.text in WEAK and tok.tag != "_":
            prev = toks[i - 1].tag if i else ""
            nxt = toks[i + 1].tag if i + 1 < len(toks) else ""
            supported = (
                prev in WEAK_PREV
                or (i and toks[i - 1].text in WEAK_PREV_WORDS)
                or (tok.tag.startswith("wd") and "week" in (t.tag for t in toks[max(0, i - 4) : i]))
                or (prev == "in" and tok.tag.startswith("mo"))
                or bool(NUMBER_TAG.fullmatch(prev))
                or bool(WEAK_NEXT.fullmatch(nxt))
            )
            if tok.text in EN_ORDINALS and nxt.startswith("wd"):
                supported = True  # "third tuesday of september"
            nth_weekday = prev.startswith("wd") and len(out) > 1 and _NTH.fullmatch(out[-2].tag)
            if tok.tag.startswith("mo") and (nth_weekday or prev in _MONTH_PREV):
                supported = True  # "first monday of may", "last day of march", "end of may"
            after_next = toks[i + 2].tag if i + 2 < len(toks) else ""
            if tok.text in ("a", "an"):
                # "an hour and a quarter", but not the clock's "a quarter past 5"
                quarter = nxt == "quarter" and after_next not in _CLOCK_QUARTER
                supported = nxt in _UNIT_TAGS or nxt in ("half", "several") or quarter
            supported = supported or _paired(toks, i) or (nxt in _WEEK_MOD and after_next == "week")
            if tok.tag.startswith("wd") and (alone or _weekday_leans(toks, i)):
                supported = True
            if not supported:
                tok = Tok("_", tok.start, tok.end, tok.text)
        out.append(tok)
    return out


def _weekday_leans(toks: list[Tok], i: int) -> bool:
    """Whether the weekday abbreviation toks[i] leans on what follows (see WEEKDAY_NEXT)."""
    tags = [tok.tag for tok in toks[i + 1 : i + 4]] + ["", "", ""]
    if tags[0] == ",":  # "Mon, 10am", not "sun, 10 guests"
        clock = tags[1].isdigit() and tags[2] in ("am", "pm", "oclock")
        return clock or bool(CLOCK_TAG.fullmatch(tags[1]))
    if WEEKDAY_NEXT.fullmatch(tags[0]):
        return not i or toks[i - 1].tag != "_"  # not the verb: "I sat by the pool"
    return (i == 0 or toks[i - 1].tag == "|") and tags[0] in ACCEPTING


def tokenize(text: str) -> list[Tok]:
    """Tags for a message, each with the span of the original text it stands for."""
    norm = normalise(text)
    raws = _raw_tokens(norm)
    translit = _is_translit([r.text for r in raws if r.kind == "word"])
    texts = [r.text for r in raws]
    russian = bool(_CYRILLIC.search(norm))
    # in a transliterated message, phrases match in Cyrillic too: "po msk", "v techenie"
    cyrillic = (
        [
            transliterate(t) if r.kind == "word" and t.isascii() else t
            for r, t in zip(raws, texts, strict=True)
        ]
        if translit
        else None
    )
    toks: list[Tok] = []
    i = depth = 0
    while i < len(raws):
        raw, previous = raws[i], raws[i - 1] if i else None
        if phrase := _match_phrase(texts, i) or (cyrillic and _match_phrase(cyrillic, i)):
            length, tags = phrase
            end = raws[i + length - 1].end
            toks.extend(Tok(t, raw.start, end, norm[raw.start : end]) for t in tags.split())
            i += length
            continue
        i += 1
        if raw.kind == "word":
            word = raw.text
            if word in _LATIN_LOOKALIKES and russian:
                word = word.translate(_HOMOGLYPHS)  # "c 17 до 19" typed with a Latin "c"
            tags = word_tags(word, translit)
            if tags == "_" and toks and toks[-1].tag in PREPOSITIONS and _CYRILLIC.search(raw.text):
                tags = _fuzzy(raw.text, min_len=4) or "_"  # "после обда": short, but framed
            elif raw.text == "дн" and toks and toks[-1].tag == "hour":
                tags = "dayg"  # "в 3 часа дн" is "дня"; "3 дн" alone is days
        elif raw.kind in ("punct", "nl"):
            glued = previous and previous.end == raw.start
            abbreviation = glued and previous.text in ABBREVIATIONS
            if raw.text == "." and abbreviation and not _capital_follows(text, raw.end):
                continue  # "след.", "нояб.": an abbreviation, not the end of a sentence
            tags = _PUNCT_TAGS.get(raw.text, "")
            if raw.text == "/" and toks and toks[-1].tag == "cur":
                tags = ""  # "250$/ночь" is a price, not "или"
            elif unicodedata.category(raw.text) == "So":
                tags = "|"  # an emoji ends a sentence: "я сплю до обеда 😴 пишите после 2"
            elif raw.text == "(" and norm[raw.end : raw.end + 1] not in ("", "(", ")", " ", "\n"):
                depth += 1  # a parenthesis: "(3 взрослых и 2 детей)"
            elif raw.text == ")" and depth:
                depth -= 1
            elif raw.text in "()":
                tags = "|"  # a smiley ends a sentence: "не звоните)) после 3-го можно"
        else:
            tags = _number_tag(raw)
        for tag in tags.split():
            toks.append(Tok(tag, raw.start, raw.end, raw.text))
    return _weak_checked(_merge_number_words(toks))


def _capital_follows(text: str, position: int) -> bool:
    """Whether the next word after `position` starts with a capital: "в пт. Вилла нужна ..."
    ends a sentence after the abbreviation."""
    rest = text[position:].lstrip()
    return bool(rest) and rest[0].isupper()


def _match_phrase(texts: list[str], i: int) -> tuple[int, str] | None:
    first = texts[i]
    if first not in _PHRASE_FIRST_WORDS:
        return None
    starts = [(first, texts[i + 1]), (first,)] if i + 1 < len(texts) else [(first,)]
    for start in starts:
        for parts, tag in _PHRASES_BY_START.get(start, ()):
            end = i + len(parts)
            if end <= len(texts) and all(texts[i + k] == p for k, p in enumerate(parts)):
                return len(parts), tag
    return None
