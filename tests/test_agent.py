"""The conversation and the agent: Claude through the real SDK at its HTTP boundary, the
fallback, the tools, on the real database (and the real broker and a worker for delivery)."""

from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from django.utils import timezone

from bot import claude
from bot.conversation import Incoming, handle_incoming, record_outgoing, write_follow_up
from bot.models import ToolCall
from bot.tools import Turn, run_tool
from followups import services
from followups.models import (
    DEFAULT_ACCOUNT,
    ActionStatus,
    Meeting,
    Message,
    Prospect,
    ScheduledAction,
)
from followups.texts import describe_when
from tests.anthropic_fakes import FakeClaude, end_turn, last_tool_results, tool_use, tool_uses
from tests.conftest import client_time, wait_until

CLIENT_ID = 555_000_111


@pytest.fixture
def claude_api(monkeypatch, settings):
    """Install a scripted Claude; returns a function taking the script's steps."""
    settings.ANTHROPIC_API_KEY = "test-key"

    def install(*steps) -> FakeClaude:
        fake = FakeClaude(*steps)
        monkeypatch.setattr(claude, "anthropic_client", fake.client)
        return fake

    return install


def incoming(text: str, *, kind: str = "text", at: datetime | None = None, lang: str = "ru"):
    return Incoming(
        telegram_id=CLIENT_ID,
        access_hash=-4242,
        username="anna_bali",
        display_name="Анна",
        language_code=lang,
        message_id=int((at or timezone.now()).timestamp() * 1000) % 2**31,
        at=at or timezone.now(),
        text=text,
        kind=kind,
    )


def converse(text: str, **kwargs) -> str:
    """A client message and the agent's reply, recorded as the listener would."""
    reply = handle_incoming(incoming(text, **kwargs))
    record_outgoing(DEFAULT_ACCOUNT, CLIENT_ID, reply, None, timezone.now())
    return reply


def confirm_from_tool_result(body: dict) -> object:
    result = last_tool_results(body)[0]["content"]
    return end_turn(f"Отлично, напишу вам {result['client_text']}!")


def pending_follow_ups():
    return ScheduledAction.objects.filter(action_type="follow_up", status="pending")


