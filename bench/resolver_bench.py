"""Compare the contact-time resolver with dateparser on tests/resolver_corpus.jsonl.

    uv run python bench/resolver_bench.py [--baseline main]

`--baseline REF` also times the resolver as it was at git REF, in the same process, so that
the throughput of the two can be compared as a ratio on a machine whose load varies.

A case passes when the status matches and, for `ok`, the resolved minute matches. A silent
wrong answer is an `ok` that is wrong: the client would be promised a time they did not ask
for, and nobody asks. dateparser has no notion of "ambiguous", of opt-outs or of a default
contact hour, so it is also scored leniently (status right and, for `ok`, the right calendar
day). It is called the way its users would: `dateparser.parse` on the whole message and
`dateparser.search.search_dates` (first date found), languages ru+en, RELATIVE_BASE = the
client's local now, PREFER_DATES_FROM future, TIMEZONE = the client's zone,
RETURN_AS_TIMEZONE_AWARE. A date at or before now counts as `past`, no date as `none`,
anything else as `ok`.

It also measures the resolver's worst case: hostile messages (see `adversarial`) as long as
the listener lets through, and as long as the resolver reads.

Writes bench/results/resolver.md and bench/results/resolver.json.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import platform
import random
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dateparser  # noqa: E402
from dateparser.search import search_dates  # noqa: E402

from followups.timeresolver import (  # noqa: E402
    MAX_TEXT_LENGTH,
    get_zone,
    local_now,
    resolve_text,
)
from followups.timeresolver.lexicon import WORDS  # noqa: E402

CORPUS = ROOT / "tests" / "resolver_corpus.jsonl"
RESULTS = ROOT / "bench" / "results"
ROUNDS = 5  # timed passes over the corpus per resolver; the fastest counts
WORST_ROUNDS = 10  # timed runs of each hostile message; the fastest counts
LISTENER_CAP = 4000  # BOT_MAX_INBOUND_CHARS by default: the longest message the agents read
NOW = "2026-11-18T11:00"

# (status, when) for a case
Answer = tuple[str, datetime | None]


def ours(case: dict) -> Answer:
    result = resolve_text(case["text"], case["now"], case["tz"])
    return result.status.value, result.when


def baseline(ref: str) -> Callable[[dict], Answer]:
    """The resolver as it was at git `ref`, imported from a copy under another name."""
    archive = subprocess.run(
        ["git", "archive", ref, "followups/timeresolver"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="resolver-baseline-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "followups" / "timeresolver").rename(folder / "baseline_timeresolver")
    sys.path.insert(0, str(folder))
    old = importlib.import_module("baseline_timeresolver")

    def resolve(case: dict) -> Answer:
        result = old.resolve_text(case["text"], case["now"], case["tz"])
        return result.status.value, result.when

    return resolve


def _dateparser_answer(found: datetime | None, now: datetime) -> Answer:
    if found is None:
        return "none", None
    found = found.astimezone(now.tzinfo)
    return ("ok", found) if found > now else ("past", None)


def _settings(case: dict) -> tuple[dict, datetime]:
    now = local_now(case["now"], get_zone(case["tz"]))
    settings = {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": case["tz"],
        "RETURN_AS_TIMEZONE_AWARE": True,
    }
    return settings, now


def dateparser_parse(case: dict) -> Answer:
    settings, now = _settings(case)
    return _dateparser_answer(
        dateparser.parse(case["text"], languages=["ru", "en"], settings=settings), now
    )


def dateparser_search(case: dict) -> Answer:
    settings, now = _settings(case)
    found = search_dates(case["text"], languages=["ru", "en"], settings=settings)
    return _dateparser_answer(found[0][1] if found else None, now)


def score(case: dict, answer: Answer) -> tuple[bool, bool]:
    """(strict, lenient): the status, and for `ok` the minute (strict) or the day (lenient)."""
    status, when = answer
    if status != case["expect_status"]:
        return False, False
    if status != "ok":
        return True, True
    expected = datetime.fromisoformat(case["expect_when"])
    when = when.astimezone(expected.tzinfo)
    return when.replace(second=0, microsecond=0) == expected, when.date() == expected.date()


def evaluate(name: str, resolver: Callable[[dict], Answer], cases: list[dict], rounds: int):
    """Score one pass; time `rounds` passes and keep the fastest (the least disturbed by other
    work on the machine)."""
    answers = [resolver(case) for case in cases]  # warm-up, and the answers scored
    fastest = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for case in cases:
            resolver(case)
        fastest = min(fastest, time.perf_counter() - start)
    by_category: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    silent = 0
    for case, answer in zip(cases, answers, strict=True):
        marks = score(case, answer)
        by_category[case["category"]].append(marks)
        silent += answer[0] == "ok" and not marks[0]
    return {
        "name": name,
        "per_second": round(len(cases) / fastest),
        "silent_wrong": silent / len(cases),
        "strict": sum(s for marks in by_category.values() for s, _ in marks) / len(cases),
        "lenient": sum(lenient for marks in by_category.values() for _, lenient in marks)
        / len(cases),
        "categories": {
            category: {
                "cases": len(marks),
                "strict": sum(s for s, _ in marks) / len(marks),
                "lenient": sum(lenient for _, lenient in marks) / len(marks),
            }
            for category, marks in sorted(by_category.items())
        },
    }


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def adversarial(length: int) -> dict[str, str]:
    """Hostile messages of `length` characters, each making one part of the resolver work
    hard: one long word (typo matching, transliteration), a time or a token every few
    characters (the grammar and the weighing of each time), runs the rules scan, mixed
    scripts, and real messages back to back."""
    rng = random.Random(10)
    texts = [json.loads(line)["text"] for line in CORPUS.read_text("utf-8").splitlines()]
    corpus = " ".join(rng.sample(texts, len(texts)))
    vocabulary = sorted(WORDS)
    long_words = [word for word in vocabulary if len(word) >= 12]

    def typo(word: str) -> str:
        i = rng.randrange(len(word))
        return word[:i] + rng.choice("абвгдеклмнопрстxyz") + word[i + 1 :]

    def words(pick) -> str:
        return " ".join(pick() for _ in range(length))[:length]

    return {
        "one word, one letter": _repeat("а", length),
        "one word, Cyrillic alphabet": _repeat("абвгдежзийклмнопрстуфхцчшщъыьэюя", length),
        "one word, Latin alphabet": _repeat("abcdefghijklmnopqrstuvwxyz", length),
        "one word, mixed scripts": _repeat("аb", length),
        "one word, contact stem": "напиши" + _repeat("е", length - 6),
        "one hyphenated word after пол-": "пол-" + _repeat("а-", length - 4),
        "typos of long words": words(lambda: typo(rng.choice(long_words))),
        "random 16-letter words": words(
            lambda: "".join(rng.choice("абвгдежзиклмнопрстуфх") for _ in range(16))
        ),
        "random vocabulary": words(lambda: rng.choice(vocabulary)),
        "digits": _repeat("1", length),
        "digits and spaces": _repeat("1 ", length),
        "phone numbers": _repeat("+7 (999) 123-45-67 ", length),
        "clock times": _repeat("12:30 ", length),
        "dotted dates": _repeat("20.11 ", length),
        "завтра в 5": _repeat("завтра в 5 ", length),
        "через 2 часа": _repeat("через 2 часа ", length),
        "tmrw at 5pm": _repeat("tmrw at 5pm ", length),
        "zavtra v 5 (transliterated)": _repeat("zavtra v 5 ", length),
        "mixed scripts": _repeat("zavtra завтра tmrw 2moro ", length),
        "options": _repeat("в понедельник или вторник в 5 или ", length),
        "options in one clause": _repeat("в 5 или нет в 6 или нет ", length),
        "corrections": _repeat("в 5, хотя нет, в 6, ", length),
        "ruled out, then offered": _repeat("не могу в 5 давайте в 6 ", length),
        "ranges, then after": _repeat("с 9 до 11 занята потом наберите ", length),
        "fragments": _repeat("через 20 ", length),
        "days before an event": _repeat("прилетаем 20-го, за 2 дня до вылета ", length),
        "prepositions, then a number": "5 " + _repeat("в ", length - 4) + " x",
        "negations": _repeat("не ", length),
        "abbreviations": _repeat("след. ", length),
        "full stops": _repeat(".", length),
        "parentheses": _repeat("(", length),
        "emoji": _repeat("😀", length),
        "newlines": _repeat("\n", length),
        "corpus messages": corpus[:length],
        "corpus messages, no punctuation": "".join(c for c in corpus if c.isalnum() or c == " ")[
            :length
        ],
    }


def worst_case(length: int, rounds: int = WORST_ROUNDS) -> dict:
    """The slowest adversarial message of `length` characters (each timed as the fastest of
    `rounds` runs, one round over them all after another, so that a burst of other work on
    the machine does not spoil all the runs of one) and the one that needs the most memory at
    its peak."""
    texts = adversarial(length)
    peaks = {}
    for name, text in texts.items():
        tracemalloc.start()
        resolve_text(text, NOW)  # also the warm-up: the word cache
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    times = dict.fromkeys(texts, float("inf"))
    for _ in range(rounds):
        for name, text in texts.items():
            times[name] = min(times[name], _seconds(text))
    slowest, hungriest = max(times, key=times.get), max(peaks, key=peaks.get)
    return {
        "length": length,
        "inputs": len(times),
        "ms": round(times[slowest] * 1000, 2),
        "slowest": slowest,
        "peak_mb": round(peaks[hungriest] / 2**20, 2),
        "hungriest": hungriest,
    }


def _seconds(text: str) -> float:
    start = time.perf_counter()
    resolve_text(text, NOW)
    return time.perf_counter() - start


def markdown(runs: list[dict], cases: list[dict], worst: list[dict]) -> str:
    lines = [
        "# Contact-time resolver vs dateparser",
        "",
        f"Corpus: `tests/resolver_corpus.jsonl`, {len(cases)} hand-written cases "
        f"(Russian, English, mixed). Python {platform.python_version()}, "
        f"dateparser {dateparser.__version__}, {platform.machine()}.",
        "",
        "Strict: status right and, for `ok`, the minute right. Lenient: status right and, for "
        "`ok`, the calendar day right (dateparser has no default contact hour). "
        f"Resolutions per second: the fastest of {ROUNDS} passes, same process.",
        "",
        "| resolver | strict | lenient | silent wrong | resolutions/s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['name']} | {r['strict']:.1%} | {r['lenient']:.1%} | {r['silent_wrong']:.1%} "
        f"| {r['per_second']:,} |"
        for r in runs
    ]
    lines += [
        "",
        f"timeresolver's worst case ({worst[0]['inputs']} hostile messages, see "
        "`adversarial` in the bench; each timed as the fastest of "
        f"{WORST_ROUNDS} runs; memory: tracemalloc's peak):",
        "",
    ]
    lines += [
        f"- {w['length']:,} characters: {w['ms']} ms (“{w['slowest']}”), "
        f"peak {w['peak_mb']} MB (“{w['hungriest']}”)"
        for w in worst
    ]
    lines += ["", "Strict pass rate by category:", ""]
    lines.append("| category | cases | " + " | ".join(r["name"] for r in runs) + " |")
    lines.append("|---|---|" + "---|" * len(runs))
    for category, stats in runs[0]["categories"].items():
        cells = " | ".join(f"{r['categories'][category]['strict']:.0%}" for r in runs)
        lines.append(f"| {category} | {stats['cases']} | {cells} |")
    lines += ["", "How dateparser was called: see the docstring of `bench/resolver_bench.py`.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="REF", help="also time the resolver at git REF")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # dateparser's deprecation noise
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    runs = [evaluate("timeresolver", ours, cases, ROUNDS)]
    if args.baseline:
        runs.append(
            evaluate(f"timeresolver at {args.baseline}", baseline(args.baseline), cases, ROUNDS)
        )
    runs += [
        evaluate("dateparser.parse", dateparser_parse, cases, ROUNDS),
        evaluate("dateparser search_dates", dateparser_search, cases, ROUNDS),
    ]
    worst = [worst_case(LISTENER_CAP), worst_case(MAX_TEXT_LENGTH)]
    RESULTS.mkdir(exist_ok=True)
    report = {"corpus_cases": len(cases), "runs": runs, "worst_case": worst}
    (RESULTS / "resolver.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(runs, cases, worst)
    (RESULTS / "resolver.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
