"""Quiet hours: a daily window, in the client's local time, when the product does not write
first. Only what the product sends on its own initiative is moved; a time the client asked
for is kept."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> "QuietHours | None":
        """'21:00-09:00' → a window; '' or 'off' → None (no quiet hours)."""
        spec = spec.strip().lower()
        if spec in ("", "off", "none"):
            return None
        try:
            start_s, end_s = spec.split("-")
            start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
        except ValueError:
            raise ValueError(f"quiet hours must look like '21:00-09:00', got {spec!r}") from None
        return None if start == end else cls(start, end)

    def contains(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def defer(self, when: datetime, zone: ZoneInfo) -> datetime:
        """`when` if it is outside the window, else the window's end (same zone as `when`)."""
        local = when.astimezone(zone)
        if not self.contains(local.time()):
            return when
        day = local.date() if local.time() < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(when.tzinfo)


def validate_quiet_hours(spec: str) -> None:
    """A model validator: '21:00-09:00', 'off' or ''."""
    try:
        QuietHours.parse(spec)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
