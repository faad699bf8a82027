"""Production refuses to start half-configured: a messenger that sends nowhere (a system check
that stops `rundramatiq` and `runbot`), a secret key anyone can read (project.settings)."""

import os
import re
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from followups.checks import check_follow_up_writer, check_messenger

ROOT = Path(__file__).resolve().parent.parent
IN_MEMORY = "followups.messenger.InMemoryMessenger"
TELETHON = "bot.telegram.TelethonMessenger"


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    """`python argv` in a clean environment: only PATH and `env`."""
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def production(**env: str) -> dict[str, str]:
    """The production settings with a good key, plus `env`."""
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        **env,
    }


@pytest.fixture
def prod(settings):
    """This process's settings as production's: DEBUG off, no allowance for tests."""
    settings.DEBUG = False
    settings.FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = False
    return settings


# --- the messenger -----------------------------------------------------------------------------


def error_ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_in_memory_messenger_is_an_error_in_production(prod):
    prod.FOLLOWUPS_MESSENGER = IN_MEMORY
    [error] = check_messenger()
    assert error.id == "followups.E003"
    assert "FOLLOWUPS_MESSENGER" in error.msg
    assert TELETHON in error.hint


def test_a_subclass_of_it_too(prod):
    prod.FOLLOWUPS_MESSENGER = "bot.demo.ConsoleMessenger"
    assert error_ids(check_messenger()) == ["followups.E003"]


def test_telethon_passes(prod):
    prod.FOLLOWUPS_MESSENGER = TELETHON
    assert check_messenger() == []


def test_in_memory_passes_in_tests_and_with_debug(prod):
    prod.FOLLOWUPS_MESSENGER = IN_MEMORY
    prod.FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = True
    assert check_messenger() == []
    prod.FOLLOWUPS_ALLOW_IN_MEMORY_MESSENGER = False
    prod.DEBUG = True
    assert check_messenger() == []


def test_tests_themselves_allow_it(settings):
    assert settings.FOLLOWUPS_MESSENGER == IN_MEMORY
    assert check_messenger() == []


@pytest.mark.parametrize(
    ("path", "error"),
    [("", "followups.E001"), ("bot.telegram.NoSuchMessenger", "followups.E002")],
)
def test_unset_or_unknown_messenger(prod, path, error):
    prod.FOLLOWUPS_MESSENGER = path
    [found] = check_messenger()
    assert found.id == error
    assert TELETHON in found.hint


def test_the_writer_must_import(settings):
    assert check_follow_up_writer() == []
    settings.FOLLOWUPS_FOLLOWUP_WRITER = "bot.conversation.no_such_writer"
    assert error_ids(check_follow_up_writer()) == ["followups.E004"]


def test_runbot_dry_run_refuses_naming_the_setting(db, prod):
    prod.FOLLOWUPS_MESSENGER = IN_MEMORY
    out = StringIO()
    with pytest.raises(
        CommandError, match=re.escape(f"settings: FOLLOWUPS_MESSENGER is {IN_MEMORY}")
    ):
        call_command("runbot", "--dry-run", stdout=out)
    assert "settings: FAILED" in out.getvalue()
    assert "runbot --dry-run: ready" not in out.getvalue()


def test_runbot_refuses_naming_the_setting(prod):
    prod.FOLLOWUPS_MESSENGER = IN_MEMORY
    with pytest.raises(SystemCheckError, match="FOLLOWUPS_MESSENGER"):
        call_command("runbot")


def test_rundramatiq_refuses_before_starting_workers():
    done = run(
        ["manage.py", "rundramatiq", "--processes", "1", "--threads", "1"],
        **production(FOLLOWUPS_MESSENGER=IN_MEMORY, BROKER_URL="stub://"),
    )
    assert done.returncode != 0
    assert f"FOLLOWUPS_MESSENGER is {IN_MEMORY}" in done.stderr
    assert "Running dramatiq" not in done.stdout