@pytest.mark.django_db(transaction=True)
class TestClaudeSchedules:
    def test_in_two_hours_exact_confirmation(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {
                    "when_text": "через 2 часа",
                    "message_template": "Анна, подобрал для вас две виллы с видом на океан.",
                    "reason": "client asked to write in 2 hours",
                },
                text="Хорошо!",
            ),
            confirm_from_tool_result,
        )
        before = timezone.now()
        reply = converse("Напиши мне через 2 часа, сейчас занята")
        action = pending_follow_ups().get()
        expected = before + timedelta(hours=2)
        assert abs(action.scheduled_for - expected) < timedelta(minutes=1)
        prospect = Prospect.objects.get(telegram_id=CLIENT_ID)
        when = describe_when(action.scheduled_for, before, prospect.zone, "ru")
        assert reply == f"Отлично, напишу вам {when}!"
        assert action.client_requested_time is True
        assert action.payload["when_text"] == "через 2 часа"
        # What Claude was given: tools, a Russian system prompt with the client's local time.
        first = fake.requests[0]
        assert {t["name"] for t in first["tools"]} >= {"schedule_followup", "opt_out"}
        assert "Текущее время клиента" in first["system"]
        assert first["messages"] == [
            {"role": "user", "content": "Напиши мне через 2 часа, сейчас занята"}
        ]
        # The tool result told the model exactly what was scheduled.
        result = last_tool_results(fake.requests[1])[0]
        assert result["is_error"] is False
        assert result["content"]["status"] == "scheduled"
        assert result["content"]["action_id"] == str(action.pk)
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.OK

    def test_model_reading_is_only_a_cross_check(self, claude_api):
        wrong = (timezone.now() + timedelta(days=3)).isoformat()
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {
                    "when_text": "завтра в 11",
                    "follow_up_time": wrong,
                    "message_template": "",
                    "reason": "asked",
                },
            ),
            end_turn("Напишу завтра в 11:00!"),
        )
        converse("давайте завтра в 11")
        action = pending_follow_ups().get()
        local = action.scheduled_for.astimezone(action.prospect.zone)
        tomorrow = (timezone.now().astimezone(action.prospect.zone) + timedelta(days=1)).date()
        assert (local.date(), local.hour, local.minute) == (tomorrow, 11, 0)
        assert "differed" in last_tool_results(fake.requests[1])[0]["content"]["note"]

    def test_structured_fields_when_the_words_are_unreadable(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {
                    "when_text": "ну как тогда договаривались",
                    "when_fields": {"days_ahead": 1, "hour": 5},
                    "message_template": "",
                    "reason": "asked",
                },
            ),
            end_turn("Напишу завтра в 17:00!"),
        )
        converse("ну как тогда договаривались")
        action = pending_follow_ups().get()
        local = action.scheduled_for.astimezone(action.prospect.zone)
        tomorrow = (timezone.now().astimezone(action.prospect.zone) + timedelta(days=1)).date()
        assert (local.date(), local.hour) == (tomorrow, 17)  # «в 5» is 17:00, by the rules
        assert last_tool_results(fake.requests[1])[0]["content"]["status"] == "scheduled"

    def test_bad_structured_fields_are_refused(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {
                    "when_text": "ну как договаривались",
                    "when_fields": {"hour": 99},
                    "message_template": "",
                    "reason": "asked",
                },
            ),
            end_turn("Когда вам удобно?"),
        )
        converse("ну как договаривались")
        result = last_tool_results(fake.requests[1])[0]
        assert result["is_error"] is True
        assert "hour" in result["content"]["error"]
        assert not ScheduledAction.objects.exists()

    def test_ambiguous_time_schedules_nothing(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "как-нибудь позже", "message_template": "", "reason": "asked"},
            ),
            end_turn("Когда вам будет удобно?"),
        )
        assert converse("напишите как-нибудь позже") == "Когда вам будет удобно?"
        assert not pending_follow_ups().exists()
        result = last_tool_results(fake.requests[1])[0]["content"]
        assert result["status"] == "ambiguous"
        assert result["scheduled"] is False
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.NEEDS_CLIENT

    def test_a_time_read_only_in_part_is_asked_about(self, claude_api):
        """A time-bearing word the resolver could not read ("13" beside "пятницы") reaches
        the model as `unused_words`, with nothing scheduled and the best reading offered."""
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "в пятницу 13", "message_template": "", "reason": "asked"},
            ),
            end_turn("Уточните, пожалуйста: в пятницу в 13:00?"),
        )
        converse("напишите в пятницу 13")
        assert not pending_follow_ups().exists()
        result = last_tool_results(fake.requests[1])[0]["content"]
        assert (result["status"], result["scheduled"]) == ("ambiguous", False)
        assert result["unused_words"] == ["13"]
        assert "unused_words" in result["instruction"]
        assert result["possible_reading"]
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.NEEDS_CLIENT

    @pytest.mark.parametrize(
        ("tool_input", "error"),
        [
            ({"when_text": "завтра", "reason": "x", "message_template": 5}, "must be a string"),
            ({"message_template": "", "reason": "x"}, "when_text is required"),
            (
                {"when_text": "завтра", "message_template": "", "reason": "x",
                 "follow_up_time": "2031-01-01T10:00:00"},
                "follow_up_time has no time zone (2031-01-01T10:00:00)",
            ),
            (
                {"when_text": "завтра", "message_template": "", "reason": "x",
                 "follow_up_time": "2020-01-01T10:00:00+08:00"},
                "in the past",
            ),
            (
                {"when_text": "завтра", "message_template": "", "reason": "x",
                 "follow_up_time": "2099-01-01T10:00:00+08:00"},
                "days ahead",
            ),
            (
                {"when_text": "завтра", "message_template": "", "reason": "x",
                 "follow_up_time": "next tuesday"},
                "not ISO 8601",
            ),
            (
                {"when_text": "завтра", "message_template": "x" * 5000, "reason": "x"},
                "at most 4096",
            ),
        ],
    )  # fmt: skip
    def test_invalid_tool_input_is_refused(self, claude_api, tool_input, error):
        fake = claude_api(tool_use("schedule_followup", tool_input), end_turn("Уточните время?"))
        converse("напишите завтра")
        result = last_tool_results(fake.requests[1])[0]
        assert result["is_error"] is True
        assert error in result["content"]["error"]
        assert not ScheduledAction.objects.exists()
        call = ToolCall.objects.get()
        assert call.outcome == ToolCall.Outcome.REFUSED
        assert error in call.result["error"]

    def test_unknown_tool_and_burst_of_calls(self, claude_api):
        call = ("schedule_followup", {"when_text": "завтра", "message_template": "", "reason": "x"})
        fake = claude_api(
            tool_uses(("delete_database", {}), call, call, call, call),
            end_turn("Готово"),
        )
        converse("напишите завтра")
        results = last_tool_results(fake.requests[1])
        assert [r["is_error"] for r in results] == [True, False, False, False, True]
        assert "unknown tool 'delete_database'" in results[0]["content"]["error"]
        # A repeat of the same promise is the same action, not a second one.
        assert len({r["content"]["action_id"] for r in results[1:4]}) == 1
        assert "already scheduled" in results[2]["content"]["note"]
        assert "at most 3 scheduling calls" in results[4]["content"]["error"]
        assert pending_follow_ups().count() == 1

    def test_round_cap(self, claude_api):
        loop = tool_use("cancel_followups", {"reason": "loop"})
        claude_api(*[loop] * claude.MAX_ROUNDS)
        reply = converse("привет")
        # No final answer within the cap: the fallback answers (nothing was scheduled).
        assert reply == "Спасибо за сообщение! Менеджер ответит вам в ближайшее время."
        assert ToolCall.objects.filter(tool="cancel_followups").count() == claude.MAX_ROUNDS


