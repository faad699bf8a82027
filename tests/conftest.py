import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dramatiq
import pytest
import time_machine
from django.conf import settings
from django.utils import timezone
from dramatiq import Worker

from followups.messenger import InMemoryMessenger, get_messenger
from followups.models import Prospect

# The client's zone, where the time of day that the conventions speak of is read.
CLIENT_ZONE = ZoneInfo("Asia/Makassar")
# The day every test runs on unless it names another: a Wednesday in the middle of a month and
# of a week, so that no weekday, week-end or month-end rule is in play by accident.
DEFAULT_DAY = date(2026, 11, 18)
# The time of day, in the client's zone, every test starts at unless it names another: late
# morning, hours from midnight, from the 00:00–04:00 window where «завтра» is ambiguous, from
# quiet hours (21:00–09:00) and from the 10:00 default of a day with no time.
DEFAULT_TIME = "11:00"
FAULTS = Path(__file__).parent / "faults"


def client_time(at: str = DEFAULT_TIME, day: date = DEFAULT_DAY) -> datetime:
    """An aware instant in the client's zone: "HH:MM" on `day`, or a full "YYYY-MM-DD HH:MM"."""
    if len(at) <= 5:
        return datetime.combine(day, datetime.strptime(at, "%H:%M").time(), tzinfo=CLIENT_ZONE)
    return datetime.fromisoformat(at).replace(tzinfo=CLIENT_ZONE)


def pytest_collection_modifyitems(config, items):
    for item in items:
        # The fault scenarios run the product in subprocesses, on the real clock: rows written
        # at a pinned time in the test process would be hours or days off for them.
        if FAULTS in item.path.parents:
            item.add_marker(pytest.mark.real_clock)
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
def clock(request) -> Iterator[time_machine.Traveller | None]:
    """Every test runs at a pinned instant, so that none depends on the hour it is run at:
    `client_time()` by default, or the instant its `clock` marker names ("HH:MM" on the default
    day, or "YYYY-MM-DD HH:MM", in the client's zone). Time goes on from there: worker threads,
    retries and polling need it to pass (`clock(..., tick=False)` stops it, for a test that
    needs the exact minute and runs no thread that waits for time to pass).

    Python's clock only: PostgreSQL's and RabbitMQ's are real (the product reads neither), and
    so is a subprocess's; a test that runs the product in one and shares times with it is
    marked `real_clock`, as every test in tests/faults is."""
    if request.node.get_closest_marker("real_clock"):
        yield None
        return
    marker = request.node.get_closest_marker("clock")
    at = client_time(*marker.args) if marker else client_time()
    tick = marker.kwargs.get("tick", True) if marker else True
    with time_machine.travel(at, tick=tick) as traveller:
        yield traveller


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
    import followups.actors  # noqa: F401  the worker's actor, as rundramatiq loads it

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
