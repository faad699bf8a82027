"""What the product says on its own: reminder texts, the plain follow-up and times in words,
per language."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from followups.models import ActionType, ScheduledAction

# A meeting reminder says only what is so: its title when it has one, and its link or place
# when they are known (nothing is promised for later: no other message will bring them).
REMINDER_24H = {
    "ru": {"titled": "Напоминаем: {day} в {time} — «{title}».",
           "plain": "Напоминаем: {day} в {time} у нас запланирована встреча."},
    "en": {"titled": "A reminder: {day} at {time} — “{title}”.",
           "plain": "A reminder: our meeting is {day} at {time}."},
}  # fmt: skip
REMINDER_1H = {
    "ru": {"titled": "Через час — «{title}»!", "plain": "Встреча через час!",
           "end": "Подготовьте вопросы, будем рады обсудить все детали."},
    "en": {"titled": "“{title}” starts in an hour!", "plain": "Our meeting starts in an hour!",
           "end": "Bring your questions, we'll be glad to go through every detail."},
}  # fmt: skip
MEETING_WHERE = {
    "ru": {"link": "Ссылка: {link}", "place": "Место: {place}."},
    "en": {"link": "Link: {link}", "place": "Where: {place}."},
}
GENERIC_REMINDER = {
    "ru": "Напоминаем о нашей договорённости. Если остались вопросы, напишите нам!",
    "en": "Just a reminder of what we agreed. If you have any questions, write to us!",
}
PLAIN_FOLLOW_UP = {
    "ru": "Здравствуйте! Как и договаривались, пишу вам. Удобно сейчас продолжить?",
    "en": "Hello! As agreed, I'm getting back to you. Is now a good time to continue?",
}


def pick(texts: dict, language: str):
    """The text in the client's language, Russian when we have none in theirs."""
    return texts.get((language or "ru")[:2].lower(), texts["ru"])


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
# Written out, not taken from the resolver: importing it would load its whole grammar into every
# worker (about 8 MiB each) for seven words. tests/test_humanize.py checks they match.
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
    """A time as the client reads it: «завтра в 10:00», «в пятницу, 28 ноября, в 10:00».

    The agent's confirmation quotes this text verbatim, so what the client is told is exactly
    what was scheduled.
    """
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


def meeting_day_words(
    starts_at: datetime, sent_at: datetime, zone: ZoneInfo, language: str
) -> tuple[str, str]:
    """('завтра', '15:00') for the meeting as the client will read it at `sent_at`.

    Computed at send time: quiet hours can move a "24 h before" reminder onto the
    meeting's own day, where "tomorrow" would be wrong.
    """
    start, now = starts_at.astimezone(zone), sent_at.astimezone(zone)
    today_word, tomorrow_word = pick(_LANGUAGES, language)["near"][:2]
    if start.date() == now.date():
        day = today_word
    elif start.date() == now.date() + timedelta(days=1):
        day = tomorrow_word
    else:
        day = start.strftime("%d.%m")
    return day, start.strftime("%H:%M")


def meeting_reminder(kind: str, meeting, sent_at: datetime, zone: ZoneInfo, language: str) -> str:
    """The "24h" or "1h" reminder of `meeting` as the client reads it at `sent_at`."""
    parts = pick(REMINDER_24H if kind == "24h" else REMINDER_1H, language)
    day, at = meeting_day_words(meeting.starts_at, sent_at, zone, language)
    title = " ".join(meeting.title.split())
    lines = [parts["titled" if title else "plain"].format(day=day, time=at, title=title)]
    if "end" in parts:
        lines.append(parts["end"])
    where = pick(MEETING_WHERE, language)
    if meeting.link:  # last, so that nothing runs into it
        lines.append(where["link"].format(link=meeting.link))
    elif meeting.place:
        lines.append(where["place"].format(place=meeting.place))
    return " ".join(lines)


# Why an action was cancelled, as staff read it; the code stays in the data and the filters.
CANCEL_REASONS = {
    "client_responded": "the client wrote",
    "opted_out": "the client opted out",
    "meeting_moved": "meeting moved",
    "meeting_cancelled": "meeting cancelled",
    "meeting_started": "meeting started",
}
_REASON_PREFIXES = {
    "agent: ": "the agent cancelled it: ",
    "recipient unreachable: ": "the client cannot be written to: ",
}


def readable_reason(code: str) -> str:
    """A cancel reason in words ("the client wrote"); a reason with no wording is shown as is
    ("cancelled by staff (name)" already reads as words)."""
    if code in CANCEL_REASONS:
        return CANCEL_REASONS[code]
    for prefix, words in _REASON_PREFIXES.items():
        if code.startswith(prefix):
            return words + code.removeprefix(prefix)
    return code


def render_text(action: ScheduledAction) -> str:
    """The text to send, in the client's language. An empty follow-up template is written at
    send time by settings.FOLLOWUPS_FOLLOWUP_WRITER."""
    prospect = action.prospect
    template = (action.payload.get("message_template") or "").strip()
    if action.action_type == ActionType.FOLLOW_UP:
        return template or import_string(settings.FOLLOWUPS_FOLLOWUP_WRITER)(action)
    if action.action_type == ActionType.PRE_MEETING_REMINDER and action.meeting is not None:
        kind = "1h" if action.payload.get("reminder_type") == "1h" else "24h"
        return meeting_reminder(
            kind, action.meeting, timezone.now(), prospect.zone, prospect.language
        )
    return template or pick(GENERIC_REMINDER, prospect.language)