@pytest.mark.django_db(transaction=True)
class TestCancelOnReply:
    def schedule(self, claude_api, when_text="завтра в 11"):
        claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": when_text, "message_template": "Привет!", "reason": "asked"},
            ),
            confirm_from_tool_result,
        )
        converse(f"напишите {when_text}")
        return pending_follow_ups().get()

    def test_client_writes_first_cancels(self, claude_api, caplog):
        action = self.schedule(claude_api)
        claude_api(end_turn("Конечно, расскажу подробнее."))
        with caplog.at_level("INFO"):
            converse("А сколько стоит вилла на неделю?")
        action.refresh_from_db()
        assert (action.status, action.cancel_reason) == ("cancelled", "client_responded")
        assert "Cancelled 1 pending follow-ups for prospect" in caplog.text
        assert "сколько стоит" not in caplog.text  # ids, not message bodies

    def test_bare_acknowledgement_keeps_the_promise(self, claude_api, caplog):
        action = self.schedule(claude_api)
        claude_api(end_turn("👍"))
        with caplog.at_level("INFO"):
            converse("ок, спасибо!")
        action.refresh_from_db()
        assert action.status == ActionStatus.PENDING
        assert "reason=acknowledgement" in caplog.text

    def test_acknowledgement_long_after_is_a_reply(self, claude_api):
        action = self.schedule(claude_api)
        claude_api(end_turn("Хорошо"))
        converse("ок", at=timezone.now() + timedelta(hours=3))
        action.refresh_from_db()
        assert action.status == ActionStatus.CANCELLED

    def test_agent_restores_when_the_plan_is_unchanged(self, claude_api):
        action = self.schedule(claude_api)
        fake = claude_api(
            lambda body: tool_use("restore_followup", {"action_id": str(action.pk)}),
            end_turn("Да, напишу завтра в 11:00, как договорились."),
        )
        converse("Вы же мне завтра напишете, да?")
        assert str(action.pk) in fake.requests[0]["system"]  # the model was told
        restored = pending_follow_ups().get()
        assert restored.pk != action.pk
        assert restored.scheduled_for == action.scheduled_for
        assert restored.payload["restored_from"] == str(action.pk)

    def test_restore_only_what_this_message_cancelled(self, claude_api):
        action = self.schedule(claude_api)
        services.cancel_action(action, "staff")
        fake = claude_api(
            tool_use("restore_followup", {"action_id": str(action.pk)}), end_turn("Ок")
        )
        converse("что там с виллой?")
        assert last_tool_results(fake.requests[1])[0]["is_error"] is True
        assert not pending_follow_ups().exists()


