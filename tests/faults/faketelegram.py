"""A Telegram stand-in that several processes share, kept in tables of the test database.

The product calls `send()` inside its own transaction, holding the prospect's row lock. A real
Telegram send is not undone when that transaction rolls back or the worker dies, so the fake
writes through its own autocommit connection (one per thread), never Django's. Like Telegram's
`messages.sendMessage`, a repeated `random_id` does not send again: the first message's id comes
back, flagged as a duplicate.

`fake_telegram_events` logs every call that reached the fake (and every injected crash), so a
scenario can show that retries happened while each client still got one message.
"""

import os
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from followups.messenger import Recipient, SentMessage, check_text

DSN_ENV = "FAKE_TELEGRAM_DSN"
# The fake's connections carry this name, so an injected database outage can spare them:
# Telegram does not go down with our Postgres.
APPLICATION_NAME = "fake_telegram"

SCHEMA = """
CREATE TABLE IF NOT EXISTS fake_telegram_sent (
    random_id bigint PRIMARY KEY,
    recipient bigint NOT NULL,
    text text NOT NULL,
    message_id bigserial UNIQUE,
    sent_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The sending process's clock, which `find_sent` compares with the product's `since` (as
    -- Telegram's message dates agree with the product's clock): under a faked clock
    -- (scripts/pytest_at_client_time.sh) the processes' clocks are hours off PostgreSQL's.
    sender_clock timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS fake_telegram_events (
    id bigserial PRIMARY KEY,
    random_id bigint NOT NULL,
    event text NOT NULL,
    pid integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS fake_telegram_faults (
    point text PRIMARY KEY,
    remaining integer NOT NULL CHECK (remaining >= 0)
);
TRUNCATE fake_telegram_sent, fake_telegram_events, fake_telegram_faults;
"""
TABLES = ("fake_telegram_sent", "fake_telegram_events", "fake_telegram_faults")

# Event names in fake_telegram_events.
SENT, DUPLICATE, LOOKUP = "sent", "duplicate", "lookup"
BEFORE_SEND, AFTER_SEND = "before_send", "after_send"
KILLED = {BEFORE_SEND: "killed_before_send", AFTER_SEND: "killed_after_send"}
# A fault point that drops the worker's database connection right after a send instead.
DROP_AFTER_SEND, DROPPED = "drop_db_after_send", "db_dropped_after_send"


def django_dsn() -> str:
    """A libpq connection string for the database Django is connected to (the test database
    in the test process), straight to Postgres even when the product goes through a proxy."""
    from django.db import connection

    s = connection.settings_dict
    parts = {
        "host": s["HOST"] or "127.0.0.1",
        "port": s["PORT"] or 5432,
        "user": s["USER"],
        "password": s["PASSWORD"],
        "dbname": s["NAME"],
        "application_name": APPLICATION_NAME,
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


def connect(dsn: str | None = None) -> psycopg.Connection:
    return psycopg.connect(dsn or os.environ.get(DSN_ENV) or django_dsn(), autocommit=True)


class PostgresTelegram:
    """`followups.messenger.Messenger` backed by `fake_telegram_sent`, shared by every process."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _execute(self, sql: str, params: tuple = ()) -> psycopg.Cursor:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect()
        return conn.execute(sql, params)

    def _event(self, random_id: int, event: str) -> None:
        self._execute(
            "INSERT INTO fake_telegram_events (random_id, event, pid) VALUES (%s, %s, %s)",
            (random_id, event, os.getpid()),
        )

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        check_text(text)
        row = self._execute(
            "INSERT INTO fake_telegram_sent (random_id, recipient, text, sender_clock) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (random_id) DO NOTHING RETURNING message_id",
            (random_id, recipient.telegram_id, text, datetime.now(UTC)),
        ).fetchone()
        duplicate = row is None
        if duplicate:
            row = self._execute(
                "SELECT message_id FROM fake_telegram_sent WHERE random_id = %s", (random_id,)
            ).fetchone()
        self._event(random_id, DUPLICATE if duplicate else SENT)
        return SentMessage(row[0], duplicate=duplicate)

    def find_sent(
        self, recipient: Recipient, text: str, random_id: int, since: datetime
    ) -> SentMessage | None:
        row = self._execute(
            "SELECT message_id FROM fake_telegram_sent "
            "WHERE random_id = %s AND recipient = %s AND sender_clock >= %s",
            (random_id, recipient.telegram_id, since),
        ).fetchone()
        self._event(random_id, LOOKUP)
        return None if row is None else SentMessage(row[0])


class CrashingTelegram(PostgresTelegram):
    """Kills its own worker process with SIGKILL right before a send (the action is claimed, the
    client has nothing) or right after it (the client has the message, the row does not say so).

    How many kills are left at each point is a counter in `fake_telegram_faults`, shared by all
    processes and their restarts, so a scenario injects an exact number of crashes.
    """

    # Held from the decision to die to the death, so that no other thread of this process
    # takes a second kill off the counter meanwhile: one decrement, one dead process.
    _dying = threading.Lock()

    def send(self, recipient: Recipient, text: str, random_id: int) -> SentMessage:
        self._maybe_die(BEFORE_SEND, random_id)
        sent = super().send(recipient, text, random_id)
        self._maybe_die(AFTER_SEND, random_id)
        self._maybe_drop_connection(random_id)
        return sent

    def _take(self, point: str) -> bool:
        """Take one fault off the shared counter of `point`, if any is left."""
        return bool(
            self._execute(
                "UPDATE fake_telegram_faults SET remaining = remaining - 1 "
                "WHERE point = %s AND remaining > 0 RETURNING remaining",
                (point,),
            ).fetchone()
        )

    def _maybe_drop_connection(self, random_id: int) -> None:
        """Terminate this thread's Django database session (as a Postgres restart would),
        so that the send just made cannot be recorded on it."""
        from django.db import connection

        if self._take(DROP_AFTER_SEND):
            self._event(random_id, DROPPED)
            pid = connection.connection.info.backend_pid
            self._execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # until it is gone

    def _maybe_die(self, point: str, random_id: int) -> None:
        with self._dying:
            if self._take(point):
                self._event(random_id, KILLED[point])
                os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Delivery:
    """One message as the client received it."""

    random_id: int
    recipient: int
    message_id: int
    sent_at: datetime


class TelegramLog:
    """The test's view of the fake: installs its tables, arms crashes, reads what was sent."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._conn = connect(dsn)

    def install(self) -> None:
        self._conn.execute(SCHEMA)

    def drop(self) -> None:
        self._conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)}")
        self._conn.close()

    def arm(self, **kills: int) -> None:
        """Arm crashes, e.g. `arm(before_send=3, after_send=3)`."""
        for point, count in kills.items():
            self._conn.execute(
                "INSERT INTO fake_telegram_faults (point, remaining) VALUES (%s, %s) "
                "ON CONFLICT (point) DO UPDATE SET remaining = EXCLUDED.remaining",
                (point, count),
            )

    def armed(self) -> dict[str, int]:
        """Kills not yet carried out, by point."""
        return dict(self._conn.execute("SELECT point, remaining FROM fake_telegram_faults"))

    def deliveries(self) -> dict[int, Delivery]:
        rows = self._conn.execute(
            "SELECT random_id, recipient, message_id, sent_at FROM fake_telegram_sent"
        )
        return {row[0]: Delivery(*row) for row in rows}

    def events(self) -> dict[str, int]:
        """How many times each event happened: sent, duplicate, killed_*."""
        return dict(
            self._conn.execute("SELECT event, count(*) FROM fake_telegram_events GROUP BY 1")
        )
