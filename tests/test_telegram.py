"""The Telethon adapter at the Telegram boundary: error mapping, the workers' messenger (alone,
inside a real TelegramClient, and through followups.delivery), and the listener."""

import asyncio
import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from telethon import errors, events
from telethon.sessions import StringSession
from telethon.tl import functions, types

from bot import conversation, listener
from bot.telegram import (
    TelethonMessenger,
    build_client,
    classify,
    sent_message_from,
)
from followups import delivery, services
from followups.messenger import (
    PermanentSendError,
    Recipient,
    SentMessage,
    TransientSendError,
)
from followups.models import (
    DEFAULT_ACCOUNT,
    Account,
    ActionStatus,
    Message,
    Prospect,
    ScheduledAction,
)
from tests import telegram_fakes
from tests.telegram_fakes import (
    SELF_ID,
    WHEN,
    FakeSender,
    FakeTelegramClient,
    document,
    event_for,
    make_user,
    new_message,
    private_message,
    real_client_with,
    session_string,
)

REQUEST = functions.messages.SendMessageRequest(
    peer=types.InputPeerUser(4242, 99), message="hi", random_id=1
)
RECIPIENT = Recipient(telegram_id=4242, access_hash=987654321, username="ivan_p")
RANDOM_ID = -6_123_456_789_012_345_678


def wire(code: int, name: str) -> errors.RPCError:
    """The error Telethon raises when Telegram answers `code name`."""
    return errors.rpc_message_to_error(types.RpcError(code, name), REQUEST)


@pytest.fixture
def telegram_settings(settings):
    settings.TELEGRAM_API_ID = 12345
    settings.TELEGRAM_API_HASH = "0123456789abcdef0123456789abcdef"
    settings.TELEGRAM_SESSION = session_string()
    settings.TELEGRAM_WORKER_SESSION = ""
    return settings


# --- classify ---------------------------------------------------------------------------------

T, P = TransientSendError, PermanentSendError


@pytest.mark.parametrize(
    ("exc", "kind", "reason", "unreachable", "retry_after"),
    [
        # flood waits: retry when Telegram allows
        (errors.FloodWaitError(REQUEST, capture=30), T, "FLOOD_WAIT_30", None, 30),
        (wire(420, "FLOOD_WAIT_77"), T, "FLOOD_WAIT_77", None, 77),
        (errors.FloodWaitError(REQUEST, capture=0), T, "FLOOD_WAIT_0", None, 1),
        (errors.FloodPremiumWaitError(REQUEST, capture=5), T, "FLOOD_PREMIUM_WAIT_5", None, 5),
        (errors.SlowModeWaitError(REQUEST, capture=10), T, "SLOWMODE_WAIT_10", None, 10),
        # network and Telegram's internal trouble: retry later
        (
            ConnectionError("Cannot send requests while disconnected"),
            T,
            "NETWORK_ERROR (ConnectionError)",
            None,
            None,
        ),
        (OSError("Network is unreachable"), T, "NETWORK_ERROR (OSError)", None, None),
        (TimeoutError(), T, "NETWORK_ERROR (TimeoutError)", None, None),
        (errors.RpcCallFailError(REQUEST), T, "RPC_CALL_FAIL", None, None),
        (wire(500, "SOMETHING_INTERNAL"), T, "SOMETHING_INTERNAL", None, None),
        (wire(-503, "Timeout"), T, "Timeout", None, None),
        (errors.UserMigrateError(REQUEST, capture=4), T, "USER_MIGRATE_N", None, None),
        # the recipient cannot be written to: failed, prospect marked
        (errors.UserIsBlockedError(REQUEST), P, "USER_IS_BLOCKED", True, None),
        (errors.YouBlockedUserError(REQUEST), P, "YOU_BLOCKED_USER", True, None),
        (errors.InputUserDeactivatedError(REQUEST), P, "INPUT_USER_DEACTIVATED", True, None),
        (errors.UserPrivacyRestrictedError(REQUEST), P, "USER_PRIVACY_RESTRICTED", True, None),
        (errors.PeerIdInvalidError(REQUEST), P, "PEER_ID_INVALID", True, None),
        (errors.UserIdInvalidError(REQUEST), P, "USER_ID_INVALID", True, None),
        (wire(403, "PRIVACY_PREMIUM_REQUIRED"), P, "PRIVACY_PREMIUM_REQUIRED", True, None),
        (wire(403, "ALLOW_PAYMENT_REQUIRED"), P, "ALLOW_PAYMENT_REQUIRED", True, None),
        # our account is spam-limited: failed and the prospect marked (docs/design.md, "Sending
        # within Telegram's limits")
        (errors.PeerFloodError(REQUEST), P, "PEER_FLOOD", True, None),
        # refused as asked, nobody to blame: failed, prospect untouched
        (errors.MessageTooLongError(REQUEST), P, "MESSAGE_TOO_LONG", False, None),
        (errors.MessageEmptyError(REQUEST), P, "MESSAGE_EMPTY", False, None),
        (errors.ChatWriteForbiddenError(REQUEST), P, "CHAT_WRITE_FORBIDDEN", False, None),
        (wire(400, "SOME_NEW_ERROR"), P, "SOME_NEW_ERROR", False, None),
    ],
)
def test_classify(exc, kind, reason, unreachable, retry_after):
    error = classify(exc)
    assert type(error) is kind
    assert error.reason == reason
    if kind is P:
        assert error.recipient_unreachable is unreachable
    else:
        assert error.retry_after_s == retry_after


