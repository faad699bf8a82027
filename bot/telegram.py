"""Telegram through Telethon: building clients for an account, and the workers' messenger.

Sessions are StringSessions, from the environment (the default account) or stored encrypted
on the account (followups.accounts), never SQLite session files: two processes on one session
file corrupt each other's state, and a file would be one more secret on disk. See
docs/telegram.md for the listener's and the workers' sessions.
"""

import asyncio
import logging
import re
import struct
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from telethon import TelegramClient, errors
from telethon.errors.rpcerrorlist import rpc_errors_dict, rpc_errors_re
from telethon.sessions import StringSession
from telethon.tl import functions, types

from followups import accounts
from followups.messenger import (
    AccountUnusable,
    PermanentSendError,
    Recipient,
    SendError,
    SentMessage,
    TransientSendError,
    check_text,
)
from followups.models import DEFAULT_ACCOUNT, Account

log = logging.getLogger(__name__)

# How long a worker thread waits for one send (connecting included). Telethon's own connect
# timeout (10 s) and one internal retry pause (2 s) fit inside; the prospect row stays locked
# meanwhile, so this is kept short.
SEND_TIMEOUT_S = 30.0

# Telegram's name for each Telethon error class, e.g. UserIsBlockedError -> "USER_IS_BLOCKED".
_NAMES = {cls: name for name, cls in rpc_errors_dict.items()}
# Errors whose name carries a number ("FLOOD_WAIT_30"), as (pattern, class).
_PATTERNS = {cls: pattern for pattern, cls in rpc_errors_re}

# The recipient cannot be written to: nothing more is sent to them until they write again.
UNREACHABLE = frozenset(
    {
        "USER_IS_BLOCKED",  # they blocked us
        "USER_BLOCKED",
        "YOU_BLOCKED_USER",  # we blocked them
        "INPUT_USER_DEACTIVATED",  # their account is deleted
        "USER_PRIVACY_RESTRICTED",  # their privacy settings forbid messages from us
        "PRIVACY_PREMIUM_REQUIRED",  # they accept messages from Premium accounts only
        "PEER_ID_INVALID",  # the id/access hash no longer leads to them
        "USER_ID_INVALID",
        "USERNAME_NOT_OCCUPIED",
        "USERNAME_INVALID",
        # Our account is spam-limited and cannot write to non-contacts: this ends the action and
        # marks the client, who can still write to us first (docs/design.md, "Sending within
        # Telegram's limits").
        "PEER_FLOOD",
    }
)
# Newer errors Telethon 1.45 has no class for (they arrive as a plain RPCError with the name).
_UNREACHABLE_PREFIXES = ("ALLOW_PAYMENT_REQUIRED",)  # they charge Stars for messages
# Problems of our own account rather than of the recipient (see classify()).
_ACCOUNT_PROBLEMS = frozenset({"FROZEN_METHOD_INVALID", "AUTH_KEY_DUPLICATED"})


def error_name(exc: errors.RPCError) -> str:
    """Telegram's own name for an RPC error: short, and safe to store and show to staff."""
    name = _NAMES.get(type(exc))
    if name:
        return name
    pattern = _PATTERNS.get(type(exc))
    if pattern:
        seconds = getattr(exc, "seconds", None)
        return re.sub(r"\(\\d\+\)", str(seconds) if seconds is not None else "N", pattern)
    return str(exc.message or type(exc).__name__)


