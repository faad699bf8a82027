"""Opt-out and its lifting: only the client's own request to be written to, or an operator with
a reason, lifts it; both are recorded and shown. On the real database."""

from dataclasses import replace

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bot import prompts
from bot.conversation import handle_incoming
from bot.models import ToolCall
from followups import services
from followups.models import OptOutChange, Prospect, ScheduledAction
from followups.roles import OPERATORS
from tests import test_admin
from tests.anthropic_fakes import end_turn, last_tool_results, tool_use
from tests.test_admin import staff
from tests.test_agent import CLIENT_ID, claude_api, converse, incoming, pending_follow_ups

operator, viewer, claude_api = test_admin.operator, test_admin.viewer, claude_api

LIFTED, OPTED_OUT = OptOutChange.Kind.LIFTED, OptOutChange.Kind.OPTED_OUT


def client() -> Prospect:
    return Prospect.objects.get(telegram_id=CLIENT_ID)


def opted_out_client(words: str = "") -> Prospect:
    prospect = Prospect.objects.create(telegram_id=CLIENT_ID, display_name="Анна")
    services.opt_out(prospect, words=words)
    return prospect


def schedule_at(when_text: str):
    """Claude's call to schedule a follow-up at `when_text`."""
    return tool_use(
        "schedule_followup", {"when_text": when_text, "message_template": "", "reason": "asked"}
    )


def history(prospect: Prospect) -> list[tuple[str, str, str]]:
    return [(c.kind, c.by, c.words) for c in prospect.opt_out_changes.all()]


@pytest.mark.django_db(transaction=True)
class TestTheClientsWords:
    def test_a_request_to_be_written_lifts_it_a_plain_message_does_not(self, settings):
        settings.ANTHROPIC_API_KEY = ""  # the rule-based agent
        assert converse("Не пишите мне больше").startswith("Хорошо, больше не будем")
        opted_at = client().opted_out_at
        assert opted_at is not None
        reply = converse("Как у вас дела?")  # not a request to be contacted
        assert client().opted_out_at == opted_at
        assert "когда" not in reply.lower()  # no question about a time it would refuse
        reply = converse("Напишите мне через 10 минут")
        assert reply == "Отлично, напишу вам сегодня в 11:10!"
        assert client().opted_out_at is None
        assert pending_follow_ups().count() == 1
        by = "client (read by fallback)"
        assert history(client()) == [
            (OPTED_OUT, by, "Не пишите мне больше"),
            (LIFTED, by, "Напишите мне через 10 минут"),
        ]
        lifted = client().opt_out_changes.get(kind=LIFTED)
        assert opted_at < lifted.at <= timezone.now()

    def test_the_model_cannot_lift_it_without_the_clients_words(self, claude_api):
        opted_out_client(words="стоп")
        fake = claude_api(schedule_at("через 10 минут"), end_turn("Хорошо."))
        converse("Спасибо, я подумаю")
        result = last_tool_results(fake.requests[1])[0]
        assert result["is_error"] is True
        assert "Do not ask them for a time" in result["content"]["error"]
        assert client().opted_out_at is not None
        assert not ScheduledAction.objects.exists()
        assert history(client()) == [(OPTED_OUT, "client", "стоп")]
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.REFUSED
        # The model was told: no time to ask for.
        assert "Клиент просил больше ему не писать" in fake.requests[0]["system"]

    def test_claude_lifts_it_on_the_clients_request(self, claude_api):
        opted_out_client()
        claude_api(
            schedule_at("завтра в 11"),
            lambda body: end_turn(last_tool_results(body)[0]["content"]["client_text"]),
        )
        assert converse("Передумал: напишите мне завтра в 11, пожалуйста") == "завтра в 11:00"
        assert client().opted_out_at is None
        assert history(client())[-1] == (
            LIFTED,
            "client (read by claude)",
            "Передумал: напишите мне завтра в 11, пожалуйста",
        )

    def test_a_message_that_also_says_stop_does_not_lift_it(self, claude_api):
        opted_out_client()
        claude_api(schedule_at("через неделю"), end_turn("Понял."))
        converse("Больше не пишите. Через неделю тоже")
        assert client().opted_out_at is not None
        assert not pending_follow_ups().exists()

    def test_a_forwarded_request_does_not_lift_it(self, settings):
        settings.ANTHROPIC_API_KEY = ""
        opted_out_client()
        handle_incoming(replace(incoming("Напишите мне через 10 минут"), forwarded=True))
        assert client().opted_out_at is not None
        assert not pending_follow_ups().exists()


