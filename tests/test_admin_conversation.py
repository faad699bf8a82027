"""The conversation on a prospect's page: what the client wrote and what they were sent, each
marked, oldest first, escaped, capped with a link to all; the number of queries does not grow
with the conversation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from followups import services
from followups.admin import CONVERSATION_SHOWN
from followups.models import ActionType, Message
from tests import test_admin

operator, viewer = test_admin.operator, test_admin.viewer

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'


def prospect_page(prospect) -> str:
    return reverse("admin:followups_prospect_change", args=[prospect.pk])


def say(prospect, direction: str, text: str, minutes: int, action=None) -> Message:
    return Message.objects.create(
        prospect=prospect,
        direction=direction,
        text=text,
        sent_at=timezone.now() - timedelta(minutes=minutes),
        action=action,
    )


@pytest.fixture
def chat(make_prospect):
    prospect = make_prospect(display_name="Анна", time_zone="Europe/Moscow")
    follow_up = services.schedule_action(
        prospect, ActionType.FOLLOW_UP, timezone.now() + timedelta(hours=1)
    )
    say(prospect, "in", "Напишите мне через час", 30)
    say(prospect, "out", "Отлично, напишу вам через час!", 29)
    say(prospect, "out", "Анна, вот обещанный прайс", 5, action=follow_up)
    say(prospect, "in", HOSTILE, 1)
    return prospect, follow_up


def test_the_conversation_is_shown_marked_and_oldest_first(viewer, chat):
    prospect, follow_up = chat
    body = viewer.get(prospect_page(prospect)).content.decode()
    section = body[body.index('id="conversation"') :]
    order = [
        section.index(text)
        for text in ("Напишите мне через час", "Отлично, напишу", "вот обещанный прайс")
    ]
    assert order == sorted(order)
    assert "<strong>agent reply</strong>" in section
    assert "<strong>follow-up</strong>" in section
    assert reverse("admin:followups_scheduledaction_change", args=[follow_up.pk]) in section
    # 30 minutes before the pinned 11:00 in Makassar: 05:30 in Moscow, 02:30 UTC
    assert "18 Nov 2026 05:30 (Europe/Moscow), 02:30 UTC" in section


def test_a_clients_html_is_shown_as_text(viewer, chat):
    prospect, _ = chat
    body = viewer.get(prospect_page(prospect)).content.decode()
    assert "<script>document.title" not in body
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in body
    assert "<img src=x" not in body


def test_a_long_conversation_is_capped_with_a_link_to_all(viewer, make_prospect):
    prospect = make_prospect()
    total = CONVERSATION_SHOWN + 25
    Message.objects.bulk_create(
        Message(
            prospect=prospect,
            direction="in" if i % 2 else "out",
            text=f"message number {i:04d}",
            sent_at=timezone.now() - timedelta(minutes=total - i),
        )
        for i in range(total)
    )
    body = viewer.get(prospect_page(prospect)).content.decode()
    assert f"The latest {CONVERSATION_SHOWN} of {total} messages" in body
    assert f"message number {total - 1:04d}" in body  # the newest
    assert f"message number {total - CONVERSATION_SHOWN - 1:04d}" not in body  # older: a link away
    all_url = reverse("admin:followups_message_changelist") + f"?prospect__id__exact={prospect.pk}"
    assert all_url in body
    listing = viewer.get(all_url)
    assert listing.status_code == 200
    assert f"{total} messages" in listing.content.decode()


def queries_for(client, prospect) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(prospect_page(prospect)).status_code == 200
    return len(queries)


def test_the_page_makes_as_many_queries_for_a_long_conversation(viewer, make_prospect):
    short, long = make_prospect(), make_prospect()
    for prospect, count in ((short, 3), (long, CONVERSATION_SHOWN * 4)):
        action = services.schedule_action(
            prospect, ActionType.FOLLOW_UP, timezone.now() + timedelta(hours=1)
        )
        Message.objects.bulk_create(
            Message(
                prospect=prospect,
                direction="out",
                text=str(i),
                sent_at=timezone.now() - timedelta(minutes=i),
                action=action,
            )
            for i in range(count)
        )
    assert queries_for(viewer, long) == queries_for(viewer, short) + 1  # + the count of all


def test_messages_cannot_be_changed_even_by_an_operator(operator, chat):
    prospect, _ = chat
    message = prospect.messages.first()
    url = reverse("admin:followups_message_change", args=[message.pk])
    assert 'name="_save"' not in operator.get(url).content.decode()
    assert operator.post(url, {"text": "forged"}).status_code == 403
    message.refresh_from_db()
    assert message.text == "Напишите мне через час"
