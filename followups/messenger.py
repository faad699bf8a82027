"""How `followups` sends: a small interface, chosen by settings.FOLLOWUPS_MESSENGER.

`bot` provides the Telethon implementation; tests and the demo use `InMemoryMessenger`,
which behaves like Telegram where it matters here: a repeated `random_id` does not send twice.
"""

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

# The account of the environment-only setup (followups.models re-exports it). Defined here, not
# there: the demo's settings import this module before the models can load.
DEFAULT_ACCOUNT = "default"

# Telegram's limit for one text message.
MAX_TEXT_LENGTH = 4096


class SendError(Exception):
    """A send did not happen. `reason` is short and safe to store and show to staff."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TransientSendError(SendError):
    """Try again later: network trouble, a flood wait (`retry_after_s` says when)."""

    def __init__(self, reason: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class AccountUnusable(TransientSendError):
    """Telegram refuses our own account's session (revoked, logged out, banned), or its stored
    session cannot be read: every send from that account would fail alike. The account needs
    a new login; its actions wait for it (followups.delivery)."""


class PermanentSendError(SendError):
    """Will never succeed as asked. `recipient_unreachable`: the client blocked the account,
    deleted theirs, or forbids messages; nothing more should be sent to them."""

    def __init__(self, reason: str, recipient_unreachable: bool = False):
        super().__init__(reason)
        self.recipient_unreachable = recipient_unreachable


@dataclass(frozen=True)
class Recipient:
    """A client, and the account (its name) that talks to them: a send goes from that account,
    never another (an access hash is only valid for the account that received it)."""

    telegram_id: int
    access_hash: int | None = None
    username: str = ""
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True)
class SentMessage:
    # None when Telegram only said the random_id was used before (RANDOM_ID_DUPLICATE).
    message_id: int | None
    # True when Telegram recognised the random_id: this send had already happened.
    duplicate: bool = False


class Messenger(Protocol):
    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage: ...

    def find_sent(
        self, recipient: Recipient, text: str, random_id: int, since: datetime
    ) -> SentMessage | None:
        """The message this account sent to `recipient` for `random_id` (with `text`) at
        `since` or later, or None if there is none. Reads; never sends. Raises SendError when
        it cannot tell (Telegram unreachable): the caller must then not assume either way."""
        ...


def check_text(text: str) -> None:
    """Raise PermanentSendError for a text Telegram would refuse."""
    if not text.strip():
        raise PermanentSendError("MESSAGE_EMPTY")
    if len(text) > MAX_TEXT_LENGTH:
        raise PermanentSendError("MESSAGE_TOO_LONG")


@dataclass
class Delivered:
    recipient_id: int
    text: str
    random_id: int
    message_id: int
    at: datetime
    account: str = DEFAULT_ACCOUNT  # the account that sent it


@dataclass
class InMemoryMessenger:
    """A Telegram stand-in: dedupes by random_id, and can be told to fail the next sends."""

    delivered: list[Delivered] = field(default_factory=list)
    _by_random_id: dict[int, Delivered] = field(default_factory=dict)
    _failures: list[SendError] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        check_text(text)
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            seen = self._by_random_id.get(random_id)
            if seen is not None:
                return SentMessage(seen.message_id, duplicate=True)
            item = Delivered(
                recipient.telegram_id,
                text,
                random_id,
                next(self._ids),
                timezone.now(),
                recipient.account,
            )
            self._by_random_id[random_id] = item
            self.delivered.append(item)
            return SentMessage(item.message_id)

    def find_sent(
        self, recipient: Recipient, text: str, random_id: int, since: datetime
    ) -> SentMessage | None:
        with self._lock:
            seen = self._by_random_id.get(random_id)
        if (
            seen is None
            or (seen.recipient_id, seen.account) != (recipient.telegram_id, recipient.account)
            or seen.at < since
        ):
            return None
        return SentMessage(seen.message_id)

    def fail_next(self, *errors: SendError) -> None:
        with self._lock:
            self._failures.extend(errors)

    def to(self, telegram_id: int, account: str | None = None) -> list[str]:
        """Texts delivered to one recipient (from `account`, or from any), oldest first."""
        with self._lock:
            return [
                d.text
                for d in self.delivered
                if d.recipient_id == telegram_id and account in (None, d.account)
            ]

    def reset(self) -> None:
        with self._lock:
            self.delivered.clear()
            self._by_random_id.clear()
            self._failures.clear()


_instances: dict[str, Messenger] = {}
_instances_lock = threading.Lock()


def get_messenger() -> Messenger:
    """The process-wide messenger named by settings: one instance per process, even when
    several worker threads ask at once. It sends from the account each Recipient names (a
    Telegram messenger holds one connection per account)."""
    path = settings.FOLLOWUPS_MESSENGER
    with _instances_lock:
        if path not in _instances:
            _instances[path] = import_string(path)()
        return _instances[path]


@receiver(setting_changed)
def _forget_instances(setting: str, **kwargs) -> None:
    """A test that switches FOLLOWUPS_MESSENGER gets a fresh instance of the new one."""
    if setting == "FOLLOWUPS_MESSENGER":
        with _instances_lock:
            _instances.clear()
