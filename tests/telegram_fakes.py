"""Stand-ins at the Telegram boundary, returning and raising Telethon's own TL objects and errors.

- `FakeTelegramClient` replaces TelegramClient (what the messenger and the listener call);
- `FakeSender` replaces the MTProtoSender *inside* a real TelegramClient, so Telethon's own
  request handling (retries, flood waits, error conversion) runs as in production;
- helpers build real `types.Message`/`types.User` objects and dispatch them as Telethon does.
"""

import asyncio
import itertools
import os
from datetime import UTC, datetime
from types import SimpleNamespace

from telethon import TelegramClient, errors, events, utils
from telethon._updates import EntityCache
from telethon.crypto import AuthKey
from telethon.sessions import StringSession
from telethon.tl import types

from bot.telegram import TelethonMessenger

SELF_ID = 1_000_001
WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


def session_string() -> str:
    """A well-formed StringSession (random key, never logged in anywhere)."""
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


def outcome(result, request):
    """A TL result to return, an exception to raise, or a `types.RpcError` that Telethon turns
    into its error class exactly as when it arrives from the wire."""
    if isinstance(result, types.RpcError):
        raise errors.rpc_message_to_error(result, request)
    if isinstance(result, BaseException):
        raise result
    return result


class FakeTelegramClient:
    """The parts of TelegramClient that bot.telegram and bot.listener use."""

    def __init__(self, *results, authorized: bool = True):
        self.results = list(results)  # for __call__, in order
        self.requests: list = []
        self.sent: list[tuple] = []  # send_message(entity, text, kwargs)
        self.send_error: BaseException | None = None
        self.handlers: list[tuple] = []
        self.input_entities: dict = {}  # get_input_entity(key) -> InputPeer
        self.authorized = authorized
        self.connected = False
        self.connects = 0
        self.hang: asyncio.Event | None = None  # set to make __call__ wait for it
        self.hang_connect: asyncio.Event | None = None  # the same for connect()
        self._mb_entity_cache = EntityCache()
        self._mb_entity_cache.set_self_user(SELF_ID, False, 77)
        self._self_id = SELF_ID
        self._disconnected: asyncio.Future | None = None
        self._ids = itertools.count(500)
        # For the listener's catch-up: [(entity, unread_count, [messages newest first])].
        self.dialogs: list[tuple] = []

    async def __call__(self, request):
        self.requests.append(request)
        if self.hang is not None:
            await self.hang.wait()
        return outcome(self.results.pop(0), request)

    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        self.connects += 1
        if self.hang_connect is not None:
            await self.hang_connect.wait()
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    @property
    def disconnected(self) -> asyncio.Future:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
        return self._disconnected

    def drop_connection(self) -> None:
        """Telegram went away for good (Telethon gave up reconnecting)."""
        self.connected = False
        self.disconnected.set_exception(ConnectionError("Connection reset"))

    async def get_me(self):
        return types.User(id=SELF_ID, is_self=True, access_hash=77) if self.authorized else None

    async def get_input_entity(self, peer):
        key = peer.user_id if isinstance(peer, types.PeerUser) else peer
        try:
            return self.input_entities[key]
        except KeyError:
            raise ValueError(f"Could not find the input entity for {peer!r}") from None

    async def send_message(self, entity, message, **kwargs):
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((entity, message, kwargs))
        return types.Message(
            id=next(self._ids),
            peer_id=utils.get_peer(entity),
            date=WHEN,
            message=message,
            out=True,
        )

    async def iter_dialogs(self, limit=None):
        for entity, unread_count, _ in self.dialogs[:limit]:
            yield SimpleNamespace(
                entity=entity, unread_count=unread_count, is_user=isinstance(entity, types.User)
            )

    async def iter_messages(self, entity, limit=None):
        """Newest first, as Telethon returns them."""
        for dialog_entity, _, messages in self.dialogs:
            if dialog_entity is entity:
                for message in messages[:limit]:
                    yield message

    def add_event_handler(self, callback, event) -> None:
        self.handlers.append((callback, event))

    async def dispatch(self, update: types.TypeUpdate, entities=()) -> None:
        """Deliver an update to the registered handlers as TelegramClient._dispatch_update
        does: build the event, attach entities and client, apply the builder's filter."""
        for callback, builder in self.handlers:
            event = builder.build(update, None, SELF_ID)
            if not event:
                continue
            await builder.resolve(self)
            event.original_update = update
            event._entities = {utils.get_peer_id(e): e for e in entities}
            event._set_client(self)
            if builder.filter(event):
                await callback(event)


class FakeSender:
    """Replaces TelegramClient._sender (the MTProto connection): each send answers with the
    next outcome, as the server would."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.sent: list = []

    def is_connected(self) -> bool:
        return True

    def send(self, request, ordered=False):
        self.sent.append(request)
        future = asyncio.get_running_loop().create_future()
        try:
            future.set_result(outcome(self.outcomes.pop(0), request))
        except Exception as exc:
            future.set_exception(exc)
        return future


def real_client_with(sender: FakeSender, *, for_worker: bool = True) -> TelegramClient:
    """A real TelegramClient, configured as bot.telegram builds it, talking to `sender`."""
    from bot.telegram import build_client

    client = build_client(session_string(), receive_updates=not for_worker, for_worker=for_worker)
    client._sender = sender
    return client


# --- Telegram objects ---------------------------------------------------------------------------


def make_user(user_id: int = 4242, **fields) -> types.User:
    fields = {
        "access_hash": 987654321,
        "first_name": "Иван",
        "last_name": "Петров",
        "username": "ivan_p",
        "lang_code": "ru",
        **fields,
    }
    return types.User(id=user_id, **fields)


def private_message(
    sender: types.User, text: str = "Здравствуйте!", *, msg_id: int = 7, **fields
) -> types.Message:
    fields.setdefault("date", WHEN)
    return types.Message(id=msg_id, peer_id=types.PeerUser(sender.id), message=text, **fields)


def new_message(message: types.TypeMessage, pts: int = 10) -> types.UpdateNewMessage:
    return types.UpdateNewMessage(message=message, pts=pts, pts_count=1)


def event_for(message, entities=(), client=None) -> events.NewMessage.Event:
    """A NewMessage event as Telethon builds it for `message`, with its entities known."""
    event = events.NewMessage.Event(message)
    event._entities = {utils.get_peer_id(e): e for e in entities}
    event._set_client(client or FakeTelegramClient())
    return event


def document(*attributes, mime_type="application/octet-stream") -> types.MessageMediaDocument:
    return types.MessageMediaDocument(
        document=types.Document(
            id=1,
            access_hash=2,
            file_reference=b"",
            date=WHEN,
            mime_type=mime_type,
            size=1000,
            dc_id=2,
            attributes=list(attributes),
        )
    )


# --- settings.FOLLOWUPS_MESSENGER for the delivery tests -----------------------------------------

current_client: FakeTelegramClient | None = None


def messenger_for_current_client() -> TelethonMessenger:
    """A factory for settings.FOLLOWUPS_MESSENGER: the Telethon messenger on the test's fake."""
    assert current_client is not None, "set tests.telegram_fakes.current_client first"
    return TelethonMessenger(client=current_client, timeout_s=5)
