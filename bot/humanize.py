"""Times as the client reads them: «завтра в 10:00», «в пятницу, 28 ноября, в 10:00».

The agent's confirmation quotes this text verbatim, so what the client is told is exactly
what was scheduled.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from followups.texts import pick

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


_LANGUAGES = {
    "ru": {
        "near": ("сегодня", "завтра", "послезавтра"),
        "weekdays": _RU_WEEKDAYS,
        "months": _RU_MONTHS,
        "near_form": "{day} в {clock}",
        "week_form": "{weekday}, {date}, в {clock}",
        "date_form": "{date} в {clock}",
    },
    "en": {
        "near": ("today", "tomorrow"),
        "weekdays": _EN_WEEKDAYS,
        "months": _EN_MONTHS,
        "near_form": "{day} at {clock}",
        "week_form": "on {weekday}, {date}, at {clock}",
        "date_form": "on {date} at {clock}",
    },
}


def describe_when(when: datetime, now: datetime, zone: ZoneInfo, language: str = "ru") -> str:
    words = pick(_LANGUAGES, language)
    local, today = when.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    clock = local.strftime("%H:%M")
    if 0 <= days < len(words["near"]):
        return words["near_form"].format(day=words["near"][days], clock=clock)
    date = f"{local.day} {words['months'][local.month - 1]}"
    if local.year != today.year:
        date += f" {local.year}"
    if 0 < days < 7:
        weekday = words["weekdays"][local.weekday()]
        return words["week_form"].format(weekday=weekday, date=date, clock=clock)
    return words["date_form"].format(date=date, clock=clock)
