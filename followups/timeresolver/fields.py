"""The structured form of a contact time: its JSON schema, and validation into a Spec.

The fields are what the client *said*, never a computed date: an LLM extracts them reliably
("next Friday" is {"weekday": "friday", "weekday_modifier": "next"}), and arithmetic.py does the
calendar work. The text parser produces the same fields, so both paths share one arithmetic.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS_OF_DAY = (
    "morning",
    "noon",
    "lunch",
    "afternoon",
    "towards_evening",
    "end_of_day",
    "evening",
    "night",
)
_RELATIONS = ("this", "next", "last")
WEEK_RELATIONS = (*_RELATIONS, "after_next")  # "week after next", "после следующей недели"
_PARTS = ("start", "middle", "end")


class ResolverInputError(ValueError):
    """Input the resolver cannot work with: a bad field, time zone or timestamp."""


def get_zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo for an IANA name; ResolverInputError if there is no such zone."""
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str):
        raise ResolverInputError(f"a time zone must be an IANA name, got {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    # OSError: a name too long for a file name, or a directory ("America")
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ResolverInputError(f"unknown time zone {reprlib.repr(tz)}") from exc


def _enum(values: tuple[str, ...], description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), "description": description}


def _int(low: int, high: int, description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, "description": description}


FIELDS: dict[str, dict[str, Any]] = {
    "duration_minutes": {
        "type": "number",
        "minimum": -525600,
        "maximum": 525600,
        "description": "'in N minutes/hours' as minutes from now (полтора часа = 90); "
        "negative for '... ago'",
    },
    "days_ahead": _int(-366, 366, "0 today, 1 tomorrow, 2 the day after, N 'in N days'"),
    "weeks_ahead": _int(-52, 52, "'in N weeks'"),
    "months_ahead": _int(-120, 120, "'in N months' ('in 4 years' is 48)"),
    "weekday": _enum(WEEKDAYS, "a named day of the week"),
    "weekday_modifier": _enum(_RELATIONS, "the word right before the weekday: this/next/last"),
    "weekday_ordinal": {
        "type": "integer",
        "minimum": -5,
        "maximum": 5,
        "description": "with a month: the N-th weekday of it ('third tuesday of september' 3, "
        "'последняя пятница декабря' -1); without: the N-th one from now ('через 3 пятницы' 3, "
        "'2 thursdays ago' -2); never 0",
    },
    "week": _enum(
        WEEK_RELATIONS,
        "a week named on its own: 'next week', 'Friday next week', 'the week after next'",
    ),
    "week_part": _enum(_PARTS, "start/middle/end of the week"),
    "weekend": {"type": "boolean", "description": "the weekend"},
    "year": {
        "anyOf": [
            _int(2000, 2100, "a year the client wrote (alone: past once gone, else no day)"),
            _enum(("this", "next"), "this/next year, with a month"),
        ]
    },
    "month": {
        "anyOf": [
            _int(1, 12, "a calendar month the client named"),
            _enum(_RELATIONS, "this/next/last month"),
        ]
    },
    "day": _int(1, 31, "a day of the month the client named"),
    "month_part": _enum(_PARTS, "start/middle/end of the month"),
    "hour": _int(0, 24, "the hour exactly as the client said it ('в 5' is 5, not 17)"),
    "minute": _int(0, 59, "minutes of the clock time"),
    "meridiem": _enum(("am", "pm"), "only if the client said am/pm or wrote 24-hour form"),
    "part_of_day": _enum(PARTS_OF_DAY, "a part of the day the client named"),
    "same_time": {"type": "boolean", "description": "'at this same time' (the clock time now)"},
    "bound": _enum(("after", "before", "by"), "'after 3', 'before lunch', 'by the evening'"),
    "time_zone": {
        "type": "string",
        "description": "IANA zone whose clock the client used ('в 15 по мск': Europe/Moscow)",
    },
    "days_before": _int(
        -366,
        366,
        "contact this many days before the day named ('за 2 дня до 1 декабря': 2); negative:"
        " that many days after it ('the day after tomorrow at 9': -1), not 0",
    ),
    "approximate": {"type": "boolean", "description": "the amount was vague ('several days')"},
    "vague": {"type": "boolean", "description": "a wish with no usable time ('later', 'soon')"},
}

