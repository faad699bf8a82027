"""Resolve a client's words about when to contact them, as JSON (followups.timeresolver)."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from followups.timeresolver import DEFAULT_TZ, ResolverInputError, resolve_text


class Command(BaseCommand):
    requires_system_checks = []  # pure computation: no models, no database
    help = (
        'Resolve "TEXT" to {"status", "when", "fallback", "span"}; with --jsonl FILE (- for '
        'stdin) resolve {"id", "text", "now", "tz"} lines to {"id", "status", "when", "fallback"}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("text", nargs="?", help="the client's message")
        parser.add_argument(
            "--now", help="ISO 8601; without an offset it is local to --tz (default: now)"
        )
        parser.add_argument("--tz", default=DEFAULT_TZ, help=f"IANA zone (default {DEFAULT_TZ})")
        parser.add_argument("--jsonl", metavar="FILE", help="a JSON-lines file, or - for stdin")

    def handle(self, *args, text=None, now=None, tz=DEFAULT_TZ, jsonl=None, **options):
        if jsonl is not None:
            if text is not None:
                raise CommandError("give either TEXT or --jsonl, not both")
            self._batch(jsonl, now, tz)
            return
        if text is None:
            raise CommandError('give the TEXT to resolve, or --jsonl FILE ("-" for stdin)')
        try:
            result = resolve_text(text, now, tz).to_json()
        except ResolverInputError as exc:
            raise CommandError(str(exc)) from exc
        output = {key: result[key] for key in ("status", "when", "fallback", "span")}
        if result["opt_out"]:
            output["opt_out"] = True
        self.stdout.write(json.dumps(output, ensure_ascii=False))

    def _batch(self, path: str, now: str | None, tz: str) -> None:
        """One output line per input line, in order; a bad line yields an error line."""
        if path == "-":
            lines = sys.stdin.readlines()
        else:
            try:
                with open(path, encoding="utf-8") as source:
                    lines = source.readlines()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc}") from exc
        lines = [line for line in lines if line.strip()]
        if lines:
            self.stdout.write("\n".join(_resolve_line(line, now, tz) for line in lines))


def _error(ident: Any, message: str) -> str:
    return json.dumps({"id": ident, "status": "error", "error": message}, ensure_ascii=False)


def _resolve_line(line: str, now: str | None, tz: str) -> str:
    try:
        item = json.loads(line)
    except ValueError as exc:
        return _error(None, f"malformed JSON: {exc}")
    ident = item.get("id") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return _error(ident, 'each line must be a JSON object with a string "text"')
    try:
        result = resolve_text(item["text"], item.get("now") or now, item.get("tz") or tz)
    except ResolverInputError as exc:
        return _error(ident, str(exc))
    payload = result.to_json()
    return json.dumps(
        {"id": ident, **{key: payload[key] for key in ("status", "when", "fallback")}},
        ensure_ascii=False,
    )