@pytest.mark.django_db(transaction=True)
def test_opt_out_means_nothing_is_ever_sent(claude_api, messenger):
    claude_api(
        tool_use(
            "schedule_followup",
            {"when_text": "через 2 часа", "message_template": "Привет", "reason": "asked"},
        ),
        confirm_from_tool_result,
        tool_use("opt_out", {}),
        end_turn("Поняли, больше не пишем."),
    )
    converse("напишите через 2 часа")
    converse("Не пишите мне больше")
    prospect = Prospect.objects.get(telegram_id=CLIENT_ID)
    assert prospect.opted_out_at is not None
    assert not ScheduledAction.objects.filter(status="pending").exists()
    with pytest.raises(services.SchedulingError, match="opted out"):
        services.schedule_action(prospect, "follow_up", timezone.now() + timedelta(hours=1))
    assert messenger.delivered == []


@pytest.mark.django_db(transaction=True)
def test_booking_schedules_reminders(claude_api):
    fake = claude_api(
        tool_use("book_meeting", {"when_text": "послезавтра в 15:00", "title": "Виллы"}),
        lambda body: end_turn(
            f"Записал вас {last_tool_results(body)[0]['content']['client_text']}!"
        ),
    )
    reply = converse("Давайте созвонимся послезавтра в 15:00")
    meeting = Meeting.objects.get()
    local = meeting.starts_at.astimezone(meeting.prospect.zone)
    assert (local.hour, local.minute) == (15, 0)
    assert reply.startswith("Записал вас послезавтра в 15:00")
    assert last_tool_results(fake.requests[1])[0]["content"]["reminders"] == 1
    reminder = meeting.reminders.get()
    assert reminder.scheduled_for == meeting.starts_at - timedelta(hours=24)


@pytest.mark.django_db(transaction=True)
class TestClaudeDown:
    @pytest.mark.parametrize(
        "failure",
        [
            httpx2.Response(500, json={"type": "error", "error": {"type": "api_error"}}),
            httpx2.Response(429, json={"type": "error", "error": {"type": "rate_limit_error"}}),
            httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error"}}),
            httpx2.ConnectError("connection refused"),
            httpx2.ReadTimeout("timed out"),
        ],
        ids=["500", "429", "529", "connect", "timeout"],
    )
    def test_fallback_still_schedules(self, claude_api, failure):
        claude_api(failure)
        reply = converse("напишите мне завтра после обеда")
        action = pending_follow_ups().get()
        local = action.scheduled_for.astimezone(action.prospect.zone)
        assert (local.hour, local.minute) == (14, 0)
        assert reply == "Отлично, напишу вам завтра в 14:00!"
        assert ToolCall.objects.get().agent == "fallback"

    def test_no_api_key(self, settings):
        settings.ANTHROPIC_API_KEY = ""
        assert converse("не пишите мне больше").startswith("Хорошо, больше не будем")
        assert Prospect.objects.get(telegram_id=CLIENT_ID).opted_out_at is not None

    def test_failure_after_a_tool_ran_does_not_repeat_it(self, claude_api):
        claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "завтра в 11", "message_template": "", "reason": "asked"},
            ),
            httpx2.Response(500, json={"type": "error", "error": {"type": "api_error"}}),
        )
        reply = converse("напишите завтра в 11")
        assert pending_follow_ups().count() == 1
        assert reply == "Отлично, напишу вам завтра в 11:00!"

    def test_media_gets_a_sensible_reply(self, settings):
        settings.ANTHROPIC_API_KEY = ""
        reply = converse("", kind="voice")
        assert "текст" in reply
        assert Message.objects.filter(direction="in").get().text == "[voice]"

    def test_huge_message_is_cut(self, settings):
        settings.ANTHROPIC_API_KEY = ""
        settings.BOT_MAX_INBOUND_CHARS = 500
        converse("Здравствуйте! " * 1000)
        assert len(Message.objects.filter(direction="in").get().text) == 500


@pytest.mark.django_db(transaction=True)
def test_follow_up_written_at_send_time(claude_api):
    prospect = Prospect.objects.create(telegram_id=CLIENT_ID, display_name="Анна")
    action = services.schedule_action(
        prospect, "follow_up", timezone.now() + timedelta(hours=1), payload={"reason": "villa"}
    )
    fake = claude_api(end_turn("Анна, нашёл ещё один вариант у пляжа — показать?"))
    assert write_follow_up(action) == "Анна, нашёл ещё один вариант у пляжа — показать?"
    assert "villa" in fake.requests[0]["messages"][-1]["content"]
    claude_api(httpx2.ConnectError("down"))
    assert write_follow_up(action).startswith("Здравствуйте! Как и договаривались")