STRUCTURED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "When the client asked to be contacted, in their own terms; no arithmetic.",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        **FIELDS,
        "alternatives": {
            "type": "array",
            "minItems": 2,
            "description": "options the client offered ('Monday or Tuesday'), each a set of "
            "the fields above",
            "items": {"type": "object", "additionalProperties": False, "properties": FIELDS},
        },
    },
}

_RELATIVE = ("days_ahead", "weeks_ahead", "months_ahead")


@dataclass(frozen=True)
class Spec:
    """Validated fields. `weekday` is 0 (Monday) to 6 (Sunday)."""

    duration_minutes: float | None = None
    days_ahead: int | None = None
    weeks_ahead: int | None = None
    months_ahead: int | None = None
    weekday: int | None = None
    weekday_modifier: str | None = None
    weekday_ordinal: int | None = None
    week: str | None = None
    week_part: str | None = None
    weekend: bool = False
    year: int | str | None = None
    month: int | str | None = None
    day: int | None = None
    month_part: str | None = None
    hour: int | None = None
    minute: int | None = None
    meridiem: str | None = None
    part_of_day: str | None = None
    same_time: bool = False
    bound: str | None = None
    days_before: int | None = None
    time_zone: str | None = None
    approximate: bool = False
    vague: bool = False
    alternatives: tuple[Spec, ...] = ()


def _describe(rule: Mapping[str, Any]) -> str:
    if "anyOf" in rule:
        return " or ".join(_describe(option) for option in rule["anyOf"])
    if "enum" in rule:
        return "one of " + ", ".join(rule["enum"])
    if "minimum" in rule:
        return f"{rule['type']} {rule['minimum']}..{rule['maximum']}"
    return rule["type"]


def _matches(value: Any, rule: Mapping[str, Any]) -> bool:
    if "anyOf" in rule:
        return any(_matches(value, option) for option in rule["anyOf"])
    kind = rule["type"]
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "string":
        return isinstance(value, str) and ("enum" not in rule or value in rule["enum"])
    if kind == "integer" and not isinstance(value, int):
        return False
    if kind == "number" and not (isinstance(value, int | float) and math.isfinite(value)):
        return False
    return rule["minimum"] <= value <= rule["maximum"]


def _fail(path: str, message: str) -> ResolverInputError:
    """An error inside an option of "alternatives" says which one."""
    return ResolverInputError(f"in {path.rstrip('.')}: {message}" if path else message)


def _q(path: str, name: str) -> str:
    """A field's name as the caller wrote it: 'hour', or 'alternatives[1].hour'."""
    return f"'{path}{name}'"


def validate(fields: Mapping[str, Any], path: str = "") -> Spec:
    """Check fields against STRUCTURED_SCHEMA and the rules of combination; raise
    ResolverInputError naming the offending field."""
    if not isinstance(fields, Mapping):
        raise _fail(path, f"fields must be an object, got {type(fields).__name__}")
    if not fields:
        raise _fail(path, "no fields given")
    if "alternatives" in fields:
        return _validate_alternatives(fields, path)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        rule = FIELDS.get(name)
        if rule is None:
            raise ResolverInputError(f"unknown field {_q(path, name)}")
        if not _matches(value, rule):
            raise ResolverInputError(
                f"field {_q(path, name)} must be {_describe(rule)}, got {reprlib.repr(value)}"
            )
        values[name] = value
    _check_combination(values, path)
    if "time_zone" in values and not _is_zone(values["time_zone"]):
        raise ResolverInputError(f"field {_q(path, 'time_zone')}: unknown time zone")
    if "weekday" in values:
        values["weekday"] = WEEKDAYS.index(values["weekday"])
    return Spec(**values)


