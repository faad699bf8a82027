import time
from collections.abc import Callable
from datetime import datetime, timedelta

import dramatiq
import pytest
from django.conf import settings
from django.utils import timezone
from dramatiq import Worker

from followups.messenger import InMemoryMessenger, get_messenger
from followups.models import Prospect


def pytest_collection_modifyitems(config, items):
    if settings.SERVICES_AVAILABLE:
        return
    skip = pytest.mark.skip(
        reason="needs the real PostgreSQL and RabbitMQ (not reachable: ran on SQLite and the "
        "in-process broker instead)"
    )
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def messenger() -> InMemoryMessenger:
    sender = get_messenger()
    assert isinstance(sender, InMemoryMessenger), "tests expect the in-memory messenger"
    sender.reset()
    yield sender
    sender.reset()


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker, transactional_db):
    """A real Dramatiq worker consuming the test queue, with the tight wake-up interval the
    README recommends for production (dramatiq_worker_timeout=50)."""
    worker = Worker(broker, worker_timeout=50, worker_threads=4)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def make_prospect(db) -> Callable[..., Prospect]:
    counter = iter(range(10_000_000, 20_000_000))

    def make(**fields) -> Prospect:
        fields.setdefault("telegram_id", next(counter))
        fields.setdefault("display_name", f"Client {fields['telegram_id']}")
        return Prospect.objects.create(**fields)

    return make


@pytest.fixture
def prospect(make_prospect) -> Prospect:
    return make_prospect()


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.02):
    """Poll until `predicate()` is truthy; fail the test with its last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            assert value, f"condition not met within {timeout} s"
            return value
        time.sleep(step)


def soon(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)
