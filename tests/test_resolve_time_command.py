"""`manage.py resolve_time`: the single form and the JSON-lines batch form. No database."""

import io
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from followups.timeresolver import MAX_TEXT_LENGTH, resolve_text

ROOT = Path(__file__).parents[1]
CORPUS = [
    json.loads(line)
    for line in (ROOT / "tests" / "resolver_corpus.jsonl").read_text("utf-8").splitlines()
]


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command("resolve_time", *args, stdout=out, **options)
    return out.getvalue()


def run_lines(*args, **options) -> list[dict]:
    return [json.loads(line) for line in run(*args, **options).splitlines()]


def run_failing_batch(path: Path, failed: int, total: int, **options) -> list[dict]:
    """The output lines of a batch with bad lines: all written, then a CommandError (a
    non-zero exit status) that counts them."""
    out = io.StringIO()
    with pytest.raises(CommandError, match=f"{failed} of {total} lines failed"):
        call_command("resolve_time", jsonl=str(path), stdout=out, **options)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_single_prints_one_json_object():
    text = "Нас будет 4 человека, бюджет 2000$, напишите завтра после 3"
    output = run(text, now="2026-11-18T14:30", tz="Asia/Makassar")
    result = json.loads(output)
    assert result == {
        "status": "ok",
        "when": "2026-11-19T15:00:00+08:00",
        "fallback": None,
        "span": [45, 59],
    }
    assert text[45:59] == "завтра после 3"
    assert output.count("\n") == 1


def test_single_reports_ambiguity_with_a_fallback_and_flags_opt_out():
    result = json.loads(run("в следующую пятницу", now="2026-11-18T14:30"))
    assert result["status"] == "ambiguous"
    assert (result["when"], result["fallback"]) == (None, "2026-11-27T10:00:00+08:00")
    opt_out = json.loads(run("не пишите мне больше", now="2026-11-18T14:30"))
    assert opt_out["status"] == "none"
    assert opt_out["opt_out"] is True


def test_naive_now_is_local_to_tz_and_aware_now_is_converted():
    moscow = json.loads(run("через 2 часа", now="2026-11-19T10:00", tz="Europe/Moscow"))
    assert moscow["when"] == "2026-11-19T12:00:00+03:00"
    converted = json.loads(run("через 2 часа", now="2026-11-19T07:00:00+00:00"))
    assert converted["when"] == "2026-11-19T17:00:00+08:00"


def test_now_defaults_to_the_present_in_makassar():
    result = json.loads(run("через 2 часа"))
    when = datetime.fromisoformat(result["when"])
    assert when.utcoffset().total_seconds() == 8 * 3600
    assert when > datetime.now(ZoneInfo("Asia/Makassar"))


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("завтра",), {"now": "tomorrow-ish"}, "ISO 8601"),
        (("завтра",), {"tz": "Mars/Olympus"}, "time zone"),
        ((), {}, "TEXT"),
        (("завтра",), {"jsonl": "-"}, "not both"),
        ((), {"jsonl": "/nonexistent/cases.jsonl"}, "cannot read"),
        ((), {"jsonl": "/"}, "cannot read"),
        (("завтра",), {"now": "9999-12-31"}, "years"),
        (("завтра",), {"now": "0001-01-01"}, "years"),
        (("завтра",), {"tz": "America"}, "time zone"),
        (("завтра",), {"tz": "Europe/" + "x" * 300}, "time zone"),
        (("x" * (MAX_TEXT_LENGTH + 1),), {}, "at most"),
        ((), {"jsonl": "-", "now": "9999-12-31"}, "years"),  # before a line is read
        ((), {"jsonl": "-", "tz": "America"}, "time zone"),
    ],
)
def test_bad_input_is_a_command_error(args, options, message):
    with pytest.raises(CommandError, match=message):
        run(*args, **options)