@pytest.mark.services
def test_full_flow_to_delivery(claude_api, worker, messenger):
    """«напиши мне через 2 часа» → tool call → action → delivered at its time."""
    claude_api(
        tool_use(
            "schedule_followup",
            {"when_text": "через 2 часа", "message_template": "Анна, вот обещанные виллы.",
             "reason": "asked"},
        ),
        confirm_from_tool_result,
    )  # fmt: skip
    converse("напиши мне через 2 часа")
    action = pending_follow_ups().get()
    # Two hours pass: the dispatcher brings the row into the horizon and a worker sends it.
    ScheduledAction.objects.filter(pk=action.pk).update(
        scheduled_for=timezone.now() + timedelta(seconds=1), enqueued_at=None
    )
    from followups import dispatcher

    assert dispatcher.enqueue_due() == 1
    wait_until(lambda: ScheduledAction.objects.get(pk=action.pk).status == "executed")
    assert messenger.to(CLIENT_ID) == ["Анна, вот обещанные виллы."]
    assert datetime.now(UTC) >= ScheduledAction.objects.get(pk=action.pk).scheduled_for


# --- the time of day: the same words at night, after midnight and late in the evening -----------
# The default day is Wednesday 18 November 2026 (tests/conftest.py); its «завтра» is Thursday.

AMBIGUOUS_INSTRUCTION = "The time is ambiguous: ask the client to name a day and time."


@pytest.mark.django_db(transaction=True)
class TestFallbackByTimeOfDay:
    """The rule-based agent (Claude has no key) on the conventions' time-of-day rules, with
    quiet hours on: a time the client names is kept even at night."""

    @pytest.fixture(autouse=True)
    def fallback_with_quiet_hours(self, settings):
        settings.ANTHROPIC_API_KEY = ""
        settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"

    @pytest.mark.parametrize(
        ("text", "lang", "reply", "reading"),
        [
            pytest.param(
                "напиши завтра", "ru",
                "Уточните, пожалуйста, когда вам удобно — завтра в 10:00?", "завтра в 10:00",
                marks=pytest.mark.clock("02:30"), id="02:30-tomorrow",
            ),
            pytest.param(
                "напишите завтра в 11, сейчас сплю", "ru",
                "Уточните, пожалуйста, когда вам удобно — завтра в 11:00?", "завтра в 11:00",
                marks=pytest.mark.clock("02:30"), id="02:30-tomorrow-at-11",
            ),
            pytest.param(
                "write to me tomorrow", "en",
                "Could you confirm when suits you — tomorrow at 10:00?", "tomorrow at 10:00",
                marks=pytest.mark.clock("02:30"), id="02:30-tomorrow-en",
            ),
            pytest.param(
                "напиши завтра", "ru",
                "Уточните, пожалуйста, когда вам удобно — завтра в 10:00?", "завтра в 10:00",
                marks=pytest.mark.clock("00:00"), id="00:00-tomorrow",
            ),
            pytest.param(
                "напиши завтра", "ru",
                "Уточните, пожалуйста, когда вам удобно — завтра в 10:00?", "завтра в 10:00",
                marks=pytest.mark.clock("03:58"), id="03:58-tomorrow",
            ),
        ],
    )  # fmt: skip
    def test_tomorrow_after_midnight_is_asked_about(self, text, lang, reply, reading):
        """«завтра» between 00:00 and 04:00 may mean after the client sleeps: `ambiguous`,
        nothing scheduled, the calendar tomorrow offered as the reading to confirm."""
        assert converse(text, lang=lang) == reply
        assert not ScheduledAction.objects.exists()
        call = ToolCall.objects.get()
        assert (call.agent, call.tool, call.outcome) == (
            "fallback",
            "schedule_followup",
            ToolCall.Outcome.NEEDS_CLIENT,
        )
        assert call.result == {
            "status": "ambiguous",
            "scheduled": False,
            "instruction": AMBIGUOUS_INSTRUCTION,
            "possible_reading": reading,
        }

    @pytest.mark.parametrize(
        ("text", "scheduled_for", "reply"),
        [
            pytest.param(
                "напиши завтра", "2026-11-19 10:00", "Отлично, напишу вам завтра в 10:00!",
                marks=pytest.mark.clock("04:00"), id="04:00-tomorrow",
            ),
            pytest.param(
                "напиши завтра", "2026-11-19 10:00", "Отлично, напишу вам завтра в 10:00!",
                marks=pytest.mark.clock("23:30"), id="23:30-tomorrow",
            ),
            pytest.param(
                "давай завтра после обеда", "2026-11-19 14:00",
                "Отлично, напишу вам завтра в 14:00!",
                marks=pytest.mark.clock("23:30"), id="23:30-tomorrow-afternoon",
            ),
            pytest.param(
                "напиши сегодня в 10", "2026-11-18 10:00", "Отлично, напишу вам сегодня в 10:00!",
                marks=pytest.mark.clock("02:30"), id="02:30-today-at-10",
            ),
            pytest.param(
                "напиши через 2 часа", "2026-11-18 04:30", "Отлично, напишу вам сегодня в 04:30!",
                marks=pytest.mark.clock("02:30", tick=False), id="02:30-in-2-hours",
            ),
            pytest.param(
                "напиши через 2 часа", "2026-11-19 01:30", "Отлично, напишу вам завтра в 01:30!",
                marks=pytest.mark.clock("23:30", tick=False), id="23:30-in-2-hours",
            ),
            pytest.param(
                "через полчаса напиши", "2026-11-19 00:00", "Отлично, напишу вам завтра в 00:00!",
                marks=pytest.mark.clock("23:30", tick=False), id="23:30-in-half-an-hour",
            ),
        ],
    )  # fmt: skip
    def test_scheduled_as_the_conventions_say(self, text, scheduled_for, reply):
        """After 04:00 «завтра» is the next calendar day at 10:00 (and late in the evening
        too); minutes and hours from now are now + duration, to the minute, even at night."""
        assert converse(text) == reply
        action = pending_follow_ups().get()
        assert action.scheduled_for == client_time(scheduled_for)
        assert action.client_requested_time is True  # so quiet hours left it where it is
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.OK