@pytest.mark.parametrize(
    "exc",
    [
        errors.AuthKeyUnregisteredError(REQUEST),
        errors.SessionRevokedError(REQUEST),
        errors.SessionExpiredError(REQUEST),
        errors.AuthKeyDuplicatedError(REQUEST),
        errors.UserDeactivatedError(REQUEST),  # 401: *our* account was deleted
        errors.UserDeactivatedBanError(REQUEST),  # 401: *our* account was banned
        errors.FrozenMethodInvalidError(REQUEST),
    ],
)
def test_classify_our_account_trouble_retries_and_never_blames_the_client(exc):
    error = classify(exc)
    assert isinstance(error, TransientSendError)
    assert error.reason.endswith("(the Telegram session needs attention)")
    assert error.reason.split()[0].isupper()


# --- building clients -------------------------------------------------------------------------


def test_worker_client_never_sleeps_or_retries_inside_telethon(telegram_settings):
    client = build_client(
        telegram_settings.TELEGRAM_SESSION, receive_updates=False, for_worker=True
    )
    assert isinstance(client.session, StringSession)
    assert client.flood_sleep_threshold == 0
    assert client._request_retries == 0
    assert client._raise_last_call_error is True
    assert client._no_updates is True
    assert client.api_id == 12345


def test_listener_client_receives_updates_and_sleeps_short_flood_waits(telegram_settings):
    client = build_client(
        telegram_settings.TELEGRAM_SESSION, receive_updates=True, for_worker=False
    )
    assert client._no_updates is False
    assert client.flood_sleep_threshold == 60


def test_build_client_names_what_is_missing_never_values(telegram_settings):
    telegram_settings.TELEGRAM_API_ID = 0
    with pytest.raises(ImproperlyConfigured) as caught:
        build_client("", receive_updates=False, for_worker=True)
    message = str(caught.value)
    assert "TELEGRAM_API_ID" in message
    assert "TELEGRAM_WORKER_SESSION or TELEGRAM_SESSION" in message
    assert "TELEGRAM_API_HASH" not in message  # it is set
    assert telegram_settings.TELEGRAM_API_HASH not in message


def test_build_client_rejects_a_malformed_session_without_echoing_it(telegram_settings):
    bogus = "1not-a-session-but-a-secret"
    with pytest.raises(
        ImproperlyConfigured, match="TELEGRAM_SESSION is not a Telethon session"
    ) as c:
        build_client(bogus, receive_updates=True, for_worker=False)
    assert bogus not in str(c.value)
    assert c.value.__suppress_context__  # the decoder's own error is not chained


def test_worker_messenger_falls_back_to_the_listener_session(telegram_settings, db):
    client = TelethonMessenger().client_for(DEFAULT_ACCOUNT)
    assert client._no_updates is True
    assert client.session.save() == telegram_settings.TELEGRAM_SESSION


def test_worker_messenger_prefers_its_own_session(telegram_settings, db):
    telegram_settings.TELEGRAM_WORKER_SESSION = session_string()
    client = TelethonMessenger().client_for(DEFAULT_ACCOUNT)
    assert client.session.save() == telegram_settings.TELEGRAM_WORKER_SESSION


# --- the messenger against a fake client ------------------------------------------------------


def short_sent(message_id: int) -> types.UpdateShortSentMessage:
    return types.UpdateShortSentMessage(id=message_id, pts=11, pts_count=1, date=WHEN, out=True)


def updates(message_id: int, random_id: int, pts_count: int = 1) -> types.Updates:
    message = types.Message(
        id=message_id, peer_id=types.PeerUser(4242), date=WHEN, message="hi", out=True
    )
    return types.Updates(
        updates=[
            types.UpdateMessageID(id=message_id, random_id=random_id),
            types.UpdateNewMessage(message=message, pts=12, pts_count=pts_count),
        ],
        users=[],
        chats=[],
        date=WHEN,
        seq=0,
    )


