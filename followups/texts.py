"""What the product says on its own: reminder texts and the plain follow-up, per language."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

REMINDER_24H = {
    "ru": "Напоминаем: {day} в {time} у нас запланирована встреча в Zoom. "
    "Ссылку пришлём за час до встречи!",
    "en": "A reminder: our Zoom meeting is {day} at {time}. We will send the link an hour before!",
}
REMINDER_1H = {
    "ru": "Встреча через час! Подготовьте вопросы, будем рады обсудить все детали.",
    "en": "Our meeting starts in an hour! Bring your questions, we'll be glad to go through "
    "every detail.",
}
GENERIC_REMINDER = {
    "ru": "Напоминаем о нашей договорённости. Если остались вопросы, напишите нам!",
    "en": "Just a reminder of what we agreed. If you have any questions, write to us!",
}
PLAIN_FOLLOW_UP = {
    "ru": "Здравствуйте! Как и договаривались, пишу вам. Удобно сейчас продолжить?",
    "en": "Hello! As agreed, I'm getting back to you. Is now a good time to continue?",
}
_DAY_WORDS = {
    "ru": ("сегодня", "завтра"),
    "en": ("today", "tomorrow"),
}


def pick(texts: dict, language: str):
    """The text in the client's language, Russian when we have none in theirs."""
    return texts.get((language or "ru")[:2].lower(), texts["ru"])


def meeting_day_words(
    starts_at: datetime, sent_at: datetime, zone: ZoneInfo, language: str
) -> tuple[str, str]:
    """('завтра', '15:00') for the meeting as the client will read it at `sent_at`.

    Computed at send time: quiet hours can move a "24 h before" reminder onto the
    meeting's own day, where "tomorrow" would be wrong.
    """
    start, now = starts_at.astimezone(zone), sent_at.astimezone(zone)
    today_word, tomorrow_word = pick(_DAY_WORDS, language)
    if start.date() == now.date():
        day = today_word
    elif start.date() == now.date() + timedelta(days=1):
        day = tomorrow_word
    else:
        day = start.strftime("%d.%m")
    return day, start.strftime("%H:%M")


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
