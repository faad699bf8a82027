"""Times as the client reads them: «завтра в 10:00», «в пятницу, 28 ноября, в 10:00».

The agent's confirmation quotes this text verbatim, so what the client is told is exactly
what was scheduled.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

_RU_WEEKDAYS = (
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
)
_RU_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def describe_when(when: datetime, now: datetime, zone: ZoneInfo, language: str = "ru") -> str:
    local, today = when.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    clock = local.strftime("%H:%M")
    english = (language or "ru")[:2].lower() == "en"
    if english:
        near = {0: "today", 1: "tomorrow"}
        if days in near:
            return f"{near[days]} at {clock}"
        date = f"{local.day} {_EN_MONTHS[local.month - 1]}"
        if local.year != today.year:
            date += f" {local.year}"
        if 0 < days < 7:
            return f"on {_EN_WEEKDAYS[local.weekday()]}, {date}, at {clock}"
        return f"on {date} at {clock}"
    near = {0: "сегодня", 1: "завтра", 2: "послезавтра"}
    if days in near:
        return f"{near[days]} в {clock}"
    date = f"{local.day} {_RU_MONTHS[local.month - 1]}"
    if local.year != today.year:
        date += f" {local.year}"
    if 0 < days < 7:
        return f"{_RU_WEEKDAYS[local.weekday()]}, {date}, в {clock}"
    return f"{date} в {clock}"