def test_send_is_one_raw_send_message_request_with_our_random_id():
    client = FakeTelegramClient(short_sent(901))
    sent = TelethonMessenger(client=client).send(RECIPIENT, "Добрый день!", RANDOM_ID)
    assert sent == SentMessage(901)
    [request] = client.requests
    assert isinstance(request, functions.messages.SendMessageRequest)
    assert request.random_id == RANDOM_ID
    assert request.peer == types.InputPeerUser(4242, 987654321)
    assert request.message == "Добрый день!"
    assert request.no_webpage is True
    assert client.connects == 1


def test_send_reads_the_message_id_mapped_to_our_random_id():
    client = FakeTelegramClient(updates(902, RANDOM_ID))
    assert TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID) == SentMessage(902)


def test_a_repeat_answered_with_the_original_message_is_a_duplicate():
    # Telegram may answer a repeated random_id with the first message (pts_count=0).
    client = FakeTelegramClient(updates(880, RANDOM_ID, pts_count=0))
    sent = TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)
    assert sent == SentMessage(880, duplicate=True)


def test_random_id_duplicate_means_already_sent():
    client = FakeTelegramClient(errors.RandomIdDuplicateError(REQUEST))
    sent = TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)
    assert sent == SentMessage(None, duplicate=True)


def test_flood_wait_comes_back_as_retry_after():
    client = FakeTelegramClient(errors.FloodWaitError(REQUEST, capture=30))
    with pytest.raises(TransientSendError) as caught:
        TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)
    assert caught.value.reason == "FLOOD_WAIT_30"
    assert caught.value.retry_after_s == 30


def test_blocked_recipient_is_permanent_and_unreachable():
    client = FakeTelegramClient(errors.UserIsBlockedError(REQUEST))
    with pytest.raises(PermanentSendError) as caught:
        TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)
    assert caught.value.reason == "USER_IS_BLOCKED"
    assert caught.value.recipient_unreachable


def test_network_trouble_is_transient():
    client = FakeTelegramClient(ConnectionError("Cannot send requests while disconnected"))
    with pytest.raises(TransientSendError, match="NETWORK_ERROR"):
        TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)


@pytest.mark.parametrize(
    ("text", "reason"), [("  ", "MESSAGE_EMPTY"), ("я" * 4097, "MESSAGE_TOO_LONG")]
)
def test_text_telegram_would_refuse_is_never_sent(text, reason):
    client = FakeTelegramClient()
    with pytest.raises(PermanentSendError, match=reason):
        TelethonMessenger(client=client).send(RECIPIENT, text, RANDOM_ID)
    assert client.requests == []


def test_a_hung_send_times_out_as_transient():
    client = FakeTelegramClient(short_sent(1))
    client.hang = asyncio.Event()  # never set
    with pytest.raises(TransientSendError, match="SEND_TIMEOUT"):
        TelethonMessenger(client=client, timeout_s=0.2).send(RECIPIENT, "hi", RANDOM_ID)


def test_a_logged_out_worker_session_is_transient_with_a_clear_reason():
    client = FakeTelegramClient(short_sent(1), authorized=False)
    with pytest.raises(TransientSendError, match="TELEGRAM_NOT_AUTHORIZED"):
        TelethonMessenger(client=client).send(RECIPIENT, "hi", RANDOM_ID)
    assert client.requests == []
    assert not client.connected


def test_without_access_hash_the_peer_comes_from_the_clients_cache():
    client = FakeTelegramClient(short_sent(903))
    client.input_entities[4242] = types.InputPeerUser(4242, 555)
    TelethonMessenger(client=client).send(Recipient(4242), "hi", RANDOM_ID)
    assert client.requests[0].peer == types.InputPeerUser(4242, 555)


def test_without_access_hash_the_username_is_used_if_it_still_belongs_to_them():
    client = FakeTelegramClient(short_sent(904))
    client.input_entities["ivan_p"] = types.InputPeerUser(4242, 556)
    TelethonMessenger(client=client).send(Recipient(4242, username="ivan_p"), "hi", RANDOM_ID)
    assert client.requests[0].peer == types.InputPeerUser(4242, 556)


def test_a_username_now_owned_by_someone_else_is_not_used():
    client = FakeTelegramClient(short_sent(905))
    client.input_entities["ivan_p"] = types.InputPeerUser(999, 1)
    with pytest.raises(PermanentSendError, match="PEER_NOT_RESOLVED"):
        TelethonMessenger(client=client).send(Recipient(4242, username="ivan_p"), "hi", RANDOM_ID)
    assert client.requests == []


