"""The Telethon listener: private messages from clients in, the agent's replies out.

Telethon runs each incoming update in its own task. The conversation work (store the message,
cancel stale follow-ups, ask the agent) is synchronous Django code in `bot.conversation`, run
in a worker thread; the reply goes back from here. One client's messages are handled one at a
time, in arrival order, so two quick messages never get two replies racing each other.

Logs carry ids, kinds and lengths, never message text.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import close_old_connections
from django.utils import timezone
from telethon import TelegramClient, errors, events, utils
from telethon.tl import types

from bot import conversation
from bot.conversation import Incoming
from bot.telegram import classify
from followups import accounts
from followups.messenger import SendError, check_text
from followups.models import DEFAULT_ACCOUNT

log = logging.getLogger(__name__)

# Telegram's service notifications account (login codes, security alerts): never a client.
SERVICE_NOTIFICATIONS_ID = 777000
# On shutdown, how long to wait for messages already being handled.
DRAIN_TIMEOUT_S = 30.0
# At start, unread private messages this recent are answered (see Listener.catch_up).
CATCH_UP_WINDOW = timedelta(hours=24)
CATCH_UP_DIALOGS = 200
CATCH_UP_PER_CHAT = 20


class NotAuthorized(Exception):
    """The session is not logged in (or was logged out)."""


def should_handle(event: events.NewMessage.Event) -> bool:
    """A new message in a private chat, written by the other side. Checks the message only
    (no network): groups, channels, our own outgoing messages (Saved Messages included) and
    service messages are not handled. The sender is checked by `is_client` once loaded."""
    message = event.message
    return (
        isinstance(message, types.Message)  # not a MessageService (joins, pins, calls)
        and bool(event.is_private)
        and not message.out
        and event.sender_id != SERVICE_NOTIFICATIONS_ID
    )


def is_client(sender: object) -> bool:
    """A person: not a bot, not ourselves, not Telegram's support or service accounts."""
    return (
        isinstance(sender, types.User)
        and not sender.bot
        and not sender.is_self
        and not sender.support
        and not sender.deleted
        and sender.id != SERVICE_NOTIFICATIONS_ID
    )


def message_kind(message: types.Message) -> str:
    """text, photo, video, voice, audio, sticker, document, location or other."""
    media = message.media
    if media is None or isinstance(media, types.MessageMediaEmpty | types.MessageMediaWebPage):
        return "text"  # a link preview is still a text message
    if isinstance(media, types.MessageMediaPhoto):
        return "photo"
    if isinstance(
        media, types.MessageMediaGeo | types.MessageMediaGeoLive | types.MessageMediaVenue
    ):
        return "location"
    if isinstance(media, types.MessageMediaDocument):
        # Order matters: a video sticker has a video attribute, a voice note an audio one.
        if message.sticker:
            return "sticker"
        if message.voice:
            return "voice"
        if message.video or message.gif:
            return "video"
        if message.audio:
            return "audio"
        return "document"
    return "other"  # contact, poll, dice, game, story, ...


def _username(user: types.User) -> str:
    if user.username:
        return user.username
    return next((u.username for u in user.usernames or () if u.active), "")


def to_incoming(
    event: events.NewMessage.Event, sender: types.User, account: str = DEFAULT_ACCOUNT
) -> Incoming:
    return Incoming(
        telegram_id=sender.id,
        # A "min" user's access hash only works inside the update that carried it.
        access_hash=None if sender.min else sender.access_hash,
        username=_username(sender),
        display_name=" ".join(part for part in (sender.first_name, sender.last_name) if part),
        language_code=sender.lang_code or "",
        message_id=event.message.id,
        at=event.message.date,
        text=event.raw_text or "",
        kind=message_kind(event.message),
        forwarded=event.message.fwd_from is not None,
        account=account,
    )


def _in_thread(func: Callable, *args):
    """Run Django code as a request would: broken or expired connections are dropped first."""
    close_old_connections()
    try:
        return func(*args)
    finally:
        close_old_connections()


