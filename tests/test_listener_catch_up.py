"""Messages that arrived while the listener was down are answered when it starts, and cancel the
client's follow-ups like live ones (the real conversation, the fallback agent, the real DB)."""

import asyncio
from datetime import timedelta

from django.utils import timezone

from bot import listener
from followups import services
from followups.models import ActionStatus, Message, Prospect
from tests.telegram_fakes import FakeTelegramClient, make_user, private_message

CLIENT = make_user(4242)


def test_unread_messages_are_handled_once_oldest_first(transactional_db, settings):
    settings.ANTHROPIC_API_KEY = ""
    prospect = Prospect.objects.create(telegram_id=CLIENT.id, display_name="Иван")
    follow_up = services.schedule_action(
        prospect,
        "follow_up",
        timezone.now() + timedelta(hours=3),
        payload={"message_template": "x"},
    )
    now = timezone.now()
    answered_before = private_message(
        CLIENT, "Здравствуйте", msg_id=10, date=now - timedelta(hours=2)
    )
    Message.objects.create(
        prospect=prospect,
        direction="in",
        text="Здравствуйте",
        sent_at=answered_before.date,
        telegram_message_id=10,
    )
    stale = private_message(CLIENT, "старое", msg_id=5, date=now - timedelta(days=3))
    first = private_message(
        CLIENT, "Есть вопрос по цене", msg_id=11, date=now - timedelta(minutes=20)
    )
    second = private_message(
        CLIENT, "напишите завтра в 11", msg_id=12, date=now - timedelta(minutes=5)
    )
    client = FakeTelegramClient()
    client.dialogs = [(CLIENT, 4, [second, first, answered_before, stale])]

    async def scenario():
        handler = listener.Listener(client)
        return await handler.catch_up(since=timezone.now() - listener.CATCH_UP_WINDOW)

    assert asyncio.run(scenario()) == 2
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.cancel_reason) == (
        ActionStatus.CANCELLED,
        "client_responded",
    )
    inbound = list(
        Message.objects.filter(direction="in").values_list("telegram_message_id", flat=True)
    )
    assert inbound == [10, 11, 12]
    replies = [text for _, text, _ in client.sent]
    assert len(replies) == 2
    assert replies[1] == "Отлично, напишу вам завтра в 11:00!"
    assert services.get_pending(prospect).get().payload["when_text"] == "напишите завтра в 11"