def test_worker_threads_share_one_client_and_connect_once():
    client = FakeTelegramClient(*(short_sent(1000 + i) for i in range(20)))
    messenger = TelethonMessenger(client=client)
    results = []

    def send(i):
        results.append(messenger.send(RECIPIENT, f"text {i}", i + 1))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(r.message_id for r in results) == list(range(1000, 1020))
    assert client.connects == 1
    assert sorted(r.random_id for r in client.requests) == list(range(1, 21))


def test_sent_message_from_other_results():
    assert sent_message_from(types.UpdateShort(types.UpdateMessageID(5, 9), WHEN), 9) == (
        SentMessage(5)
    )
    assert sent_message_from(types.UpdatesTooLong(), 9) == SentMessage(None)


# --- the messenger inside a real TelegramClient (only the MTProto connection is fake) ---------


def test_real_client_raises_random_id_duplicate_at_once_and_the_messenger_reports_it(
    telegram_settings,
):
    sender = FakeSender(types.RpcError(500, "RANDOM_ID_DUPLICATE"), short_sent(1))
    messenger = TelethonMessenger(client=real_client_with(sender))
    sent = messenger.send(RECIPIENT, "hi", RANDOM_ID)
    assert sent == SentMessage(None, duplicate=True)
    assert len(sender.sent) == 1  # no internal retry: request_retries=0
    [wrapped] = sender.sent
    assert isinstance(wrapped, functions.InvokeWithoutUpdatesRequest)  # receive_updates=False
    assert wrapped.query.random_id == RANDOM_ID


def test_real_client_raises_flood_wait_at_once_without_sleeping(telegram_settings):
    sender = FakeSender(types.RpcError(420, "FLOOD_WAIT_45"), types.RpcError(420, "FLOOD_WAIT_44"))
    messenger = TelethonMessenger(client=real_client_with(sender), timeout_s=5)
    started = time.monotonic()
    with pytest.raises(TransientSendError) as first:
        messenger.send(RECIPIENT, "hi", RANDOM_ID)
    assert time.monotonic() - started < 1
    assert first.value.reason == "FLOOD_WAIT_45"
    assert first.value.retry_after_s == 45
    # Whether Telethon refuses early or Telegram answers again, the wait comes back.
    with pytest.raises(TransientSendError, match="FLOOD_WAIT_4") as second:
        messenger.send(RECIPIENT, "hi", RANDOM_ID + 1)
    assert 40 <= second.value.retry_after_s <= 45


def test_real_client_delivers_and_reads_the_id(telegram_settings):
    sender = FakeSender(short_sent(906))
    messenger = TelethonMessenger(client=real_client_with(sender))
    assert messenger.send(RECIPIENT, "hi", RANDOM_ID) == SentMessage(906)


# --- finding out whether a send happened (the send mark's lookup) ------------------------------


def history(*messages) -> types.messages.Messages:
    return types.messages.Messages(messages=list(messages), topics=[], chats=[], users=[])


def chat_message(message_id: int, text: str, *, out: bool = True, minutes: float = 0):
    """A message in the chat with RECIPIENT, `minutes` after WHEN."""
    return types.Message(
        id=message_id,
        peer_id=types.PeerUser(4242),
        date=WHEN + timedelta(minutes=minutes),
        message=text,
        out=out,
    )


def test_lookup_finds_our_message_among_the_agents_replies(telegram_settings):
    sender = FakeSender(
        history(
            chat_message(12, "Конечно, расскажу подробнее", minutes=3),  # the agent's reply
            chat_message(11, "Напоминаю о предложении", out=False, minutes=2),  # quoted back
            chat_message(10, "Напоминаю о предложении", minutes=1),  # ours
            chat_message(9, "раньше", minutes=-30),
        )
    )
    messenger = TelethonMessenger(client=real_client_with(sender))
    found = messenger.find_sent(RECIPIENT, "Напоминаю о предложении", RANDOM_ID, WHEN)
    assert found == SentMessage(10)
    [wrapped] = sender.sent  # a worker's client asks for no updates
    assert isinstance(wrapped.query, functions.messages.GetHistoryRequest)
    assert wrapped.query.peer == types.InputPeerUser(4242, 987654321)


def test_lookup_stops_at_the_mark_and_says_not_sent(telegram_settings):
    sender = FakeSender(
        history(
            chat_message(12, "другое", minutes=1),
            chat_message(10, "Напоминаю о предложении", minutes=-30),  # before the mark
        )
    )
    messenger = TelethonMessenger(client=real_client_with(sender))
    assert messenger.find_sent(RECIPIENT, "Напоминаю о предложении", RANDOM_ID, WHEN) is None


