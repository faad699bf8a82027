"""The bench database: creation, truncation, and fast seeding with COPY."""

import itertools
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import psycopg

from bench import config

# Every follow-up carries its text, so delivery never calls the LLM writer.
TEMPLATE_PAYLOAD = {"message_template": "Добрый день! Как и обещали, пишем вам снова."}
_telegram_ids = itertools.count(7_000_000_000)


def ensure_database() -> None:
    with psycopg.connect(f"{config.PG_SERVER_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config.DB_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config.DB_NAME}"')


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def truncate() -> None:
    """Empty the product's tables (CASCADE reaches every table that points at a prospect)."""
    from django.db import connection

    from followups.models import Heartbeat, Prospect, ScheduledAction, SendRate

    tables = [m._meta.db_table for m in (Prospect, ScheduledAction, SendRate, Heartbeat)]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def vacuum_analyze() -> None:
    """Fresh statistics after a bulk load, as autovacuum would give a long-running table."""
    from django.db import connection

    from followups.models import Prospect, ScheduledAction

    with connection.cursor() as cur:
        for model in (ScheduledAction, Prospect):
            cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def make_prospects(n: int) -> list[int]:
    """Create n prospects; returns their primary keys."""
    from followups.models import Prospect

    prospects = [
        Prospect(telegram_id=next(_telegram_ids), username="", language="ru") for _ in range(n)
    ]
    created = Prospect.objects.bulk_create(prospects, batch_size=2_000)
    return [p.pk for p in created]


def copy_actions(
    prospect_ids: Sequence[int],
    dues: Iterable[datetime],
    *,
    now: datetime,
    action_type: str = "follow_up",
) -> list[uuid.UUID]:
    """Insert one pending action per due time in `dues`, with COPY, cycling through
    `prospect_ids` for their prospects. Returns the new ids in order.

    Columns come from the model, each field prepared by Django as an insert would, so a column
    added by a later migration gets its default instead of breaking the seed.
    """
    from django.db import connection

    from followups.models import ScheduledAction

    fields = [f for f in ScheduledAction._meta.concrete_fields]
    explicit = {
        "action_type": action_type,
        "status": "pending",
        "payload": TEMPLATE_PAYLOAD,
        "promised_at": now,
        "created_at": now,
        "updated_at": now,
    }
    template = [
        f.get_db_prep_save(explicit.get(f.attname, f.get_default()), connection) for f in fields
    ]
    index = {f.attname: i for i, f in enumerate(fields)}
    i_id, i_prospect, i_due = index["id"], index["prospect_id"], index["scheduled_for"]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    ids = []
    with connection.cursor() as cur:
        raw = cur.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {ScheduledAction._meta.db_table} ({columns}) FROM STDIN") as copy:
            for prospect_id, due in zip(itertools.cycle(prospect_ids), dues):
                row = list(template)
                row[i_id] = action_id = uuid.uuid4()
                row[i_prospect] = prospect_id
                row[i_due] = due
                copy.write_row(row)
                ids.append(action_id)
    return ids


def count_unfinished(due: datetime) -> int:
    """Actions due at `due` that are still pending or being sent. Two counts, so each uses an
    index (the partial one on pending rows, the status one for the few being sent): the bench
    polls this during the burst and must not take CPU from what it measures."""
    from django.db import connection

    from followups.models import ScheduledAction

    table = ScheduledAction._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT (SELECT count(*) FROM {table} WHERE status = 'pending' "
            "AND scheduled_for = %s) "
            f"+ (SELECT count(*) FROM {table} WHERE status = 'sending' AND scheduled_for = %s)",
            [due, due],
        )
        return cur.fetchone()[0]


def outcomes(ids: Sequence[uuid.UUID]) -> list[tuple[str, datetime | None]]:
    """(status, executed_at) of the given actions."""
    from django.db import connection

    from followups.models import ScheduledAction

    with connection.cursor() as cur:
        cur.execute(
            f"SELECT status, executed_at FROM {ScheduledAction._meta.db_table} WHERE id = ANY(%s)",
            [list(ids)],
        )
        return cur.fetchall()
