"""Who holds a claim: a PostgreSQL session advisory lock per claim token.

A worker takes the lock for its token before it claims any row with it, and gives it up when it
has recorded every outcome. The lock lives in the worker's database session, so it vanishes
the moment the worker process dies or its connection drops, whatever the clock says. The
dispatcher releases the claims whose lock is gone within one pass, instead of waiting
FOLLOWUPS_CLAIM_TIMEOUT_S; a slow but live worker keeps its lock, and its claim. The timeout
stays as the last resort (a hung thread, and databases without advisory locks, such as the
demo's SQLite).

Session locks need a session of one's own: a pooler in transaction mode (PgBouncer) in front of
the workers would hand the lock to whoever shares the server connection. Connect the workers
directly or through session pooling.
"""

import select
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import Error, connection
from psycopg.pq import ConnStatus

# The first key of the two-key advisory lock form, so that the locks of other applications on
# the same database never look like ours ("FUPS").
LOCK_SPACE = 0x46555053
_HELD_LOCKS = """
    SELECT objid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND classid = %s AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def supported() -> bool:
    return connection.vendor == "postgresql"


def lock_key(token: uuid.UUID) -> int:
    """The second key of a token's lock: 31 bits of it (two live tokens sharing one only keep
    each other's dead claims for up to the timeout)."""
    return int.from_bytes(token.bytes[:4], "big") & 0x7FFFFFFF


@contextmanager
def holding_new_token() -> Iterator[uuid.UUID]:
    """A fresh claim token, its lock held by this connection until the block ends."""
    token = uuid.uuid4()
    if not supported():
        yield token
        return
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, lock_key(token)])
            if cursor.fetchone()[0]:
                break
            token = uuid.uuid4()  # another live claim has this key: take another token
    try:
        yield token
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, lock_key(token)])
        except Error:
            pass  # the connection is gone, and the lock with it


def orphaned(tokens: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `tokens` whose lock no session holds: their worker is gone. Read the tokens
    first, the locks second: a token seen claiming has had its lock since before its claim,
    so a missing lock means it was given up, never that it was not taken yet."""
    if not tokens or not supported():
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_HELD_LOCKS, [LOCK_SPACE])
        held = {int(row[0]) for row in cursor.fetchall()}
    return {token for token in tokens if lock_key(token) not in held}


def session_lost() -> bool:
    """True when the server has ended this connection's session (terminated, restarted): its
    row locks are gone, so a client's message may be recorded at any moment, and the batch must
    not send on its earlier re-check. See session_watch."""
    return session_watch()()


def session_watch() -> Callable[[], bool]:
    """session_lost for the current connection, cheap enough to ask before every send of a
    batch (the connection is looked up once). No round trip: a session idle in a transaction
    receives nothing unless it is being ended, so anything readable on the socket (a FATAL
    notice, or the end of the stream) means it is."""
    if not supported() or connection.connection is None:
        return lambda: False
    pgconn = connection.connection.pgconn

    def lost() -> bool:
        if pgconn.status != ConnStatus.OK:
            return True
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
        return bool(readable)

    return lost