def test_lookup_reads_further_pages_until_the_mark(telegram_settings):
    newer = [chat_message(500 - i, f"msg {i}", minutes=60 - i * 0.1) for i in range(100)]
    sender = FakeSender(history(*newer), history(chat_message(300, "ours", minutes=0.5)))
    messenger = TelethonMessenger(client=real_client_with(sender))
    assert messenger.find_sent(RECIPIENT, "ours", RANDOM_ID, WHEN) == SentMessage(300)
    assert [wrapped.query.offset_id for wrapped in sender.sent] == [0, 401]


def test_lookup_that_telegram_refuses_raises(telegram_settings):
    sender = FakeSender(types.RpcError(500, "INTERNAL"))
    messenger = TelethonMessenger(client=real_client_with(sender), timeout_s=5)
    with pytest.raises(TransientSendError):
        messenger.find_sent(RECIPIENT, "ours", RANDOM_ID, WHEN)


# --- through followups.delivery -----------------------------------------------------------------


@pytest.fixture
def telegram(settings, messenger):
    """followups' messenger is the Telethon one, on a fake client (settings.FOLLOWUPS_MESSENGER)."""
    client = FakeTelegramClient()
    telegram_fakes.current_client = client
    # Switching the setting gives a fresh messenger instance (followups.messenger listens).
    settings.FOLLOWUPS_MESSENGER = "tests.telegram_fakes.messenger_for_current_client"
    yield client
    telegram_fakes.current_client = None


@pytest.fixture
def client_prospect(make_prospect) -> Prospect:
    return make_prospect(telegram_id=4242, access_hash=987654321, username="ivan_p")


def due_follow_up(prospect, text="Напоминаю о нашем предложении") -> ScheduledAction:
    return services.schedule_action(
        prospect, "follow_up", timezone.now(), payload={"message_template": text}
    )


def test_delivery_executes_with_the_telegram_message_id(telegram, client_prospect):
    telegram.results.append(short_sent(777))
    action = due_follow_up(client_prospect)
    report = delivery.deliver([action.pk])
    action.refresh_from_db()
    assert report.sent == [action.pk]
    assert action.status == ActionStatus.EXECUTED
    assert action.telegram_message_id == 777
    [request] = telegram.requests
    assert request.random_id == action.random_id
    assert request.peer == types.InputPeerUser(4242, 987654321)
    assert request.message == "Напоминаю о нашем предложении"
    assert Message.objects.get(action=action).telegram_message_id == 777


def test_delivery_of_a_repeat_is_executed_once(telegram, client_prospect):
    telegram.results.append(errors.RandomIdDuplicateError(REQUEST))
    action = due_follow_up(client_prospect)
    delivery.deliver([action.pk])
    action.refresh_from_db()
    assert action.status == ActionStatus.EXECUTED
    assert action.telegram_message_id is None


def test_delivery_to_a_client_who_blocked_us_fails_and_marks_them(telegram, client_prospect):
    telegram.results.append(errors.UserIsBlockedError(REQUEST))
    action = due_follow_up(client_prospect)
    report = delivery.deliver([action.pk])
    action.refresh_from_db()
    client_prospect.refresh_from_db()
    assert report.failed == [action.pk]
    assert action.status == ActionStatus.FAILED
    assert action.last_error == "USER_IS_BLOCKED"
    assert client_prospect.unreachable_since is not None
    assert client_prospect.unreachable_reason == "USER_IS_BLOCKED"


def test_delivery_under_flood_wait_retries_after_the_wait_with_the_same_random_id(
    telegram, client_prospect, settings
):
    settings.FOLLOWUPS_RETRY_DELAY_S = 60
    telegram.results.append(errors.FloodWaitError(REQUEST, capture=120))
    action = due_follow_up(client_prospect)
    before = timezone.now()
    report = delivery.deliver([action.pk])
    action.refresh_from_db()
    assert report.retried == [action.pk]
    assert action.status == ActionStatus.PENDING
    assert action.last_error == "FLOOD_WAIT_120"
    expected = before + timedelta(seconds=120)
    assert (
        expected - timedelta(seconds=1) <= action.scheduled_for <= expected + timedelta(seconds=5)
    )
    # Its time comes again: the same random_id goes out, so Telegram cannot send it twice.
    ScheduledAction.objects.filter(pk=action.pk).update(scheduled_for=timezone.now())
    telegram.results.append(short_sent(778))
    delivery.deliver([action.pk])
    action.refresh_from_db()
    assert action.status == ActionStatus.EXECUTED
    assert [r.random_id for r in telegram.requests] == [action.random_id] * 2


# --- the listener: which messages ----------------------------------------------------------------

CLIENT = make_user()