def classify(exc: errors.RPCError | OSError) -> SendError:
    """What a failed send means for the action (followups.delivery acts on the answer).

    - flood and slow-mode waits: retry once Telegram allows (`retry_after_s`);
    - network trouble, timeouts, Telegram's internal errors: retry later;
    - the recipient blocked us, deleted their account, forbids messages, or our account is
      spam-limited: `failed`, and the prospect is marked unreachable;
    - our own account is logged out, revoked, banned or frozen: AccountUnusable. It is an
      operator problem (a new login, see docs/telegram.md) that every send of the account
      shares: the account is put in `needs login` and its actions wait, neither failed nor
      missed. It never marks a prospect;
    - anything else Telegram refuses: `failed`, with the error's name.

    RANDOM_ID_DUPLICATE is not a failure; `TelethonMessenger.send` answers it before this.
    """
    if not isinstance(exc, errors.RPCError):
        return TransientSendError(f"NETWORK_ERROR ({type(exc).__name__})")
    name = error_name(exc)
    seconds = getattr(exc, "seconds", None)
    if isinstance(exc, errors.FloodError) and seconds is not None:
        return TransientSendError(name, retry_after_s=max(int(seconds), 1))
    if name in UNREACHABLE or name.startswith(_UNREACHABLE_PREFIXES):
        return PermanentSendError(name, recipient_unreachable=True)
    if isinstance(exc, errors.UnauthorizedError | errors.AuthKeyError) or (
        name in _ACCOUNT_PROBLEMS
    ):
        return AccountUnusable(f"{name} (the Telegram session needs attention)")
    if isinstance(exc, errors.ServerError | errors.TimedOutError | errors.InvalidDCError):
        return TransientSendError(name)
    return PermanentSendError(name)


# How far back (messages, newest first) a lookup of our own send reads, and how much the
# Telegram server's clock may differ from ours.
LOOKUP_PAGE = 100
LOOKUP_PAGES = 3
CLOCK_SKEW = timedelta(minutes=2)


# --- clients --------------------------------------------------------------------------------


def missing_credentials(*session_settings: str) -> list[str]:
    """Names of the settings, among the API credentials and `session_settings`, that are empty."""
    names = ("TELEGRAM_API_ID", "TELEGRAM_API_HASH", *session_settings)
    return [name for name in names if not getattr(settings, name, None)]


def worker_session() -> str:
    """The workers' session: their own login if given, else the listener's."""
    return settings.TELEGRAM_WORKER_SESSION or settings.TELEGRAM_SESSION


def parse_session(session: str, setting: str) -> StringSession:
    """A StringSession; ImproperlyConfigured naming `setting` (never the value) if malformed."""
    try:
        return StringSession(session)
    except (ValueError, struct.error):
        raise ImproperlyConfigured(
            f"{setting} is not a Telethon session string; run `manage.py telegram_login`"
        ) from None


def build_client(
    session: str, *, receive_updates: bool, for_worker: bool, setting: str = ""
) -> TelegramClient:
    """A client for the listener (`for_worker=False`) or for the workers' sends.

    Workers never sleep inside Telethon, so a Dramatiq thread is never held (with the prospect
    row locked) by a flood wait or an internal retry; the durable row retries instead:
    - `flood_sleep_threshold=0`: every flood wait is raised as FloodWaitError at once;
    - `request_retries=0`: one attempt. Telethon otherwise re-sends on ServerError, which
      includes RANDOM_ID_DUPLICATE, sleeping 2 s each time;
    - `raise_last_call_error=True`: raise Telegram's own error (RandomIdDuplicateError,
      RpcCallFailError) instead of a bare ValueError("Request was unsuccessful").
    The listener keeps Telethon's default of sleeping through flood waits up to 60 s.
    """
    setting = setting or (
        "TELEGRAM_WORKER_SESSION or TELEGRAM_SESSION" if for_worker else "TELEGRAM_SESSION"
    )
    missing = missing_credentials()
    if not session:
        missing.append(setting)
    if missing:
        raise ImproperlyConfigured(
            f"Telegram is not configured: set {', '.join(missing)} "
            "(a session comes from `manage.py telegram_login`)"
        )
    options = (
        {"flood_sleep_threshold": 0, "request_retries": 0, "device_model": "followups worker"}
        if for_worker
        else {"device_model": "followups listener"}
    )
    return TelegramClient(
        parse_session(session, setting),
        settings.TELEGRAM_API_ID,
        settings.TELEGRAM_API_HASH,
        receive_updates=receive_updates,
        raise_last_call_error=True,
        **options,
    )


