"""Helpers shared by the scenarios."""

import logging
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from bench import broker, config, db

log = logging.getLogger("bench")
rng = random.Random(20_260_101)


def now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def reset() -> None:
    """Empty tables and bench queues: every scenario starts from nothing."""
    db.truncate()
    broker.purge(config.PRODUCT_QUEUE, config.NAIVE_QUEUE)


def far_future(start: datetime, n: int) -> Iterator[datetime]:
    """n due times spread over the week after tomorrow: the "через неделю" promises."""
    for _ in range(n):
        yield start + timedelta(days=1, seconds=rng.uniform(0, 7 * 86_400))


def within_horizon(start: datetime, n: int) -> Iterator[datetime]:
    """n due times within the dispatcher's horizon (300 s by default)."""
    for _ in range(n):
        yield start + timedelta(seconds=rng.uniform(10, 290))


def sleep_until(moment: datetime) -> None:
    delay = (moment - now()).total_seconds()
    if delay > 0:
        time.sleep(delay)


class Stopwatch:
    """`with Stopwatch() as sw: ...`, then `sw.seconds`."""

    def __enter__(self) -> "Stopwatch":
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


class QueryTimer:
    """A Django execute_wrapper: counts queries and their wall time, by statement kind."""

    def __init__(self) -> None:
        self.count, self.seconds = 0, 0.0
        self.counts: Counter[str] = Counter()
        self.ms: Counter[str] = Counter()

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            kind = self.kind(sql)
            self.count += 1
            self.seconds += elapsed
            self.counts[kind] += 1
            self.ms[kind] += elapsed * 1000

    def breakdown(self, per: int) -> dict[str, dict[str, float]]:
        """Statements and their milliseconds per unit of work (action, call), by kind."""
        return {
            kind: {"count": round(count / per, 2), "ms": round(self.ms[kind] / per, 3)}
            for kind, count in self.counts.most_common()
        }

    @staticmethod
    def kind(sql: str) -> str:
        """'UPDATE followups_scheduledaction', 'SELECT followups_prospect FOR UPDATE', ..."""
        words = sql.replace('"', "").split()
        verb = words[0].upper() if words else "?"
        table = next((w for w in words if w.startswith(("followups_", "bot_"))), "")
        if verb == "SELECT" and "FROM" in (w.upper() for w in words):
            table = words[[w.upper() for w in words].index("FROM") + 1].split(".")[0]
        suffix = " FOR UPDATE" if "FOR UPDATE" in sql.upper() else ""
        return f"{verb} {table}{suffix}".strip()
