"""Settings that keep the deployment safe: HTTPS behind compose's reverse proxy (Django's own
deployment checks pass with compose's environment; the defaults still speak plain HTTP for
development and tests), and logs that hold no message text at any LOG_LEVEL."""

import logging
import re
import secrets

import pytest
import yaml
from django.urls import reverse

from tests.test_production_settings import ROOT, TELETHON, production, run


def compose_environment(service: str = "web") -> dict[str, str]:
    """The environment compose gives `service` with .env copied from .env.example and filled
    in: .env's variables (env_file), then the service's own, `${VAR:-default}` and
    `${VAR:?error}` read from .env as compose does."""
    dotenv = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    # What the operator fills in (README: Production with docker compose).
    dotenv |= {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "TELEGRAM_API_ID": "12345"}

    def interpolate(value: str) -> str:
        def one(match: re.Match) -> str:
            name, default = match["name"], match["default"]
            return dotenv.get(name) or (default if match["kind"] == ":-" else "")

        return re.sub(r"\$\{(?P<name>\w+)(?P<kind>:[-?])?(?P<default>[^}]*)\}", one, value)

    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    own = spec["services"][service]["environment"]
    return {**dotenv, **{name: interpolate(str(value)) for name, value in own.items()}}


def test_compose_passes_the_deployment_checks():
    env = compose_environment()
    assert env["FOLLOWUPS_MESSENGER"] == TELETHON
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout


def test_the_defaults_leave_plain_http_alone():
    """Without the environment compose sets, Django's deployment checks say HTTPS is off: a
    development server and the test client speak plain HTTP."""
    done = run(["manage.py", "check", "--deploy"], **production(FOLLOWUPS_MESSENGER=TELETHON))
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in done.stderr


@pytest.fixture
def https(settings):
    """Compose's settings, in this process."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_PRELOAD = True
    return settings


def test_behind_the_proxy_plain_http_is_redirected_and_https_gets_hsts(client, db, https):
    login = reverse("admin:login")
    response = client.get(login)
    assert (response.status_code, response["Location"]) == (301, f"https://testserver{login}")
    response = client.get(login, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_health_check_and_metrics_are_not_redirected(client, db, https, path):
    assert client.get(path).status_code != 301


# --- logs -----------------------------------------------------------------------------------

PROBE = """
import logging

import django

django.setup()

import anthropic._base_client, anthropic._utils._logs, httpcore2._sync.http11, httpx2._client
from tests.anthropic_fakes import FakeClaude, end_turn

# The names the packages log under: the SDK, its HTTP client and transport, Telethon's
# sender and message parser (Telethon names its loggers after its modules).
for name in (
    anthropic._base_client.log.name,
    anthropic._utils._logs.httpx_logger.name,
    httpx2._client.logger.name,
    httpcore2._sync.http11.logger.name,
    "telethon.network.mtprotosender",
    "telethon.client.messageparse",
    "django.db.backends",
):
    print(name, logging.getLogger(name).getEffectiveLevel())
logging.getLogger("followups").debug("DEBUG-IS-ON")
FakeClaude(end_turn("THE-MODELS-ANSWER")).client().messages.create(
    model="claude-sonnet-4-5",
    max_tokens=100,
    system="THE-SYSTEM-PROMPT",
    messages=[{"role": "user", "content": "THE-CLIENTS-WORDS"}],
)
"""


@pytest.mark.parametrize("debug", ["false", "true"])
def test_at_log_level_debug_no_message_text_is_logged(debug):
    env = production(FOLLOWUPS_MESSENGER=TELETHON, LOG_LEVEL="DEBUG", DJANGO_DEBUG=debug)
    done = run(["-c", PROBE], **env)
    assert done.returncode == 0, done.stderr
    assert "DEBUG-IS-ON" in done.stderr
    for text in ("THE-SYSTEM-PROMPT", "THE-CLIENTS-WORDS", "THE-MODELS-ANSWER"):
        assert text not in done.stderr + done.stdout
    levels = dict(line.split() for line in done.stdout.splitlines())
    assert levels.keys() >= {"anthropic._base_client", "httpx2", "httpcore2.http11"}
    assert all(int(level) >= logging.INFO for level in levels.values()), levels
    assert all(
        int(level) >= logging.WARNING
        for name, level in levels.items()
        if not name.startswith("django")
    ), levels
    assert int(levels["telethon.client.messageparse"]) >= logging.ERROR