def account_client(account: Account, *, for_worker: bool) -> TelegramClient:
    """A client logged in as `account`: its stored session, or for the default account the
    environment's. ImproperlyConfigured (SessionKeyError among them) names what is wrong."""
    setting = ""  # the default account's environment settings
    if account.session:
        setting = f"account {account.name}'s stored session"
    elif account.name != DEFAULT_ACCOUNT:
        setting = f"a session for account {account.name} (telegram_login --account NAME)"
    return build_client(
        accounts.session_of(account, for_worker=for_worker),
        receive_updates=not for_worker,
        for_worker=for_worker,
        setting=setting,
    )


# --- the workers' messenger -----------------------------------------------------------------


def sent_message_from(result: types.TypeUpdates, random_id: int) -> SentMessage:
    """The message Telegram made for our `random_id`, from a messages.sendMessage result.

    A private chat normally answers with updateShortSentMessage. Telegram has also been seen
    answering a repeated random_id with the original message: updateMessageID mapping our
    random_id to the old id, and updateNewMessage with pts_count=0 (no new event). That case
    is reported as a duplicate with the original id.
    """
    if isinstance(result, types.UpdateShortSentMessage):
        return SentMessage(result.id)
    if isinstance(result, types.UpdateShort):
        updates = [result.update]
    elif isinstance(result, types.Updates | types.UpdatesCombined):
        updates = result.updates
    else:
        return SentMessage(None)
    message_id = next(
        (
            u.id
            for u in updates
            if isinstance(u, types.UpdateMessageID) and u.random_id == random_id
        ),
        None,
    )
    new = [u for u in updates if isinstance(u, types.UpdateNewMessage)]
    if message_id is None and len(new) == 1:
        message_id = new[0].message.id
    duplicate = any(u.message.id == message_id and u.pts_count == 0 for u in new)
    return SentMessage(message_id, duplicate=duplicate)


async def input_peer(client: TelegramClient, recipient: Recipient) -> types.TypeInputPeer:
    """How to address the recipient: their access hash if stored, else whatever the client can
    find from the id (its cache) or the username (checked to still belong to the same id)."""
    if recipient.access_hash is not None:
        return types.InputPeerUser(recipient.telegram_id, recipient.access_hash)
    try:
        return await client.get_input_entity(types.PeerUser(recipient.telegram_id))
    except ValueError:
        pass
    if recipient.username:
        try:
            peer = await client.get_input_entity(recipient.username)
        except ValueError:
            peer = None
        if isinstance(peer, types.InputPeerUser) and peer.user_id == recipient.telegram_id:
            return peer
    raise PermanentSendError("PEER_NOT_RESOLVED")