@pytest.mark.django_db(transaction=True)
class TestClaudeByTimeOfDay:
    """Claude (scripted at its HTTP boundary) passes the client's words; the server's reading
    at that hour decides, and the model is told exactly what happened."""

    @pytest.mark.clock("02:30")
    def test_tomorrow_after_midnight_schedules_nothing(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "завтра", "message_template": "Виллы", "reason": "asked"},
            ),
            lambda body: end_turn(
                "Уточните, пожалуйста: "
                f"{last_tool_results(body)[0]['content']['possible_reading']}?"
            ),
        )
        reply = converse("напиши завтра, сейчас уже сплю")
        assert "Текущее время клиента: 2026-11-18 02:30 (среда)" in fake.requests[0]["system"]
        result = last_tool_results(fake.requests[1])[0]
        assert result["is_error"] is False
        assert result["content"] == {
            "status": "ambiguous",
            "scheduled": False,
            "instruction": AMBIGUOUS_INSTRUCTION,
            "possible_reading": "завтра в 10:00",
        }
        assert reply == "Уточните, пожалуйста: завтра в 10:00?"
        assert not ScheduledAction.objects.exists()
        assert ToolCall.objects.get().outcome == ToolCall.Outcome.NEEDS_CLIENT

    @pytest.mark.clock("02:30")
    def test_today_after_midnight_is_scheduled(self, claude_api):
        """The way out of the ambiguity: «сегодня в 10» at 02:30 is 10:00 the same date."""
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "сегодня в 10", "message_template": "", "reason": "asked"},
            ),
            confirm_from_tool_result,
        )
        assert converse("тогда сегодня в 10") == "Отлично, напишу вам сегодня в 10:00!"
        action = pending_follow_ups().get()
        assert action.scheduled_for == client_time("2026-11-18 10:00")
        content = last_tool_results(fake.requests[1])[0]["content"]
        assert (content["status"], content["when"]) == ("scheduled", "2026-11-18T10:00:00+08:00")

    @pytest.mark.clock("23:30")
    def test_tomorrow_late_in_the_evening_is_the_next_day_at_ten(self, claude_api):
        fake = claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "завтра", "message_template": "Виллы", "reason": "asked"},
            ),
            confirm_from_tool_result,
        )
        assert converse("напиши завтра") == "Отлично, напишу вам завтра в 10:00!"
        assert "Текущее время клиента: 2026-11-18 23:30 (среда)" in fake.requests[0]["system"]
        action = pending_follow_ups().get()
        assert action.scheduled_for == client_time("2026-11-19 10:00")
        content = last_tool_results(fake.requests[1])[0]["content"]
        assert (content["status"], content["when"]) == ("scheduled", "2026-11-19T10:00:00+08:00")

    @pytest.mark.clock("23:30", tick=False)
    def test_in_two_hours_late_in_the_evening_is_at_night(self, claude_api, settings):
        settings.FOLLOWUPS_QUIET_HOURS = "21:00-09:00"  # the client's own time is kept
        claude_api(
            tool_use(
                "schedule_followup",
                {"when_text": "через 2 часа", "message_template": "", "reason": "asked"},
            ),
            confirm_from_tool_result,
        )
        assert converse("напиши через 2 часа") == "Отлично, напишу вам завтра в 01:30!"
        action = pending_follow_ups().get()
        assert action.scheduled_for == client_time("2026-11-19 01:30")


