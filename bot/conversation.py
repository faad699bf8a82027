"""One inbound client message, end to end: store it, cancel what it makes stale, ask the
agent, return the reply. Transport-free: the Telethon listener calls `handle_incoming`.

What the listener passes in is cleaned first (followups.cleaning: the text, the name and the
username), and a message longer than BOT_MAX_INBOUND_CHARS keeps its start and its end. A
forwarded message is activity (it cancels stale follow-ups) but not the client's words: it is
stored and shown to the agent labelled, and no time, opt-out or acknowledgement is read from it.
"""

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bot import claude, fallback, prompts
from bot.claude import AgentUnavailable
from bot.tools import Turn
from followups import accounts, services
from followups.cleaning import clean_text
from followups.delivery import plain_follow_up
from followups.messenger import MAX_TEXT_LENGTH
from followups.models import (
    DEFAULT_ACCOUNT,
    ActionStatus,
    ActionType,
    Message,
    Prospect,
    ScheduledAction,
)
from followups.texts import describe_when, pick

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 30
# «ок» counts as acknowledging a promise only this soon after the agent made it.
ACK_WINDOW = timedelta(hours=1)
_ACK_WORDS = {
    "ок", "окей", "оки", "ok", "okay", "k", "хорошо", "спасибо", "спс", "благодарю", "thanks",
    "thank", "you", "thx", "ty", "договорились", "жду", "ага", "угу", "да", "понял", "поняла",
    "ясно", "отлично", "супер", "great", "cool", "sure", "yes", "good", "👍", "🙏", "👌", "🤝",
    "❤", "❤️", "🙂", "😊", "+",
}  # fmt: skip
_TOKEN = re.compile(r"[\w+]+|[^\w\s.,!?)(-]", re.UNICODE)
CUT_NOTE = {
    "ru": "Ваше сообщение очень длинное: я прочитал его начало и конец, а середину пропустил. "
    "Если там было что-то важное, напишите это, пожалуйста, отдельно.",
    "en": "Your message was very long: I read its beginning and its end and skipped the middle. "
    "If something important was there, please send it separately.",
}


@dataclass(frozen=True)
class Incoming:
    """A private message from a client, as the listener saw it."""

    telegram_id: int
    access_hash: int | None
    username: str
    display_name: str
    language_code: str  # Telegram's lang_code of the sender, "" when unknown
    message_id: int
    at: datetime  # aware
    text: str  # "" for media without a caption
    kind: str = "text"  # text, photo, video, voice, audio, sticker, document, location, other
    forwarded: bool = False  # forwarded from someone else: not the client's own words
    account: str = DEFAULT_ACCOUNT  # the account (its name) the message was written to


def handle_incoming(incoming: Incoming) -> str | None:
    """Synchronous (database and agent calls): the reply text to send, or None."""
    now = timezone.now()
    incoming = dataclasses.replace(
        incoming,
        username=clean_text(incoming.username),
        display_name=clean_text(incoming.display_name),
        text=clean_text(incoming.text),
    )
    prospect = upsert_prospect(incoming)
    text = keep_head_and_tail(incoming.text, settings.BOT_MAX_INBOUND_CHARS)
    cut = text != incoming.text
    if cut:
        log.info("inbound cut prospect=%s chars=%d", prospect.pk, len(incoming.text))
    stored = text or f"[{incoming.kind}]"
    if incoming.forwarded:
        stored = f"{prompts.FORWARDED_LABEL}\n{stored}"
    ack = not incoming.forwarded and is_acknowledgement(prospect, text, incoming.at)
    cancelled = services.record_client_message(
        prospect,
        stored,
        at=incoming.at,
        telegram_message_id=incoming.message_id,
        acknowledgement=ack,
    )
    if ack:
        log.info("follow-ups kept prospect=%s reason=acknowledgement of the promise", prospect.pk)
    elif cancelled:
        log.info("Cancelled %d pending follow-ups for prospect %s", len(cancelled), prospect.pk)
    turn = Turn(
        prospect=prospect,
        now=now,
        agent="claude",
        cancelled_now=cancelled,
        acknowledgement=ack,
        forwarded=incoming.forwarded,
        text=text,
    )
    reply = _reply(turn, text, incoming.kind)
    noted = f"{pick(CUT_NOTE, prospect.language)}\n\n{reply}" if cut and reply else reply
    # The client should know that the middle went unread, unless the note would make the
    # reply longer than Telegram takes (it would then not be sent at all).
    return noted if noted and len(noted) <= MAX_TEXT_LENGTH else reply