def test_production_settings_pass_with_telethon_and_fail_unset():
    ok = run(["manage.py", "check"], **production(FOLLOWUPS_MESSENGER=TELETHON))
    assert ok.returncode == 0, ok.stderr
    unset = run(["manage.py", "check"], **production())
    assert unset.returncode != 0
    assert "FOLLOWUPS_MESSENGER is not set" in unset.stderr


@pytest.mark.parametrize("module", ["tests.settings", "project.demo_settings"])
def test_tests_and_demo_need_no_environment(module):
    done = run(["manage.py", "check"], DJANGO_SETTINGS_MODULE=module)
    assert done.returncode == 0, done.stderr


# --- the follow-up writer ------------------------------------------------------------------------


def setting(name: str, **env: str) -> str:
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    done = run(["-c", code], **env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_writer_default_lives_in_followups_and_the_demo_keeps_claude():
    writer = "FOLLOWUPS_FOLLOWUP_WRITER"
    assert setting(writer, **production()) == "followups.delivery.plain_follow_up"
    assert (
        setting(writer, DJANGO_SETTINGS_MODULE="project.demo_settings")
        == "bot.conversation.write_follow_up"
    )


def test_compose_sends_through_telegram_with_claude_writing():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("migrate", "web", "worker", "bot", "dispatcher"):
        env = spec["services"][name]["environment"]
        assert env["FOLLOWUPS_MESSENGER"] == TELETHON
        assert env["FOLLOWUPS_FOLLOWUP_WRITER"] == "bot.conversation.write_follow_up"
        assert "DJANGO_REQUIRE_SECRET_KEY" not in env


# --- the secret key ------------------------------------------------------------------------------


def load(**env: str) -> subprocess.CompletedProcess:
    """project.settings loaded for real, in a process with only `env`."""
    return run(
        ["-c", "import django; django.setup()"], DJANGO_SETTINGS_MODULE="project.settings", **env
    )


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "is not set"),
        ({"DJANGO_SECRET_KEY": ""}, "is not set"),
        ({"DJANGO_SECRET_KEY": "   "}, "is not set"),
        ({"DJANGO_SECRET_KEY": "change-me-to-a-long-random-string"}, "is a public placeholder"),
        (
            {"DJANGO_SECRET_KEY": "insecure-development-key-set-DJANGO_SECRET_KEY-in-production"},
            "is a public placeholder",
        ),
        ({"DJANGO_SECRET_KEY": secrets.token_urlsafe(30)}, "is too short (40 characters"),
    ],
    ids=["missing", "empty", "blank", "placeholder", "old-fallback", "short"],
)
def test_a_bad_secret_key_stops_start_up(env, problem):
    done = load(**env)
    assert done.returncode != 0
    assert f"ImproperlyConfigured: DJANGO_SECRET_KEY {problem}" in done.stderr
    assert "secrets.token_urlsafe(50)" in done.stderr  # how to make one


def test_a_long_random_key_is_used():
    key = secrets.token_urlsafe(50)
    assert setting("SECRET_KEY", **production(DJANGO_SECRET_KEY=key)) == key


def test_debug_runs_on_a_development_key():
    key = setting("SECRET_KEY", DJANGO_SETTINGS_MODULE="project.settings", DJANGO_DEBUG="true")
    assert key.startswith("insecure-development-key")


@pytest.mark.parametrize("module", ["tests.settings", "project.demo_settings"])
def test_tests_and_demo_make_a_fresh_key_per_process(module):
    keys = [setting("SECRET_KEY", DJANGO_SETTINGS_MODULE=module) for _ in "ab"]
    assert keys[0] != keys[1]
    assert all(len(key) >= 50 for key in keys)


def test_an_empty_integer_variable_means_its_default():
    """`.env.example` ships `TELEGRAM_API_ID=` empty: the admin must still start."""
    assert setting("TELEGRAM_API_ID", **production(TELEGRAM_API_ID="")) == "0"
    env = production(TELEGRAM_API_ID="abc")
    del env["DJANGO_SETTINGS_MODULE"]  # load() names it
    bad = load(**env)
    assert bad.returncode != 0
    assert "TELEGRAM_API_ID must be an integer" in bad.stderr