@pytest.mark.django_db(transaction=True)
class TestFallbackMeetings:
    """Without Claude, a call or meeting proposed at a time is booked as a meeting, and
    confirmed as one; «напишите мне завтра» stays a follow-up."""

    @pytest.fixture(autouse=True)
    def no_claude(self, settings):
        settings.ANTHROPIC_API_KEY = ""

    @pytest.mark.parametrize(
        ("text", "lang"),
        [
            ("Давайте созвонимся завтра в 15:00", "ru"),
            ("давайте созвон завтра в 15:00", "ru"),
            ("Встретимся завтра в 15:00?", "ru"),
            ("жду звонка завтра в 15:00", "ru"),
            ("can we have a call tomorrow at 15:00", "en"),
            ("Let's meet tomorrow at 3pm", "en"),
        ],
    )
    def test_a_call_at_a_time_is_a_meeting(self, text, lang):
        reply = converse(text, lang=lang)
        meeting = Meeting.objects.get()
        local = meeting.starts_at.astimezone(meeting.prospect.zone)
        assert (local.day, local.hour, local.minute) == (19, 15, 0)
        assert not pending_follow_ups().exists()
        assert meeting.reminders.count() == 1  # the 24 h one (the 1 h one is off)
        confirmed = {
            "ru": "Отлично, встреча назначена: завтра в 15:00! Перед встречей пришлю напоминание.",
            "en": "Great, our meeting is booked: tomorrow at 15:00! I'll send a reminder "
            "before it.",
        }
        assert reply == confirmed[lang]

    def test_no_reminder_promised_when_none_will_come(self, settings):
        settings.FOLLOWUPS_REMINDER_24H = False
        reply = converse("созвонимся завтра в 15:00")
        assert Meeting.objects.get().reminders.count() == 0
        assert reply == "Отлично, встреча назначена: завтра в 15:00!"

    def test_write_to_me_tomorrow_stays_a_follow_up(self):
        reply = converse("напишите мне завтра в 15:00")
        assert not Meeting.objects.exists()
        assert pending_follow_ups().count() == 1
        assert reply == "Отлично, напишу вам завтра в 15:00!"

    def test_words_that_only_contain_a_meeting_word_stay_a_follow_up(self):
        converse("напишите завтра в 15:00, recall the price please")
        assert not Meeting.objects.exists()
        assert pending_follow_ups().count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"link": "javascript:alert(1)"}, "http:// or https://"),
        ({"link": "https://x.example/" + "a" * 600}, "at most 500"),
        ({"place": "x" * 300}, "at most 200"),
        ({"link": 5}, "must be a string"),
    ],
)
def test_book_meeting_refuses_a_bad_link_or_place(extra, error):
    prospect = Prospect.objects.create(telegram_id=CLIENT_ID)
    turn = Turn(prospect=prospect, now=timezone.now(), agent="claude")
    result = run_tool("book_meeting", {"when_text": "завтра в 15:00", **extra}, turn)
    assert result.is_error and error in result.content["error"]
    assert not Meeting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_book_meeting_keeps_a_link_and_place():
    prospect = Prospect.objects.create(telegram_id=CLIENT_ID)
    turn = Turn(prospect=prospect, now=timezone.now(), agent="claude")
    tool_input = {"when_text": "завтра в 15:00", "link": "https://meet.example/x", "place": ""}
    assert run_tool("book_meeting", tool_input, turn).content["status"] == "booked"
    assert Meeting.objects.get().link == "https://meet.example/x"