def write_lines(path: Path, rows: list) -> Path:
    path.write_text(
        "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_jsonl_file_keeps_order_and_reports_bad_lines(tmp_path):
    rows = [
        {"id": "a", "text": "завтра в 5", "now": "2026-11-18T14:30", "tz": "Asia/Makassar"},
        "{not json",
        {"id": "c", "text": "через 2 часа", "now": "yesterday", "tz": "Asia/Makassar"},
        {"id": "d", "now": "2026-11-18T14:30"},
        {"id": "e", "text": "в 5", "now": "2026-11-18T14:30", "tz": "Nowhere/Land"},
        ["not", "an", "object"],
        {"id": 7, "text": "ночью", "now": "2026-11-18T14:30", "tz": "Asia/Makassar"},
    ]
    lines = run_failing_batch(write_lines(tmp_path / "in.jsonl", rows), failed=5, total=7)
    assert [line["id"] for line in lines] == ["a", None, "c", "d", "e", None, 7]
    assert lines[0] == {
        "id": "a",
        "status": "ok",
        "when": "2026-11-19T17:00:00+08:00",
        "fallback": None,
    }
    assert [line["status"] for line in lines[1:6]] == ["error"] * 5
    assert "malformed JSON" in lines[1]["error"]
    assert "ISO 8601" in lines[2]["error"]
    assert '"text"' in lines[3]["error"]
    assert "time zone" in lines[4]["error"]
    assert lines[6] == {"id": 7, "status": "ambiguous", "when": None, "fallback": None}


def test_jsonl_from_stdin(monkeypatch):
    rows = [
        json.dumps({"id": 1, "text": "tmrw morning", "now": "2026-11-18T14:30", "tz": "UTC"}),
        "",
        json.dumps({"id": 2, "text": "привет", "now": "2026-11-18T14:30", "tz": "UTC"}),
    ]
    stdin = io.TextIOWrapper(io.BytesIO(("\n".join(rows) + "\n").encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run_lines(jsonl="-") == [
        {"id": 1, "status": "ok", "when": "2026-11-19T10:00:00+00:00", "fallback": None},
        {"id": 2, "status": "none", "when": None, "fallback": None},
    ]


def test_every_bad_line_gets_an_error_line_and_the_batch_goes_on(tmp_path):
    """A wrong type, a date the calendar cannot reach, bytes that are not UTF-8, a zone name
    that is a directory, a text over the cap, JSON nested too deep: each once stopped the
    batch with a traceback. NUL and lone surrogates are characters like any other."""

    def line(ident, text="завтра в 5", **fields) -> bytes:
        return json.dumps({"id": ident, "text": text, "now": "2026-11-18T14:30", **fields}).encode()

    raw = [
        line(1, now=12345),
        line(2, now="9999-12-31"),
        line(3, now="0001-01-01T00:00+00:00"),
        b'{"id": 4, "text": "\xff\xfe"}',
        line(5, tz="America"),
        line(6, text="x" * (MAX_TEXT_LENGTH + 1)),
        b"[" * 100_000,
        line(8, text="завтра\x00 в 5"),
        line("\ud800", text="\udc00 завтра"),  # json.dumps escapes the surrogates
        line(10, text="в 5", now="", tz=None),  # no value of its own: the options'
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(raw) + b"\n")
    lines = run_failing_batch(path, failed=7, total=10, now="2026-11-19T09:00")
    assert [line["status"] for line in lines] == ["error"] * 7 + ["ok"] * 3
    errors = [line["error"] for line in lines[:7]]
    for error, expected in zip(
        errors,
        ["'now' must be", "years", "years", "not UTF-8", "time zone", "at most", "malformed"],
        strict=True,
    ):
        assert expected in error
    assert [line["id"] for line in lines[7:]] == [8, "\ud800", 10]
    assert [line["when"] for line in lines[7:]] == [
        "2026-11-19T17:00:00+08:00",
        "2026-11-19T10:00:00+08:00",
        "2026-11-19T17:00:00+08:00",
    ]


def test_jsonl_line_without_now_or_tz_uses_the_command_options(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [{"id": 1, "text": "через час"}])
    lines = run_lines(jsonl=str(path), now="2026-11-19T10:00", tz="Europe/Moscow")
    assert lines == [
        {"id": 1, "status": "ok", "when": "2026-11-19T11:00:00+03:00", "fallback": None}
    ]


def test_jsonl_500_lines_match_the_library(tmp_path):
    cases = [CORPUS[i % len(CORPUS)] for i in range(500)]
    rows = [
        {"id": i, "text": case["text"], "now": case["now"], "tz": case["tz"]}
        for i, case in enumerate(cases)
    ]
    lines = run_lines(jsonl=str(write_lines(tmp_path / "big.jsonl", rows)))
    assert [line["id"] for line in lines] == list(range(500))
    for line, case in zip(lines, cases, strict=True):
        expected = resolve_text(case["text"], case["now"], case["tz"]).to_json()
        keys = ("status", "when", "fallback")
        assert line == {"id": line["id"], **{key: expected[key] for key in keys}}


def test_the_real_cli_reports_a_failed_line_by_its_exit_status_without_a_traceback():
    manage = [sys.executable, str(ROOT / "manage.py"), "resolve_time", "--jsonl", "-"]
    good = json.dumps({"id": "x", "text": "завтра", "now": "2026-11-18T14:30"}).encode()
    run = subprocess.run(manage, input=b"\xff\n" + good + b"\n", capture_output=True)
    assert run.returncode == 1
    assert [json.loads(line)["status"] for line in run.stdout.splitlines()] == ["error", "ok"]
    assert b"1 of 2 lines failed" in run.stderr
    assert b"Traceback" not in run.stderr
    overflow = subprocess.run([*manage[:3], "x", "--now", "9999-12-31"], capture_output=True)
    assert overflow.returncode == 1
    assert b"Traceback" not in overflow.stderr


def test_the_real_cli_exits_non_zero_on_bad_input_and_reads_stdin():
    manage = [sys.executable, str(ROOT / "manage.py"), "resolve_time"]
    bad = subprocess.run([*manage, "завтра", "--now", "garbage"], capture_output=True, text=True)
    assert bad.returncode != 0
    assert "ISO 8601" in bad.stderr
    line = json.dumps({"id": "x", "text": "завтра", "now": "2026-11-18T14:30"})
    good = subprocess.run(
        [*manage, "--jsonl", "-"], input=line + "\n", capture_output=True, text=True, check=True
    )
    assert json.loads(good.stdout) == {
        "id": "x",
        "status": "ok",
        "when": "2026-11-19T10:00:00+08:00",
        "fallback": None,
    }