def test_the_system_prompt_says_nothing_of_it_for_a_client_who_did_not_opt_out(prospect):
    assert "Клиент просил больше ему не писать" not in prompts.system_prompt(
        prospect, timezone.now()
    )


# --- staff ------------------------------------------------------------------------------------


def lift_url(prospect: Prospect) -> str:
    return reverse("admin:followups_prospect_lift_opt_out", args=[prospect.pk])


def prospect_page(prospect: Prospect) -> str:
    return reverse("admin:followups_prospect_change", args=[prospect.pk])


@pytest.fixture
def opted_out(make_prospect):
    prospect = make_prospect(display_name="Анна", time_zone="Europe/Moscow")
    services.opt_out(prospect, words="Не пишите мне больше")
    return prospect


def test_an_operator_lifts_it_with_a_reason(operator, opted_out):
    body = operator.get(prospect_page(opted_out)).content.decode()
    assert lift_url(opted_out) in body
    assert "Не пишите мне больше" in body  # the client's words, in the opt-out history
    form = operator.get(lift_url(opted_out)).content.decode()
    assert "18 Nov 2026 06:00 (Europe/Moscow), 03:00 UTC" in form  # when they opted out
    refused = operator.post(lift_url(opted_out), {"reason": "   "})
    assert "This field is required." in refused.content.decode()
    opted_out.refresh_from_db()
    assert opted_out.opted_out_at is not None  # no reason, no lift
    response = operator.post(
        lift_url(opted_out),
        {"reason": "Клиентка позвонила и попросила прислать прайс"},
        follow=True,
    )
    body = response.content.decode()
    assert "Opt-out lifted." in body
    assert "Клиентка позвонила и попросила прислать прайс" in body
    assert "staff (operator)" in body
    opted_out.refresh_from_db()
    assert opted_out.opted_out_at is None
    assert history(opted_out)[-1] == (
        LIFTED,
        "staff (operator)",
        "Клиентка позвонила и попросила прислать прайс",
    )
    assert lift_url(opted_out) not in body  # nothing left to lift
    services.schedule_action(opted_out, "follow_up", timezone.now() + timezone.timedelta(hours=1))


def test_a_reason_too_long_is_refused(operator, opted_out):
    response = operator.post(lift_url(opted_out), {"reason": "x" * 2001})
    assert "at most 2000 characters" in response.content.decode()
    opted_out.refresh_from_db()
    assert opted_out.opted_out_at is not None


def test_a_viewer_cannot_lift_it(viewer, opted_out):
    assert lift_url(opted_out) not in viewer.get(prospect_page(opted_out)).content.decode()
    assert viewer.get(lift_url(opted_out)).status_code == 403
    assert viewer.post(lift_url(opted_out), {"reason": "forged"}).status_code == 403
    opted_out.refresh_from_db()
    assert opted_out.opted_out_at is not None
    assert history(opted_out) == [(OPTED_OUT, "client", "Не пишите мне больше")]


def test_lifting_needs_the_csrf_token(db, opted_out):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff("operator", OPERATORS))
    assert browser.post(lift_url(opted_out), {"reason": "forged"}).status_code == 403
    opted_out.refresh_from_db()
    assert opted_out.opted_out_at is not None


def test_lifting_a_prospect_not_opted_out_changes_nothing(prospect):
    assert services.lift_opt_out(prospect, by="staff (x)", words="why") is False
    assert not prospect.opt_out_changes.exists()
    with pytest.raises(services.SchedulingError, match="reason"):
        services.lift_opt_out(prospect, by="staff (x)", words=" \x00 ")


def test_staffs_opt_out_is_recorded_as_theirs(operator, prospect):
    operator.post(
        reverse("admin:followups_prospect_changelist"),
        {"action": "opt_out_selected", "_selected_action": [prospect.pk]},
    )
    assert history(prospect) == [(OPTED_OUT, "staff (operator)", "")]
