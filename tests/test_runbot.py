"""`manage.py runbot --dry-run` and `manage.py telegram_login`, without Telegram."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from telethon.tl import types

from bot.management.commands import telegram_login
from followups import health
from tests.telegram_fakes import session_string

API_HASH = "0123456789abcdef-secret-hash"
ANTHROPIC_KEY = "sk-ant-test-secret-key"


@pytest.fixture
def configured(settings):
    settings.TELEGRAM_API_ID = 12345
    settings.TELEGRAM_API_HASH = API_HASH
    settings.TELEGRAM_SESSION = session_string()
    settings.TELEGRAM_WORKER_SESSION = ""
    settings.ANTHROPIC_API_KEY = ANTHROPIC_KEY
    settings.ANTHROPIC_MODEL = "claude-test-model"
    return settings


def dry_run(**kwargs) -> str:
    out = StringIO()
    call_command("runbot", "--dry-run", stdout=out, **kwargs)
    return out.getvalue()


def assert_no_secrets(text: str, settings) -> None:
    for secret in (API_HASH, ANTHROPIC_KEY, settings.TELEGRAM_SESSION):
        if secret:
            assert secret not in text


def test_dry_run_reports_everything_and_exits_zero(db, configured):
    output = dry_run()
    assert "database: ok" in output
    assert "migrations applied" in output
    assert "broker: ok" in output
    assert "agent: ok - Claude (claude-test-model)" in output
    assert "telegram: ok - TELEGRAM_API_ID set, TELEGRAM_API_HASH set, TELEGRAM_SESSION set" in (
        output
    )
    assert "TELEGRAM_WORKER_SESSION missing" in output
    assert "workers send with TELEGRAM_SESSION, receive_updates=False" in output
    assert "did not connect to Telegram" in output
    assert_no_secrets(output, configured)


def test_dry_run_with_a_worker_session(db, configured):
    configured.TELEGRAM_WORKER_SESSION = worker = session_string()
    output = dry_run()
    assert "TELEGRAM_WORKER_SESSION set" in output
    assert worker not in output


def test_no_anthropic_key_is_the_fallback_agent_not_an_error(db, configured):
    configured.ANTHROPIC_API_KEY = ""
    output = dry_run()
    assert "agent: ok - rule-based fallback agent (no ANTHROPIC_API_KEY)" in output


def test_dry_run_without_a_telegram_session_fails_naming_it(db, configured):
    configured.TELEGRAM_SESSION = ""
    out = StringIO()
    with pytest.raises(CommandError, match="TELEGRAM_SESSION missing"):
        call_command("runbot", "--dry-run", stdout=out)
    assert "telegram: FAILED" in out.getvalue()
    assert "telegram_login" in out.getvalue()
    assert_no_secrets(out.getvalue(), configured)


def test_dry_run_with_a_malformed_session_fails_without_showing_it(db, configured):
    configured.TELEGRAM_SESSION = bogus = "1this-is-no-session-but-still-secret"
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("runbot", "--dry-run", stdout=out)
    assert "TELEGRAM_SESSION set (not a session string)" in str(caught.value)
    assert bogus not in out.getvalue() + str(caught.value)


def test_dry_run_without_api_credentials_fails(db, configured):
    configured.TELEGRAM_API_ID = 0
    configured.TELEGRAM_API_HASH = ""
    with pytest.raises(CommandError, match="TELEGRAM_API_ID missing, TELEGRAM_API_HASH missing"):
        dry_run()


def test_dry_run_reports_an_unreachable_broker_without_its_password(db, configured, monkeypatch):
    broker = RabbitmqBroker(url="amqp://guest:broker-password@127.0.0.1:1/%2F")
    monkeypatch.setattr(health.dramatiq, "get_broker", lambda: broker)
    out = StringIO()
    with pytest.raises(CommandError, match=r"broker: RabbitMQ at 127\.0\.0\.1:1: cannot connect"):
        call_command("runbot", "--dry-run", stdout=out)
    assert "broker: FAILED" in out.getvalue()
    assert "database: ok" in out.getvalue()  # every check still runs
    assert "broker-password" not in out.getvalue()


def test_dry_run_reports_unapplied_migrations(db, configured, monkeypatch):
    class Pending:
        app_label, name = "followups", "0099_future"

    monkeypatch.setattr(
        health.MigrationExecutor, "migration_plan", lambda self, targets: [(Pending, False)]
    )
    with pytest.raises(CommandError, match=r"1 unapplied migration.*followups\.0099_future"):
        dry_run()


def test_runbot_refuses_to_start_without_credentials(db, configured):
    configured.TELEGRAM_SESSION = ""
    with pytest.raises(CommandError, match="set TELEGRAM_SESSION"):
        call_command("runbot")


# --- telegram_login --------------------------------------------------------------------------


def test_login_needs_the_api_credentials(settings):
    settings.TELEGRAM_API_ID = 0
    settings.TELEGRAM_API_HASH = ""
    with pytest.raises(CommandError, match="TELEGRAM_API_ID, TELEGRAM_API_HASH"):
        call_command("telegram_login")


def test_login_prints_the_session_alone_on_stdout_and_keeps_it_valid(configured, monkeypatch):
    class LoginClient:
        """TelegramClient as far as telegram_login uses it; start() is where Telethon prompts."""

        instances = []

        def __init__(self, session, api_id, api_hash):
            self.session = session
            self.calls = []
            LoginClient.instances.append(self)

        async def start(self):
            self.calls.append("start")

        async def get_me(self):
            return types.User(id=4242, is_self=True)

        async def disconnect(self):
            self.calls.append("disconnect")

        async def log_out(self):  # would revoke the session just made
            self.calls.append("log_out")

    monkeypatch.setattr(telegram_login, "TelegramClient", LoginClient)
    monkeypatch.setattr(telegram_login.StringSession, "save", lambda self: "1SESSION-STRING")
    out, err = StringIO(), StringIO()
    call_command("telegram_login", stdout=out, stderr=err)
    assert out.getvalue() == "1SESSION-STRING\n"
    assert "TELEGRAM_SESSION" in err.getvalue()
    assert "TELEGRAM_WORKER_SESSION" in err.getvalue()
    assert "1SESSION-STRING" not in err.getvalue()
    assert LoginClient.instances[0].calls == ["start", "disconnect"]
