"""Run-on messages: clause breaks for a message typed without punctuation."""

from __future__ import annotations

from itertools import pairwise

from ..lexicon import Tok
from .assembly import build_mention, group_mentions, match_rules, slots_of
from .grammar import REACH, Ctx, TagList
from .model import MAX_MENTIONS, Expr

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


def run_on_breaks(toks: list[Tok], exprs: list[Expr]) -> list[int]:
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
    slots = {e.start: slots_of(e.options[0]) for e in exprs}
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


def with_breaks(toks: list[Tok], breaks: list[int]) -> list[Tok]:
    """The tokens with a comma (of no width) before each break."""
    out: list[Tok] = []
    cuts = set(breaks)
    for i, tok in enumerate(toks):
        if i in cuts:
            out.append(Tok(",", tok.start, tok.start, ""))
        out.append(tok)
    return out


def find_expressions(
    toks: list[Tok], month_first: bool
) -> tuple[list[Tok], list[Expr], TagList, Ctx, str]:
    """The mentions of time in the tokens, grouped. A message naming more than MAX_MENTIONS
    times is read from REACH tags before the MAX_MENTIONS-th last one on: the tokens before
    are dropped (the mentions after keep what was found for them)."""
    ctx = Ctx.of(toks, month_first)
    tag_string = " ".join(ctx.tags)
    hits = match_rules(tag_string, ctx)
    if len(hits) > MAX_MENTIONS:
        cut = max(0, hits[-MAX_MENTIONS][0] - REACH)
        toks = toks[cut:]
        ctx = Ctx.of(toks, month_first)
        tag_string = " ".join(ctx.tags)
        hits = [(start - cut, end - cut, *rest) for start, end, *rest in hits[-MAX_MENTIONS:]]
    exprs = [build_mention(*hit) for hit in hits]
    return toks, group_mentions(exprs, ctx.tags), ctx.tags, ctx, tag_string