def keep_head_and_tail(text: str, limit: int) -> str:
    """`text`, or when longer than `limit` its first third and last two thirds of `limit`
    around prompts.CUT_MARKER: a client's request usually comes at the end."""
    if len(text) <= limit:
        return text
    room = limit - len(prompts.CUT_MARKER)
    head = room // 3
    return text[:head] + prompts.CUT_MARKER + text[len(text) - (room - head) :]


def _reply(turn: Turn, text: str, kind: str) -> str:
    prospect = turn.prospect
    if settings.ANTHROPIC_API_KEY:
        cancelled = list(ScheduledAction.objects.filter(pk__in=turn.cancelled_now))
        try:
            return claude.respond(
                turn, prompts.system_prompt(prospect, turn.now, cancelled), history(prospect)
            )
        except AgentUnavailable as exc:
            log.warning("Claude unavailable (%s); fallback agent, prospect=%s", exc, prospect.pk)
        if turn.changed_anything:  # Claude's tools acted before it failed: confirm, not repeat
            return _confirmation(turn)
    turn.agent = "fallback"
    return fallback.respond(turn, text, kind)


def _confirmation(turn: Turn) -> str:
    texts = pick(fallback.TEXTS, turn.prospect.language)
    if turn.opted_out:
        return texts["opted_out"]
    last = turn.scheduled[-1]
    when = describe_when(last.scheduled_for, turn.now, turn.prospect.zone, turn.prospect.language)
    return texts["scheduled"].format(when=when)


def upsert_prospect(incoming: Incoming) -> Prospect:
    """The prospect for this sender, created on first contact; Telegram's details refreshed
    (the access hash is what later sends need). The language is Telegram's lang_code when
    given; Telegram gives it only to bots, so a user account reads it from what the client
    writes (detect_language), Russian until a text says. The same Telegram user writing to two
    accounts is two prospects; a new one starts in its account's default time zone."""
    language = "en" if incoming.language_code.lower().startswith("en") else "ru"
    unknown = not incoming.language_code and not incoming.forwarded
    written = detect_language(incoming.text) if unknown else None
    account = accounts.get(incoming.account)
    with transaction.atomic():
        prospect, created = Prospect.objects.select_for_update().get_or_create(
            account=account,
            telegram_id=incoming.telegram_id,
            defaults={
                "time_zone": accounts.time_zone(account),
                "access_hash": incoming.access_hash,
                "username": incoming.username[:64],
                "display_name": incoming.display_name[:255],
                "language": written or language,
            },
        )
        fresh = {
            "access_hash": incoming.access_hash or prospect.access_hash,
            "username": incoming.username[:64],
            "display_name": incoming.display_name[:255] or prospect.display_name,
        }
        if written and detect_language(incoming.text, min_letters=SWITCH_LETTERS):
            fresh["language"] = written  # a client who writes on in the other language
        changed = [k for k, v in fresh.items() if getattr(prospect, k) != v]
        if changed and not created:
            for name in changed:
                setattr(prospect, name, fresh[name])
            prospect.save(update_fields=[*changed, "updated_at"])
    if created:
        log.info("prospect created id=%s", prospect.pk)
    return prospect


# Letters a message needs to set a new client's language, and to switch a known client's
# (a bare «ok» or «спс» says little about the language a client reads).
FIRST_LETTERS = 2
SWITCH_LETTERS = 12