class TelethonMessenger:
    """`followups.messenger.Messenger` through the Telegram accounts: each send goes from the
    account its Recipient names, on that account's own client.

    `send` is synchronous and called from many Dramatiq worker threads at once. The process
    has one TelegramClient per account (built on first use, reused), all on one asyncio loop in
    a daemon thread; sends are submitted to it and awaited with a timeout. Idempotent: the
    request carries the caller's random_id, so a repeat is recognised by Telegram, not sent
    again. An account whose session Telegram refuses loses its client: the next send builds a
    new one from the account's session as it is then (a new login).
    """

    def __init__(self, client: TelegramClient | None = None, *, timeout_s: float = SEND_TIMEOUT_S):
        """`client`: the default account's client (tests); otherwise built from the sessions."""
        self._clients: dict[str, TelegramClient] = {}
        if client is not None:
            self._clients[DEFAULT_ACCOUNT] = client
        self._timeout_s = timeout_s
        self._start_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connect_locks: dict[str, asyncio.Lock] = {}  # made on the loop, one per account

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        check_text(text)
        try:
            return self._call(
                recipient.account,
                lambda client: self._send(client, recipient, text, random_id),
                "SEND_TIMEOUT",
            )
        except errors.RandomIdDuplicateError:
            return SentMessage(None, duplicate=True)

    def find_sent(
        self, recipient: Recipient, text: str, random_id: int, since: datetime
    ) -> SentMessage | None:
        """Our own message with `text` in the chat with `recipient`, sent since `since`.

        Telegram does not show a message's random_id, so the match is the chat, the direction
        (ours), the time and the exact text. The agent's own replies in the same chat are other
        texts; the same text twice in minutes is the same follow-up."""
        return self._call(
            recipient.account,
            lambda client: self._find_sent(client, recipient, text.strip(), since - CLOCK_SKEW),
            "LOOKUP_TIMEOUT",
        )

    def client_for(self, account_name: str) -> TelegramClient:
        """The account's client, built on first use. AccountUnusable when it has no usable
        session (none, malformed, or stored under another key)."""
        with self._start_lock:
            client = self._clients.get(account_name)
            if client is None:
                try:
                    account = Account.objects.get(name=account_name)
                    client = account_client(account, for_worker=True)
                except (Account.DoesNotExist, ImproperlyConfigured) as exc:
                    unreadable = isinstance(exc, accounts.SessionKeyError)
                    name = accounts.UNREADABLE if unreadable else "SESSION_UNUSABLE"
                    raise AccountUnusable(f"{name}: {exc}"[:255]) from None
                self._clients[account_name] = client
            return client

    def _call(self, account_name: str, make, timeout_reason: str):
        client = self.client_for(account_name)
        future = asyncio.run_coroutine_threadsafe(
            self._connected(account_name, client, make), self._event_loop()
        )
        try:
            return future.result(self._timeout_s)
        except TimeoutError:
            future.cancel()
            raise TransientSendError(timeout_reason) from None
        except errors.RandomIdDuplicateError:
            raise
        except (errors.RPCError, OSError) as exc:
            error = classify(exc)
            if isinstance(error, AccountUnusable):
                self._forget(account_name, client)
            raise error from exc
        except AccountUnusable:
            self._forget(account_name, client)
            raise

    def _forget(self, account_name: str, client: TelegramClient) -> None:
        """Drop a client whose session Telegram refused (disconnected in the background)."""
        with self._start_lock:
            if self._clients.get(account_name) is client:
                del self._clients[account_name]
        asyncio.run_coroutine_threadsafe(client.disconnect(), self._event_loop())

    async def _connected(self, account_name: str, client: TelegramClient, make):
        await self._connect(account_name, client)
        return await make(client)

    async def _find_sent(
        self, client: TelegramClient, recipient: Recipient, text: str, since: datetime
    ) -> SentMessage | None:
        peer = await input_peer(client, recipient)
        offset_id = 0
        for _ in range(LOOKUP_PAGES):
            history = await client(
                functions.messages.GetHistoryRequest(
                    peer=peer,
                    offset_id=offset_id,
                    offset_date=None,
                    add_offset=0,
                    limit=LOOKUP_PAGE,
                    max_id=0,
                    min_id=0,
                    hash=0,
                )
            )
            messages = [m for m in history.messages if isinstance(m, types.Message)]
            for message in messages:  # newest first
                if message.date < since:
                    return None
                if message.out and (message.message or "").strip() == text:
                    return SentMessage(message.id)
            if len(history.messages) < LOOKUP_PAGE:
                return None
            offset_id = history.messages[-1].id
        log.warning(
            "lookup of a send read %d messages without reaching its mark: taken as not sent",
            LOOKUP_PAGE * LOOKUP_PAGES,
        )
        return None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="telethon", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _send(
        self, client: TelegramClient, recipient: Recipient, text: str, random_id: int
    ) -> SentMessage:
        request = functions.messages.SendMessageRequest(
            peer=await input_peer(client, recipient),
            message=text,
            random_id=random_id,
            no_webpage=True,
        )
        return sent_message_from(await client(request), random_id)

    async def _connect(self, account_name: str, client: TelegramClient) -> None:
        """Connect on first use, and again after Telethon gave up reconnecting."""
        async with self._connect_locks.setdefault(account_name, asyncio.Lock()):
            if client.is_connected():
                return
            await client.connect()
            if await client.get_me() is None:
                await client.disconnect()
                raise AccountUnusable(
                    "TELEGRAM_NOT_AUTHORIZED (the Telegram session needs attention)"
                )
            log.info("telegram worker client connected account=%s", account_name)
