"""Compare the contact-time resolver with dateparser on tests/resolver_corpus.jsonl.

    uv run python bench/resolver_bench.py

A case passes when the status matches and, for `ok`, the resolved minute matches. dateparser
has no notion of "ambiguous", of opt-outs or of a default contact hour, so it is also scored
leniently (status right and, for `ok`, the right calendar day). It is called the way its users
would: `dateparser.parse` on the whole message and `dateparser.search.search_dates` (first
date found), languages ru+en, RELATIVE_BASE = the client's local now, PREFER_DATES_FROM future,
TIMEZONE = the client's zone, RETURN_AS_TIMEZONE_AWARE. A date at or before now counts as
`past`, no date as `none`, anything else as `ok`.

Writes bench/results/resolver.md and bench/results/resolver.json.
"""

from __future__ import annotations

import json
import platform
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dateparser  # noqa: E402
from dateparser.search import search_dates  # noqa: E402

from followups.timeresolver import get_zone, local_now, resolve_text  # noqa: E402

CORPUS = ROOT / "tests" / "resolver_corpus.jsonl"
RESULTS = ROOT / "bench" / "results"
ROUNDS = 5  # timed passes over the corpus per resolver; the fastest counts

# (status, when) for a case
Answer = tuple[str, datetime | None]


def ours(case: dict) -> Answer:
    result = resolve_text(case["text"], case["now"], case["tz"])
    return result.status.value, result.when


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
    for case, answer in zip(cases, answers, strict=True):
        by_category[case["category"]].append(score(case, answer))
    return {
        "name": name,
        "per_second": round(len(cases) / fastest),
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


def markdown(runs: list[dict], cases: list[dict]) -> str:
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
        "| resolver | strict | lenient | resolutions/s |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['name']} | {r['strict']:.1%} | {r['lenient']:.1%} | {r['per_second']:,} |"
        for r in runs
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
    warnings.filterwarnings("ignore")  # dateparser's deprecation noise
    cases = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    runs = [
        evaluate("timeresolver", ours, cases, ROUNDS),
        evaluate("dateparser.parse", dateparser_parse, cases, ROUNDS),
        evaluate("dateparser search_dates", dateparser_search, cases, ROUNDS),
    ]
    RESULTS.mkdir(exist_ok=True)
    report = {"corpus_cases": len(cases), "runs": runs}
    (RESULTS / "resolver.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = markdown(runs, cases)
    (RESULTS / "resolver.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
