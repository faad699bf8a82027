"""Resolve a client's words about when to contact them, as JSON (followups.timeresolver)."""

import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from followups.timeresolver import (
    DEFAULT_TZ,
    ResolverInputError,
    get_zone,
    local_now,
    resolve_text,
)


class Command(BaseCommand):
    requires_system_checks = []  # pure computation: no models, no database
    help = (
        'Resolve "TEXT" to {"status", "when", "fallback", "span"}; with --jsonl FILE (- for '
        'stdin) resolve {"id", "text", "now", "tz"} lines to {"id", "status", "when", "fallback"} '
        "(a bad line yields an error line; the exit status is 1 if any line failed)."
    )

    def add_arguments(self, parser):
        parser.add_argument("text", nargs="?", help="the client's message")
        parser.add_argument(
            "--now", help="ISO 8601; without an offset it is local to --tz (default: now)"
        )
        parser.add_argument("--tz", default=DEFAULT_TZ, help=f"IANA zone (default {DEFAULT_TZ})")
        parser.add_argument("--jsonl", metavar="FILE", help="a JSON-lines file, or - for stdin")

    def handle(self, *args, text=None, now=None, tz=DEFAULT_TZ, jsonl=None, **options):
        if jsonl is not None and text is not None:
            raise CommandError("give either TEXT or --jsonl, not both")
        if jsonl is None and text is None:
            raise CommandError('give the TEXT to resolve, or --jsonl FILE ("-" for stdin)')
        try:
            local_now(now, get_zone(tz))  # bad options fail before any line is read
        except ResolverInputError as exc:
            raise CommandError(str(exc)) from exc
        if jsonl is not None:
            failed, total = self._batch(jsonl, now, tz)
            if failed:
                raise CommandError(f'{failed} of {total} lines failed: see their "error"')
            return
        try:
            result = resolve_text(text, now, tz).to_json()
        except ResolverInputError as exc:
            raise CommandError(str(exc)) from exc
        output = {key: result[key] for key in ("status", "when", "fallback", "span")}
        if result["opt_out"]:
            output["opt_out"] = True
        if result["unused"]:
            output["unused"] = result["unused"]  # words beside the time that were not read
        self.stdout.write(json.dumps(output))

    def _batch(self, path: str, now: str | None, tz: str) -> tuple[int, int]:
        """One output line per input line, in order, written as it is resolved; a bad line
        yields an error line. Returns (failed, total)."""
        failed = total = 0
        for line in _read_lines(path):
            output, ok = _resolve_line(line, now, tz)
            self.stdout.write(output)
            total += 1
            failed += not ok
        return failed, total


def _read_lines(path: str) -> Iterator[bytes]:
    """The non-blank lines of a file (- for stdin), undecoded: a line that is not UTF-8 is
    one bad line."""
    try:
        with nullcontext(sys.stdin.buffer) if path == "-" else open(path, "rb") as source:
            for line in source:
                if line.strip():
                    yield line
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc


def _given(item: dict, key: str, default: str | None) -> Any:
    """A line's own value, or the option's when it has none (missing, null or "")."""
    value = item.get(key)
    return default if value is None or value == "" else value


def _error(ident: Any, message: str) -> tuple[str, bool]:
    return json.dumps({"id": ident, "status": "error", "error": message}), False


def _resolve_line(raw: bytes, now: str | None, tz: str) -> tuple[str, bool]:
    """The output line for one input line (ASCII JSON: an id may hold any character), and
    whether it resolved."""
    try:
        item = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return _error(None, f"not UTF-8: {exc.reason} at byte {exc.start}")
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        return _error(None, f"malformed JSON: {exc}")
    ident = item.get("id") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return _error(ident, 'each line must be a JSON object with a string "text"')
    try:
        resolution = resolve_text(item["text"], _given(item, "now", now), _given(item, "tz", tz))
    except ResolverInputError as exc:
        return _error(ident, str(exc))
    result = resolution.to_json()
    return json.dumps(
        {"id": ident, **{key: result[key] for key in ("status", "when", "fallback")}}
    ), True