def _is_zone(name: str) -> bool:
    try:
        get_zone(name)
    except ResolverInputError:
        return False
    return True


def _validate_alternatives(fields: Mapping[str, Any], path: str) -> Spec:
    options = fields["alternatives"]
    if len(fields) > 1:
        raise _fail(path, "field 'alternatives' cannot be combined with other fields")
    if not isinstance(options, list) or len(options) < 2:
        raise _fail(path, "field 'alternatives' must be a list of at least two options")
    specs = []
    for i, option in enumerate(options):
        where = f"{path}alternatives[{i}]."
        if isinstance(option, Mapping) and "alternatives" in option:
            raise _fail(where, "alternatives cannot be nested")
        specs.append(validate(option, where))
    return Spec(alternatives=tuple(specs))


def _check_combination(values: dict[str, Any], path: str) -> None:
    present = set(values)

    def conflict(first: str, others: set[str]) -> None:
        clash = sorted(others & present) if first in present else ()
        if clash:
            raise ResolverInputError(
                f"fields {_q(path, first)} and {_q(path, clash[0])} cannot be combined"
            )

    def needs(name: str, *anchors: str) -> None:
        if name in present and not present & set(anchors):
            raise ResolverInputError(f"field {_q(path, name)} needs one of: {', '.join(anchors)}")

    if values.get("vague"):
        conflict("vague", present - {"vague"})
    for flag in ("weekend", "same_time", "approximate", "vague"):
        if values.get(flag) is False:
            del values[flag]
            present.discard(flag)
    if values.get("duration_minutes") == 0:
        raise ResolverInputError(f"field {_q(path, 'duration_minutes')} must not be 0")
    conflict("duration_minutes", present - {"duration_minutes", "approximate"})
    for i, name in enumerate(_RELATIVE):
        conflict(name, {*_RELATIVE[i + 1 :], "week", "weekend", "week_part", "month"})
        conflict(name, {"day", "month_part"})
    conflict("weekday", {"weekend", "week_part", "month_part", "months_ahead"})
    conflict("weekend", {"week_part", "day", "month", "month_part"})
    conflict("week_part", {"day", "month", "month_part"})
    conflict("week", {"weekday_modifier", "day", "month", "month_part"})
    conflict("day", {"month_part"})
    conflict("same_time", {"hour", "part_of_day"})
    for name in ("weekday_ordinal", "days_before"):
        if values.get(name) == 0:
            raise ResolverInputError(f"field {_q(path, name)} must not be 0")
    needs("weekday_ordinal", "weekday")
    conflict("weekday_ordinal", {"weekday_modifier", "week", "day", *_RELATIVE, "month_part"})
    ordinal = "weekday_ordinal" in present
    if {"weekday", "month"} <= present and "day" not in present and not ordinal:
        raise _fail(path, "fields 'weekday' and 'month' need a 'day' to be combined")
    needs("weekday_modifier", "weekday")
    needs("minute", "hour")
    needs("meridiem", "hour")
    if present != {"year"} or not isinstance(values["year"], int):
        needs("year", "month")  # a year number alone is allowed: "в 2025 году"
    needs("approximate", "duration_minutes", *_RELATIVE)
    needs("days_before", "day", "weekday", "week_part", "month_part", *_RELATIVE)
    conflict("days_before", {"bound"})
    if "month" in present and "year" in present and not isinstance(values["month"], int):
        raise ResolverInputError(f"field {_q(path, 'year')} needs a month number in 'month'")
    if "time_zone" in present and present <= {"time_zone", "bound"}:
        raise ResolverInputError(f"field {_q(path, 'time_zone')} needs a time or a day")
    conflict("time_zone", {"duration_minutes"})
    if "bound" in present and present <= {"bound", "approximate"}:
        raise ResolverInputError(f"field {_q(path, 'bound')} needs a time or a day to bound")