def detect_language(text: str, min_letters: int = FIRST_LETTERS) -> str | None:
    """The client's language, "ru" or "en", by the script they write in (two thirds of the
    Cyrillic and Latin letters at least); None when the text does not say. Transliterated
    Russian reads as "en"."""
    cyrillic = sum(1 for c in text if "\u0400" <= c <= "\u04ff")
    latin = sum(1 for c in text.lower() if "a" <= c <= "z")
    if cyrillic + latin < min_letters:
        return None
    if cyrillic * 3 >= (cyrillic + latin) * 2:
        return "ru"
    if latin * 3 >= (cyrillic + latin) * 2:
        return "en"
    return None


def is_acknowledgement(prospect: Prospect, text: str, at: datetime) -> bool:
    """A bare «ок»/«спасибо»/«👍» right after the agent confirmed a follow-up time.

    Such a message is not the client writing first: cancelling the follow-up would silently
    break the promise just made.
    """
    tokens = _TOKEN.findall(text.lower())
    if not tokens or not all(t in _ACK_WORDS for t in tokens):
        return False
    last = Message.objects.filter(prospect=prospect).order_by("-sent_at").first()
    if last is None or last.direction != Message.Direction.OUTBOUND:
        return False
    promises = ScheduledAction.objects.filter(
        prospect=prospect,
        action_type=ActionType.FOLLOW_UP,
        status=ActionStatus.PENDING,
        promised_at__gte=at - ACK_WINDOW,
    )
    if prospect.last_reply_at:
        promises = promises.filter(promised_at__gte=prospect.last_reply_at)
    return promises.exists()


def history(prospect: Prospect, limit: int = HISTORY_MESSAGES) -> list[dict]:
    """The recent conversation as Messages API turns: consecutive messages of one side merged,
    starting with the client's."""
    recent = list(Message.objects.filter(prospect=prospect).order_by("-sent_at")[:limit])[::-1]
    turns: list[dict] = []
    for message in recent:
        role = "user" if message.direction == Message.Direction.INBOUND else "assistant"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n" + message.text
        elif turns or role == "user":
            turns.append({"role": role, "content": message.text})
    return turns


def is_stored(account: str, telegram_id: int, message_id: int) -> bool:
    """Whether this client message to `account` was already handled (the listener's catch-up
    asks)."""
    return Message.objects.filter(
        prospect__account__name=account,
        prospect__telegram_id=telegram_id,
        direction=Message.Direction.INBOUND,
        telegram_message_id=message_id,
    ).exists()


def record_outgoing(
    account: str, telegram_id: int, text: str, message_id: int | None, at: datetime
) -> None:
    """Store the agent's reply as the listener sent it from `account`."""
    prospect = Prospect.objects.get(account__name=account, telegram_id=telegram_id)
    services.record_agent_message(prospect, text, at=at, telegram_message_id=message_id)


FOLLOW_UP_INSTRUCTION = (
    "Сейчас время написать клиенту follow-up, о котором вы договорились (заметка агента при "
    "планировании: {reason}). Напиши одно короткое полезное сообщение на языке клиента, "
    "продолжая разговор. Только текст сообщения."
)


def write_follow_up(action: ScheduledAction) -> str:
    """settings.FOLLOWUPS_FOLLOWUP_WRITER: a follow-up written at send time from the
    conversation, or the plain text when Claude is unavailable."""
    prospect = action.prospect
    if not settings.ANTHROPIC_API_KEY:
        return plain_follow_up(action)
    turns = history(prospect)
    instruction = FOLLOW_UP_INSTRUCTION.format(reason=prompts.quoted_reason(action))
    if turns and turns[-1]["role"] == "user":
        turns[-1] = {"role": "user", "content": turns[-1]["content"] + "\n\n" + instruction}
    else:
        turns.append({"role": "user", "content": instruction})
    try:
        return claude.write_follow_up(prompts.system_prompt(prospect, timezone.now()), turns)
    except AgentUnavailable as exc:
        log.warning("Claude unavailable (%s); plain follow-up id=%s", exc, action.pk)
        return plain_follow_up(action)
