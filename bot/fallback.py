"""The rule-based agent: answers when Claude cannot (no key, outage) and drives the demo.

It cannot hold a sales conversation, but it never loses a time request: the resolver reads
the client's words, and the same tools as Claude's schedule the follow-up, book the call or
meeting the client proposes, or record an opt-out, so the confirmation is as exact as Claude's.
"""

import logging
import re

from bot.tools import WHEN_TEXT_LIMIT, Turn, run_tool
from followups.texts import pick
from followups.timeresolver import ResolverInputError, resolve_text

log = logging.getLogger(__name__)

# The client proposes a call or a meeting («давайте созвонимся завтра в 15:00»): a meeting is
# booked at the time named, not a follow-up. A plain «напишите мне завтра» stays a follow-up.
MEETING_WORDS = re.compile(
    r"(?<!\w)(созвон\w*|звон(ок|ка|ку|ком)|позвон\w*|встре[чт]\w*|зум\w*|видеозвон\w*"
    r"|zoom|calls?|meet|meeting|meetings)(?!\w)",
    re.IGNORECASE,
)

TEXTS = {
    "ru": {
        "scheduled": "Отлично, напишу вам {when}!",
        "booked": "Отлично, встреча назначена: {when}!",
        "booked_reminder": "Отлично, встреча назначена: {when}! Перед встречей пришлю напоминание.",
        "meeting_refused": "Не получилось назначить встречу — менеджер свяжется с вами.",
        "acknowledged": "Договорились! 👍",
        "ambiguous": "Уточните, пожалуйста, когда вам удобно: например, «завтра в 11» или "
        "«в пятницу после обеда».",
        "ambiguous_guess": "Уточните, пожалуйста, когда вам удобно — {guess}?",
        "past": "Кажется, это время уже прошло. Когда вам будет удобно?",
        "opted_out": "Хорошо, больше не будем вам писать. Если понадобимся — просто напишите.",
        "refused": "Не получилось запланировать — когда вам удобно, чтобы я написал?",
        "media": "Спасибо! Я пока читаю только текст — напишите, пожалуйста, словами.",
        "default": "Спасибо за сообщение! Менеджер ответит вам в ближайшее время.",
    },
    "en": {
        "scheduled": "Great, I'll write to you {when}!",
        "booked": "Great, our meeting is booked: {when}!",
        "booked_reminder": "Great, our meeting is booked: {when}! I'll send a reminder before it.",
        "meeting_refused": "I couldn't book the meeting — a manager will get in touch with you.",
        "acknowledged": "Deal! 👍",
        "ambiguous": "When would suit you? For example, «tomorrow at 11» or «Friday afternoon».",
        "ambiguous_guess": "Could you confirm when suits you — {guess}?",
        "past": "That time seems to have passed already. When would suit you?",
        "opted_out": "Understood, we won't write to you again. Write any time you need us.",
        "refused": "I couldn't schedule that. When should I write to you?",
        "media": "Thank you! For now I can only read text — please write it in words.",
        "default": "Thanks for your message! A manager will answer you shortly.",
    },
}


def respond(turn: Turn, text: str, kind: str = "text") -> str:
    texts = pick(TEXTS, turn.prospect.language)
    if kind != "text" and not text.strip():
        return texts["media"]
    if turn.acknowledgement:
        return texts["acknowledged"]
    if turn.forwarded:  # someone else's words: no time or opt-out is read from them
        return texts["default"]
    try:
        resolution = resolve_text(text, turn.now, turn.prospect.zone)
    except ResolverInputError:  # longer than the resolver reads (BOT_MAX_INBOUND_CHARS is higher)
        log.info("fallback: text not resolved prospect=%s chars=%d", turn.prospect.pk, len(text))
        return texts["default"]
    if resolution.opt_out:
        run_tool("opt_out", {}, turn)
        return texts["opted_out"]
    if resolution.status == "none":
        return texts["default"]
    when_text = text
    if len(text) > WHEN_TEXT_LIMIT and resolution.span:
        when_text = text[resolution.span[0] : resolution.span[1]]
    if MEETING_WORDS.search(text):
        result = run_tool("book_meeting", {"when_text": when_text}, turn).content
        refused = texts["meeting_refused"]
    else:
        result = run_tool(
            "schedule_followup",
            {"when_text": when_text, "message_template": "", "reason": "client asked (fallback)"},
            turn,
        ).content
        refused = texts["refused"]
    status = result.get("status")
    if status == "scheduled":
        return texts["scheduled"].format(when=result["client_text"])
    if status == "booked":
        booked = texts["booked_reminder" if result["reminders"] else "booked"]
        return booked.format(when=result["client_text"])
    if status == "ambiguous" and result.get("possible_reading"):
        return texts["ambiguous_guess"].format(guess=result["possible_reading"])
    if turn.prospect.opted_out_at:  # still opted out: asking for a time would lead nowhere
        return texts["default"]
    return texts.get(status, refused)