@pytest.mark.parametrize(
    ("message", "entities", "handled"),
    [
        (private_message(CLIENT), [CLIENT], True),
        (private_message(CLIENT, out=True), [CLIENT], False),  # our own outgoing
        (  # a group
            types.Message(
                id=1,
                peer_id=types.PeerChat(55),
                from_id=types.PeerUser(CLIENT.id),
                date=WHEN,
                message="всем привет",
            ),
            [CLIENT],
            False,
        ),
        (  # a channel post
            types.Message(
                id=1, peer_id=types.PeerChannel(66), date=WHEN, message="news", post=True
            ),
            [],
            False,
        ),
        (  # a service message (e.g. a pin) in the private chat
            types.MessageService(
                id=1,
                peer_id=types.PeerUser(CLIENT.id),
                date=WHEN,
                action=types.MessageActionPinMessage(),
            ),
            [CLIENT],
            False,
        ),
        (  # Telegram's login codes
            private_message(make_user(777000, username="telegram")),
            [make_user(777000)],
            False,
        ),
        (  # Saved Messages: a message to ourselves is outgoing
            types.Message(id=1, peer_id=types.PeerUser(SELF_ID), date=WHEN, message="note"),
            [],
            False,
        ),
    ],
)
def test_should_handle(message, entities, handled):
    assert listener.should_handle(event_for(message, entities)) is handled


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        (CLIENT, True),
        (make_user(bot=True), False),
        (make_user(is_self=True), False),
        (make_user(support=True), False),
        (make_user(deleted=True), False),
        (make_user(777000), False),
        (types.Channel(id=5, title="c", photo=types.ChatPhotoEmpty(), date=WHEN), False),
        (None, False),
    ],
)
def test_is_client(sender, ok):
    assert listener.is_client(sender) is ok


def test_telethon_never_builds_a_new_message_event_for_a_service_message():
    update = new_message(
        types.MessageService(
            id=1,
            peer_id=types.PeerUser(CLIENT.id),
            date=WHEN,
            action=types.MessageActionHistoryClear(),
        )
    )
    assert events.NewMessage.build(update, None, SELF_ID) is None


# --- the listener: what it passes on --------------------------------------------------------------

PHOTO = types.MessageMediaPhoto(
    photo=types.Photo(id=1, access_hash=2, file_reference=b"", date=WHEN, sizes=[], dc_id=2)
)
VOICE = document(types.DocumentAttributeAudio(duration=3, voice=True), mime_type="audio/ogg")
AUDIO = document(types.DocumentAttributeAudio(duration=180, title="song"), mime_type="audio/mpeg")
STICKER = document(
    types.DocumentAttributeSticker(alt="😀", stickerset=types.InputStickerSetEmpty()),
    types.DocumentAttributeImageSize(w=512, h=512),
    mime_type="image/webp",
)
VIDEO_STICKER = document(
    types.DocumentAttributeSticker(alt="😀", stickerset=types.InputStickerSetEmpty()),
    types.DocumentAttributeVideo(duration=2, w=512, h=512),
    mime_type="video/webm",
)
VIDEO = document(types.DocumentAttributeVideo(duration=10, w=640, h=480), mime_type="video/mp4")
ROUND = document(types.DocumentAttributeVideo(duration=5, w=240, h=240, round_message=True))
PDF = document(types.DocumentAttributeFilename(file_name="price.pdf"), mime_type="application/pdf")
GEO = types.MessageMediaGeo(geo=types.GeoPoint(long=115.2, lat=-8.6, access_hash=1))
CONTACT = types.MessageMediaContact(
    phone_number="+100", first_name="A", last_name="", vcard="", user_id=0
)
LINK = types.MessageMediaWebPage(webpage=types.WebPageEmpty(id=1))


@pytest.mark.parametrize(
    ("media", "text", "kind"),
    [
        (None, "Сколько стоит?", "text"),
        (LINK, "https://example.com", "text"),
        (PHOTO, "", "photo"),
        (PHOTO, "вот фото", "photo"),
        (VOICE, "", "voice"),
        (AUDIO, "", "audio"),
        (STICKER, "", "sticker"),
        (VIDEO_STICKER, "", "sticker"),
        (VIDEO, "", "video"),
        (ROUND, "", "video"),
        (PDF, "", "document"),
        (GEO, "", "location"),
        (CONTACT, "", "other"),
    ],
)
def test_to_incoming(media, text, kind):
    message = private_message(CLIENT, text, msg_id=31, media=media)
    incoming = listener.to_incoming(event_for(message, [CLIENT]), CLIENT)
    assert incoming == conversation.Incoming(
        telegram_id=4242,
        access_hash=987654321,
        username="ivan_p",
        display_name="Иван Петров",
        language_code="ru",
        message_id=31,
        at=WHEN,
        text=text,
        kind=kind,
    )


