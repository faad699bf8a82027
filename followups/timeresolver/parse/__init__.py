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

from itertools import accumulate

from ..lexicon import cut_short, time_form, tokenize
from .accounting import unused_words
from .assembly import share_context, spec_of
from .context import DO_NOT_CONTACT, NOT_NEEDED, OPT_OUT_SOFT, OPT_OUT_STRONG, char_span, weigh
from .ellipsis import complete_ellipses
from .model import DROP_REASONS, MAX_MENTIONS, Candidate, Parsed
from .runon import find_expressions, run_on_breaks, with_breaks

__all__ = ["DROP_REASONS", "Candidate", "Parsed", "parse"]


def parse(text: str, month_first: bool = False) -> Parsed:
    """`month_first`: the client writes dates month first ("01/05" is 5 January)."""
    toks, exprs, tags, ctx, tag_string = find_expressions(tokenize(text), month_first)
    if breaks := run_on_breaks(toks, exprs):
        toks, exprs, tags, ctx, tag_string = find_expressions(
            with_breaks(toks, breaks), month_first
        )
    weighed = []
    for expr in complete_ellipses(exprs, tag_string, ctx)[-MAX_MENTIONS:]:
        options = share_context(expr.options)
        fields = options[0] if len(options) == 1 else {"alternatives": options}
        score, drop = (0, "replaced") if expr.replaced else weigh(expr, tags)
        until = fields.get("bound") == "before" or (expr.lead == "before" and "bound" not in fields)
        if drop in ("unavailable", "negated") and until:
            # "занят до 5", "до 9 не звоните": contact can start where the window ends
            fields, drop = {k: v for k, v in fields.items() if k != "bound"}, None
        if fields.keys() <= {"year", "bound"} and not isinstance(fields.get("year"), int):
            fields = {"vague": True}  # "в следующем году" alone: no month, no day
        if spec := spec_of(fields):
            weighed.append((expr, spec, score, drop))
    # the words of every time found were read, whether it is chosen or set aside; a vague
    # wish reads none ("next year in march": which March?)
    read = {i for e, spec, *_ in weighed if not spec.vague for i in range(e.start, e.end)}
    read -= {i for i in read if toks[i].tag == "_" and time_form(toks[i].text)}  # a gap
    cut = [i for i, tok in enumerate(toks) if tok.tag == "_" and cut_short(tok.text)]
    sentences = list(accumulate(tok.tag == "|" for tok in toks)) if cut else []
    candidates = [
        Candidate(
            spec,
            char_span(toks, e.start, e.end),
            score,
            drop,
            unused_words(toks, e, read, cut, sentences),
        )
        for e, spec, score, drop in weighed
    ]
    opt_out, opt_span = None, None
    checks = [("strong", OPT_OUT_STRONG), ("soft", OPT_OUT_SOFT)]
    if not any(c.drop in ("negated", "unavailable") for c in candidates):
        checks[1:1] = [("strong", DO_NOT_CONTACT), ("soft", NOT_NEEDED)]
    for strength, regex in checks:
        if m := regex.search(tag_string):
            opt_out, opt_span = strength, char_span(toks, *ctx.tokens(m))
            break
    return Parsed(tuple(candidates), opt_out, opt_span)
