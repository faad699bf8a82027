"""Quiet hours: a daily window, in the client's local time, when the product does not write
first. Only what the product sends on its own initiative is moved; a time the client asked
for is kept."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:  # models imports this module (validate_quiet_hours)
    from followups.models import Account, Prospect


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


def account_quiet_hours(account: "Account | None") -> QuietHours | None:
    """The account's quiet hours, else the global FOLLOWUPS_QUIET_HOURS ('off' turns them off
    for one account)."""
    spec = account.quiet_hours if account is not None and account.quiet_hours else None
    return QuietHours.parse(spec or settings.FOLLOWUPS_QUIET_HOURS)


def outside_quiet_hours(
    when: datetime, account: "Account | None", zone: ZoneInfo, client_requested_time: bool
) -> datetime:
    """`when`, or the end of the account's quiet window it falls in (on the client's clock,
    `zone`), unless the client named that time."""
    window = None if client_requested_time else account_quiet_hours(account)
    return window.defer(when, zone) if window else when


def respect_quiet_hours(
    when: datetime, prospect: "Prospect", client_requested_time: bool
) -> datetime:
    """`when`, or the end of the quiet window (the prospect's account's) it falls in, unless
    the client named it."""
    return outside_quiet_hours(when, prospect.account, prospect.zone, client_requested_time)