class Listener:
    """The message handler of one account (its name), with what shutdown needs: stop accepting,
    then wait for the messages already in flight."""

    def __init__(
        self,
        client: TelegramClient,
        *,
        account: str = DEFAULT_ACCOUNT,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ):
        self.client = client
        self.account = account
        self.drain_timeout_s = drain_timeout_s
        self.accepting = True
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_waiting: Counter[int] = Counter()

    def register(self) -> None:
        self.client.add_event_handler(
            self.on_message, events.NewMessage(incoming=True, func=should_handle)
        )

    async def on_message(self, event: events.NewMessage.Event) -> None:
        if not self.accepting:
            log.info("message not handled, shutting down chat=%s id=%s", event.chat_id, event.id)
            return
        self.in_flight += 1
        self._idle.clear()
        try:
            async with self._one_at_a_time(event.chat_id):
                await self._handle(event)
        except Exception:
            log.exception("message handling failed chat=%s id=%s", event.chat_id, event.id)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def drain(self) -> None:
        """Stop accepting; wait (bounded) for the handlers in flight."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), self.drain_timeout_s)
        except TimeoutError:
            log.warning(
                "%d message(s) still in flight after %.0f s; their replies are dropped",
                self.in_flight,
                self.drain_timeout_s,
            )

    async def catch_up(self, since: datetime) -> int:
        """Handle the private messages that arrived while the listener was down, oldest first.

        A StringSession keeps no update state, so Telethon cannot replay them; without this a
        client who wrote during a restart would get no answer, and worse, their pending
        follow-up would still go out. Unread messages newer than `since` are handled like
        live ones; those already stored (answered before the restart) are skipped.
        """
        handled = 0
        async for dialog in self.client.iter_dialogs(limit=CATCH_UP_DIALOGS):
            if not dialog.is_user or not dialog.unread_count:
                continue
            limit = min(dialog.unread_count, CATCH_UP_PER_CHAT)
            unread = [m async for m in self.client.iter_messages(dialog.entity, limit=limit)]
            for message in reversed(unread):
                event = events.NewMessage.Event(message)
                event._entities = {utils.get_peer_id(dialog.entity): dialog.entity}
                event._set_client(self.client)
                if message.date < since or not should_handle(event):
                    continue
                if await asyncio.to_thread(
                    _in_thread, conversation.is_stored, self.account, event.sender_id, message.id
                ):
                    continue
                await self.on_message(event)
                handled += 1
        return handled

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, chat_id: int):
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        self._chat_waiting[chat_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._chat_waiting[chat_id] -= 1
            if not self._chat_waiting[chat_id]:
                del self._chat_waiting[chat_id], self._chat_locks[chat_id]

    async def _handle(self, event: events.NewMessage.Event) -> None:
        sender = await event.get_sender()
        if not is_client(sender):
            return
        incoming = to_incoming(event, sender, self.account)
        log.info(
            "message in account=%s from=%s id=%s kind=%s chars=%d forwarded=%s",
            self.account,
            incoming.telegram_id,
            incoming.message_id,
            incoming.kind,
            len(incoming.text),
            incoming.forwarded,
        )
        reply = await asyncio.to_thread(_in_thread, conversation.handle_incoming, incoming)
        if not reply or not reply.strip():
            return
        try:
            check_text(reply)
            # Plain text: what is stored is exactly what the client sees.
            sent = await event.respond(reply, parse_mode=None, link_preview=False)
        except SendError as exc:
            log.warning("reply not sent to=%s reason=%s", incoming.telegram_id, exc.reason)
            return
        except (errors.RPCError, OSError) as exc:
            log.warning(
                "reply not sent to=%s reason=%s", incoming.telegram_id, classify(exc).reason
            )
            return
        log.info("reply sent to=%s id=%s", incoming.telegram_id, sent.id)
        await asyncio.to_thread(
            _in_thread,
            conversation.record_outgoing,
            self.account,
            incoming.telegram_id,
            reply,
            sent.id,
            sent.date,
        )


async def run(
    client: TelegramClient,
    stop: asyncio.Event,
    *,
    account: str = DEFAULT_ACCOUNT,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
) -> None:
    """Connect as `account` (its name), handle messages until `stop` is set, then finish the
    messages in flight and disconnect. A stop while still connecting just disconnects. Raises
    NotAuthorized for a logged-out session (the account is then put in `needs login`),
    ConnectionError when Telegram drops the connection for good (so the process exits and is
    restarted)."""
    listener = Listener(client, account=account, drain_timeout_s=drain_timeout_s)
    stopped = asyncio.ensure_future(stop.wait())
    starting = asyncio.ensure_future(_start(client, account))
    try:
        await asyncio.wait({stopped, starting}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            log.info("stopped while connecting")
            return
        me = starting.result()
        await asyncio.to_thread(_in_thread, _logged_in, account, me)
        listener.register()
        log.info("listening account=%s user=%s", account, me.id)
        caught_up = await listener.catch_up(since=timezone.now() - CATCH_UP_WINDOW)
        log.info("answered %d message(s) that arrived while the listener was down", caught_up)
        disconnected = client.disconnected
        await asyncio.wait({stopped, disconnected}, return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping: no new messages; finishing %d in flight", listener.in_flight)
        await listener.drain()
        if not stop.is_set():
            reason = disconnected.exception() if disconnected.done() else None
            raise ConnectionError(f"disconnected from Telegram: {reason or 'connection lost'}")
    finally:
        stopped.cancel()
        starting.cancel()
        await client.disconnect()
        log.info("disconnected")


def _logged_in(account: str, me: types.User) -> None:
    accounts.logged_in(accounts.get(account), me.id, _username(me))


def _not_authorized(account: str, reason: str) -> None:
    accounts.needs_login(accounts.get(account).pk, reason)


async def _start(client: TelegramClient, account: str) -> types.User:
    await client.connect()
    me = await client.get_me()  # also tells Telegram to start sending us updates
    if me is None:
        reason = "TELEGRAM_NOT_AUTHORIZED (the Telegram session needs attention)"
        await asyncio.to_thread(_in_thread, _not_authorized, account, reason)
        raise NotAuthorized(
            f"account {account}: the Telegram session is not logged in; run "
            f"manage.py telegram_login --account {account}"
        )
    return me
