"""Fixtures for the fault scenarios: the fake Telegram, the product's processes, TCP proxies
to cut, and the table of outcomes printed at the end of the run (copied to docs/faults.md)."""

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.accounting import Accounting
from tests.faults.faketelegram import DSN_ENV, TelegramLog, django_dsn
from tests.faults.harness import Cluster, TcpProxy, with_port
from tests.faults.scenario import PRODUCT_ENV, database_url


@pytest.fixture
def telegram(transactional_db) -> Iterator[TelegramLog]:
    """The fake Telegram's tables in the test database (empty), dropped after the test."""
    log = TelegramLog(django_dsn())
    log.install()
    yield log
    log.drop()


@pytest.fixture
def cluster(telegram, broker, tmp_path) -> Iterator[Cluster]:
    """Workers and dispatchers started by the test, stopped (SIGTERM, then SIGKILL) after it."""
    env = {
        **os.environ,
        **PRODUCT_ENV,
        "DATABASE_URL": database_url(),
        "BROKER_URL": settings.BROKER_URL,
        "FOLLOWUPS_QUEUE": settings.FOLLOWUPS_QUEUE,
        DSN_ENV: telegram.dsn,
    }
    processes = Cluster(env, tmp_path)
    yield processes
    processes.stop()


@pytest.fixture
def db_proxy(cluster) -> TcpProxy:
    """A proxy to Postgres the test can cut; the cluster's processes use it."""
    proxy = cluster.proxy(int(connection.settings_dict["PORT"] or 5432))
    cluster.env["DATABASE_URL"] = with_port(cluster.env["DATABASE_URL"], proxy.port)
    return proxy


@pytest.fixture
def broker_proxy(cluster) -> TcpProxy:
    """A proxy to RabbitMQ the test can cut; the cluster's processes use it."""
    proxy = cluster.proxy(urlsplit(settings.BROKER_URL).port or 5672)
    cluster.env["BROKER_URL"] = with_port(cluster.env["BROKER_URL"], proxy.port)
    return proxy


@dataclass
class Outcome:
    scenario: str
    injected: str
    account: Accounting
    notes: str = ""


OUTCOMES = pytest.StashKey[list[Outcome]]()


@pytest.fixture
def report(request) -> Callable[..., None]:
    """Record a scenario's outcome for the summary table at the end of the run."""

    def record(injected: str, account: Accounting, notes: str = "") -> None:
        outcomes = request.config.stash.setdefault(OUTCOMES, [])
        outcomes.append(Outcome(request.node.name, injected, account, notes))

    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    outcomes = config.stash.get(OUTCOMES, [])
    if not outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault scenarios")
    write("| scenario | injected | outcome | notes |")
    write("|---|---|---|---|")
    for o in outcomes:
        write(f"| `{o.scenario}` | {o.injected} | {o.account} | {o.notes} |")