def test_to_incoming_with_sparse_profile():
    sender = types.User(
        id=5,
        access_hash=6,
        first_name="Ana",
        min=False,
        usernames=[types.Username(username="ana_b", active=True)],
    )
    incoming = listener.to_incoming(event_for(private_message(sender), [sender]), sender)
    assert (incoming.display_name, incoming.username, incoming.language_code) == (
        "Ana",
        "ana_b",
        "",
    )


# --- the listener: the flow -----------------------------------------------------------------------


@pytest.fixture
def agent(monkeypatch):
    """handle_incoming and record_outgoing as the listener calls them (in a thread)."""
    calls = {"incoming": [], "outgoing": [], "from": [], "reply": "Добрый день! Чем помочь?"}

    def handle_incoming(incoming):
        calls["incoming"].append(incoming)
        reply = calls["reply"]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def record_outgoing(account, telegram_id, text, message_id, at):
        calls["outgoing"].append((telegram_id, text, message_id, at))
        calls["from"].append(account)

    monkeypatch.setattr(conversation, "handle_incoming", handle_incoming)
    monkeypatch.setattr(conversation, "record_outgoing", record_outgoing, raising=False)
    return calls


async def listening(client: FakeTelegramClient, **kwargs) -> listener.Listener:
    handler = listener.Listener(client, **kwargs)
    handler.register()
    return handler


def test_a_message_is_answered_in_the_same_chat_and_recorded(agent):
    async def scenario():
        client = FakeTelegramClient()
        await listening(client)
        await client.dispatch(new_message(private_message(CLIENT, "Сколько стоит?")), [CLIENT])
        return client

    client = asyncio.run(scenario())
    [incoming] = agent["incoming"]
    assert (incoming.telegram_id, incoming.text, incoming.kind) == (4242, "Сколько стоит?", "text")
    [(entity, text, kwargs)] = client.sent
    assert entity == types.InputPeerUser(4242, 987654321)
    assert text == "Добрый день! Чем помочь?"
    assert kwargs == {"parse_mode": None, "link_preview": False}
    assert agent["outgoing"] == [(4242, "Добрый день! Чем помочь?", 500, WHEN)]


@pytest.mark.parametrize(
    ("message", "entities"),
    [
        (private_message(CLIENT, out=True), [CLIENT]),
        (
            types.Message(
                id=1,
                peer_id=types.PeerChat(55),
                from_id=types.PeerUser(CLIENT.id),
                date=WHEN,
                message="hi",
            ),
            [CLIENT],
        ),
        (private_message(make_user(bot=True)), [make_user(bot=True)]),
    ],
)
def test_other_messages_reach_no_agent(agent, message, entities):
    async def scenario():
        client = FakeTelegramClient()
        await listening(client)
        await client.dispatch(new_message(message), entities)
        return client

    client = asyncio.run(scenario())
    assert agent["incoming"] == []
    assert client.sent == []


def test_no_reply_sends_nothing(agent):
    agent["reply"] = None

    async def scenario():
        client = FakeTelegramClient()
        await listening(client)
        await client.dispatch(new_message(private_message(CLIENT, "ок")), [CLIENT])
        return client

    assert asyncio.run(scenario()).sent == []
    assert agent["outgoing"] == []


def test_a_failing_message_is_logged_without_its_text_and_the_next_one_is_answered(agent, caplog):
    agent["reply"] = RuntimeError("the agent broke")

    async def scenario():
        client = FakeTelegramClient()
        await listening(client)
        await client.dispatch(
            new_message(private_message(CLIENT, "секретный текст", msg_id=1)), [CLIENT]
        )
        agent["reply"] = "Ответ"
        await client.dispatch(new_message(private_message(CLIENT, "второе", msg_id=2)), [CLIENT])
        return client

    with caplog.at_level(logging.INFO, logger="bot.listener"):
        client = asyncio.run(scenario())
    assert "message handling failed chat=4242 id=1" in caplog.text
    assert "секретный текст" not in caplog.text
    assert "второе" not in caplog.text
    assert [text for _, text, _ in client.sent] == ["Ответ"]


def test_a_reply_telegram_refuses_is_logged_by_its_error_name(agent, caplog):
    async def scenario():
        client = FakeTelegramClient()
        client.send_error = errors.UserIsBlockedError(REQUEST)
        await listening(client)
        await client.dispatch(new_message(private_message(CLIENT)), [CLIENT])

    with caplog.at_level(logging.INFO, logger="bot.listener"):
        asyncio.run(scenario())
    assert "reply not sent to=4242 reason=USER_IS_BLOCKED" in caplog.text
    assert agent["outgoing"] == []


