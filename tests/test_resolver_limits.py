"""The resolver on hostile input: what it refuses, and that no message can make it blow up.

No database: pure computation (one test runs the resolver in a child process, to bound it).
"""

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.resolver_bench import adversarial
from followups.timeresolver import (
    MAX_TEXT_LENGTH,
    ResolverInputError,
    Status,
    lexicon,
    resolve_fields,
    resolve_text,
)
from followups.timeresolver.parse import grammar, model

ROOT = Path(__file__).parents[1]
NOW = "2026-11-18T14:30"
LISTENER_CAP = 4000  # BOT_MAX_INBOUND_CHARS by default


def test_text_up_to_the_cap_is_read_and_longer_is_an_input_error():
    padding = "Добрый день! " * (MAX_TEXT_LENGTH // 13)
    request = "Позвоните завтра в 11"
    accepted = padding[: MAX_TEXT_LENGTH - len(request)] + request
    assert len(accepted) == MAX_TEXT_LENGTH >= LISTENER_CAP
    assert resolve_text(accepted, NOW).when == datetime.fromisoformat("2026-11-19T11:00+08:00")
    with pytest.raises(ResolverInputError, match=f"at most {MAX_TEXT_LENGTH:,}"):
        resolve_text(accepted + ".", NOW)
    with pytest.raises(ResolverInputError, match="must be a string"):
        resolve_text(None, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "now",
    [
        "9999-12-31",
        "0001-01-01",
        "0001-01-01T00:00+00:00",
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        12345,
        date(2026, 11, 18),
    ],
)
def test_a_now_the_arithmetic_cannot_use_is_an_input_error(now):
    """The calendar ends at years 1 and 9999 (an OverflowError once); a number or a date has
    no time of day (an AttributeError once)."""
    with pytest.raises(ResolverInputError, match="'now'"):
        resolve_text("через 2 часа", now)
    with pytest.raises(ResolverInputError, match="'now'"):
        resolve_fields({"days_ahead": 1}, now)


@pytest.mark.parametrize("zone", ["America", "Europe/" + "x" * 300, "UTC\x00", "../etc", 5])
def test_a_time_zone_that_is_no_zone_is_an_input_error(zone):
    """A directory of the zone database or a name too long for a file raised OSError, which
    no caller expects, through the argument and through the `time_zone` field alike."""
    with pytest.raises(ResolverInputError, match="time zone"):
        resolve_text("завтра в 5", NOW, zone)
    with pytest.raises(ResolverInputError, match="time_zone"):
        resolve_fields({"hour": 5, "time_zone": zone}, NOW)


def test_a_word_mixing_scripts_is_read():
    """A Latin letter with no Cyrillic look-alike in a Cyrillic word ("приbет") sent the
    look-alike replacement into endless recursion."""
    result = resolve_text("приbет, позвоните завтра в 5", NOW)
    assert result.when == datetime.fromisoformat("2026-11-19T17:00+08:00")


def test_typos_are_looked_for_only_in_words_of_a_length_a_typo_can_reach(monkeypatch):
    """The variants of a word with two letters deleted grow with the cube of its length: a
    1,000-letter word took 9 s and 1 GB."""
    lengths = []
    deletions = lexicon._deletions

    def counting(word: str, depth: int) -> set[str]:
        lengths.append(len(word))
        return deletions(word, depth)

    monkeypatch.setattr(lexicon, "_deletions", counting)
    word = "абвгдежзийклмнопрстуфхцчшщэюя" * 7
    assert resolve_text(f"{word} завтра в 5", NOW).status == Status.OK
    assert lexicon.word_tags("завтрашнеее") == "tomorrow"  # a typo is still one
    assert lengths and max(lengths) <= len("послезавтрашний") + 2


def test_no_time_rule_takes_in_a_run_of_prepositions():
    """A rule that took any number of prepositions ("в в в ... 5") scanned the run again from
    each of them: quadratic in the run."""
    tags = "at " * 50 + "5"
    for rule in grammar.RULES:
        for m in rule.regex.finditer(tags):
            assert len(m.group().split()) <= 5, rule.regex.pattern


def test_a_message_is_read_from_its_last_mentions():
    """Hundreds of times in one message are not weighed one by one: it is read from just
    before its MAX_MENTIONS-th last time on (the request is usually at the end). The request
    names two ("завтра", "в 11"): with one of them cut off, the other is half of it."""
    request, stay = "Позвоните завтра в 11. ", "Заезд 20 ноября. "
    assert resolve_text(request + stay * (model.MAX_MENTIONS - 2), NOW).status == Status.OK
    half = resolve_text(request + stay * (model.MAX_MENTIONS - 1), NOW)
    assert (half.status, half.unused) == (Status.AMBIGUOUS, ("завтра",))
    assert resolve_text(request + stay * model.MAX_MENTIONS, NOW).status == Status.NONE
    assert resolve_text(stay * model.MAX_MENTIONS + request, NOW).status == Status.OK


_BOUNDED_RUN = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from followups.timeresolver import resolve_text
for text in json.load(sys.stdin):
    print(resolve_text(text, "2026-11-18T14:30").status.value)
"""


def test_no_hostile_message_blows_up():
    """Every adversarial message of the bench, as long as the listener lets through and as
    long as the resolver reads, resolves in a child process limited to 1 GB of address space,
    within a generous minute (each takes milliseconds; before, one long word took seconds
    and gigabytes)."""
    texts = [*adversarial(LISTENER_CAP).values(), *adversarial(MAX_TEXT_LENGTH).values()]
    run = subprocess.run(
        [sys.executable, "-c", _BOUNDED_RUN],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.stdout.split()) <= {status.value for status in Status}
    assert len(run.stdout.split()) == len(texts)


def _lines_run(text: str) -> int:
    """How many lines of Python resolving `text` executes (a count of work, not a timing)."""
    resolve_text(text, NOW)  # warm the caches, so that both sizes are counted alike
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        count += event == "line"
        return trace

    sys.settrace(trace)
    try:
        resolve_text(text, NOW)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize(
    "name",
    [
        "clock times",
        "options",
        "options in one clause",
        "corrections",
        "ranges, then after",
        "days before an event",
        "fragments",
        "full stops",
        "corpus messages, no punctuation",
    ],
)
def test_work_grows_linearly_with_the_message(name):
    """Four times the text, at most six times the work: the clause of each time is found once
    and reaches a bounded distance, mentions are looked up by identity, options share their
    context through their nearest neighbours. (Quadratic, it was eight to sixteen times.)"""
    small, large = _lines_run(adversarial(500)[name]), _lines_run(adversarial(2000)[name])
    assert large <= 6 * small, (small, large)
