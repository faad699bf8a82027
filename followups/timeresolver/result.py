"""What a resolution returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    AMBIGUOUS = "ambiguous"
    PAST = "past"
    NONE = "none"


@dataclass(frozen=True)
class Resolution:
    """`when` is set only for `ok`: the contact time, aware, in the client's zone, to the minute.
    `fallback` is set only for `ambiguous`, when one reading is a sensible default. `span` is
    the [start, end) character range of the words that named the time (or the opt-out).
    `unused` lists the time-bearing words beside that time which no reading used ("2015" in
    "April 14, 2015" if the year were not read): then the status is never `ok`."""

    status: Status
    when: datetime | None = None
    fallback: datetime | None = None
    span: tuple[int, int] | None = None
    reason: str = ""
    opt_out: bool = False
    unused: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: datetimes as ISO 8601 with the client's offset."""
        return {
            "status": self.status.value,
            "when": _iso(self.when),
            "fallback": _iso(self.fallback),
            "span": list(self.span) if self.span else None,
            "reason": self.reason,
            "opt_out": self.opt_out,
            "unused": list(self.unused),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