def test_one_clients_messages_are_handled_one_at_a_time_in_order(agent, monkeypatch):
    order = []
    gate = threading.Event()

    def handle_incoming(incoming):
        order.append(("start", incoming.message_id))
        if incoming.message_id == 1:
            gate.wait(5)
        order.append(("end", incoming.message_id))
        return f"ответ {incoming.message_id}"

    monkeypatch.setattr(conversation, "handle_incoming", handle_incoming)

    async def scenario():
        client = FakeTelegramClient()
        await listening(client)
        first = asyncio.create_task(
            client.dispatch(new_message(private_message(CLIENT, "a", msg_id=1)), [CLIENT])
        )
        second = asyncio.create_task(
            client.dispatch(new_message(private_message(CLIENT, "b", msg_id=2)), [CLIENT])
        )
        await asyncio.sleep(0.2)
        assert order == [("start", 1)]
        gate.set()
        await asyncio.gather(first, second)
        return client

    client = asyncio.run(scenario())
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    assert [text for _, text, _ in client.sent] == ["ответ 1", "ответ 2"]


# --- the listener: run and shutdown ------------------------------------------------------------


def test_shutdown_finishes_the_message_in_flight_then_disconnects(
    agent, monkeypatch, transactional_db
):
    entered, release = threading.Event(), threading.Event()

    def slow(incoming):
        agent["incoming"].append(incoming)
        entered.set()
        release.wait(5)
        return "Готово"

    monkeypatch.setattr(conversation, "handle_incoming", slow)

    async def scenario():
        client = FakeTelegramClient()
        stop = asyncio.Event()
        running = asyncio.create_task(listener.run(client, stop, drain_timeout_s=5))
        while not client.handlers:
            await asyncio.sleep(0.01)
        in_flight = asyncio.create_task(
            client.dispatch(new_message(private_message(CLIENT, msg_id=1)), [CLIENT])
        )
        await asyncio.to_thread(entered.wait, 5)
        stop.set()
        await asyncio.sleep(0.1)
        assert not running.done() and client.connected  # waiting for the message in flight
        # A message arriving now is not taken.
        await client.dispatch(new_message(private_message(CLIENT, msg_id=2)), [CLIENT])
        release.set()
        await running
        await in_flight
        return client

    client = asyncio.run(scenario())
    assert [i.message_id for i in agent["incoming"]] == [1]
    assert [text for _, text, _ in client.sent] == ["Готово"]
    assert agent["outgoing"] == [(4242, "Готово", 500, WHEN)]
    assert not client.connected


def test_shutdown_does_not_wait_forever(agent, monkeypatch, transactional_db):
    release = threading.Event()

    def stuck(incoming):
        release.wait(5)
        return None

    monkeypatch.setattr(conversation, "handle_incoming", stuck)

    async def scenario():
        client = FakeTelegramClient()
        stop = asyncio.Event()
        running = asyncio.create_task(listener.run(client, stop, drain_timeout_s=0.2))
        while not client.handlers:
            await asyncio.sleep(0.01)
        in_flight = asyncio.create_task(
            client.dispatch(new_message(private_message(CLIENT)), [CLIENT])
        )
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 2)
        assert not client.connected
        release.set()
        await in_flight

    asyncio.run(scenario())


def test_a_stop_while_connecting_just_disconnects():
    async def scenario():
        client = FakeTelegramClient()
        client.hang_connect = asyncio.Event()  # Telegram unreachable: connect keeps retrying
        stop = asyncio.Event()
        running = asyncio.create_task(listener.run(client, stop))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(running, 2)
        assert client.handlers == []
        assert not client.connected

    asyncio.run(scenario())


def test_a_logged_out_session_stops_the_listener(transactional_db):
    async def scenario():
        client = FakeTelegramClient(authorized=False)
        with pytest.raises(listener.NotAuthorized, match="telegram_login"):
            await listener.run(client, asyncio.Event())
        assert not client.connected
        assert client.handlers == []

    asyncio.run(scenario())
    default = Account.objects.get(name=DEFAULT_ACCOUNT)
    assert default.state == Account.State.NEEDS_LOGIN
    assert "TELEGRAM_NOT_AUTHORIZED" in default.state_reason


def test_losing_telegram_for_good_ends_run_with_an_error(transactional_db):
    async def scenario():
        client = FakeTelegramClient()
        running = asyncio.create_task(listener.run(client, asyncio.Event()))
        while not client.handlers:
            await asyncio.sleep(0.01)
        client.drop_connection()
        with pytest.raises(ConnectionError, match="Connection reset"):
            await asyncio.wait_for(running, 2)

    asyncio.run(scenario())
