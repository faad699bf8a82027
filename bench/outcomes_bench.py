"""The outcomes page at 1M actions: seeds a scratch database (INSERT … SELECT generate_series),
times the summary of the closed days (outcomes.roll_up, called until it has nothing left, as
the dispatcher's housekeeping does), then each of the page's queries and the whole page, for
the last 7, 30, 90 and 366 days.

    uv run python bench/outcomes_bench.py [--rows 1000000] [--keep]

Database `followups_outcomes_bench` on 127.0.0.1 (BENCH_PG_URL overrides the server); dropped
at the end unless --keep.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
NAME = "followups_outcomes_bench"

SEED = """
-- All of the default account (created by the migrations).
INSERT INTO followups_prospect (account_id, telegram_id, username, display_name, time_zone,
    language, unreachable_reason, created_at, updated_at)
SELECT (SELECT id FROM followups_account WHERE name = 'default'), n, '', 'client ' || n,
    (ARRAY['Asia/Makassar', 'Europe/Moscow', 'Asia/Dubai', 'Europe/Berlin'])[1 + n % 4],
    'ru', '', now(), now()
FROM generate_series(1, %(prospects)s) n;

-- Due times over the last 91 days, inserted in time order as a live table fills; 95 % sent
-- (late by 0-600 s, mostly under a second), 3 % missed, 2 % failed. Asked 10 min-14 days before.
INSERT INTO followups_scheduledaction (id, prospect_id, action_type, scheduled_for, status,
    client_requested_time, promised_at, payload, created_at, updated_at, attempts, last_error,
    executed_at, cancel_reason, send_text, sent_now_by)
SELECT gen_random_uuid(), p.id,
    (ARRAY['follow_up', 'follow_up', 'follow_up', 'reminder', 'pre_meeting_reminder'])[1 + n % 5],
    due, CASE WHEN n % 100 < 3 THEN 'missed' WHEN n % 100 < 5 THEN 'failed' ELSE 'executed' END,
    false, due - asked, '{}', due - asked, due, 1, '',
    CASE WHEN n % 100 >= 5 THEN due + make_interval(secs => power(random(), 8) * 600) END,
    '', '', ''
FROM (SELECT n, now() - random() * interval '91 days' AS due,
             interval '10 minutes' + random() * random() * interval '14 days' AS asked
      FROM generate_series(1, %(actions)s) n) s
JOIN followups_prospect p ON p.telegram_id = 1 + s.n %% %(prospects)s
ORDER BY due;

-- As many messages, from the clients, at random times over the same days.
INSERT INTO followups_message (prospect_id, direction, text, sent_at)
SELECT p.id, CASE WHEN n % 4 = 0 THEN 'out' ELSE 'in' END, 'текст',
       now() - random() * interval '92 days'
FROM generate_series(1, %(messages)s) n
JOIN followups_prospect p ON p.telegram_id = 1 + n %% %(prospects)s
ORDER BY 4;

-- What recording each message would have set (followups.outcomes.mark_answered).
UPDATE followups_scheduledaction a SET answered_at = (
    SELECT min(m.sent_at) FROM followups_message m
    WHERE m.prospect_id = a.prospect_id AND m.direction = 'in'
      AND m.sent_at > a.executed_at AND m.sent_at <= a.executed_at + interval '24 hours')
WHERE a.status = 'executed';
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    args = parser.parse_args()
    if not args.reuse:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {NAME}")
            admin.execute(f"CREATE DATABASE {NAME}")
    os.environ.update(
        DATABASE_URL=f"{SERVER}/{NAME}",
        DJANGO_DEBUG="true",
        DJANGO_SETTINGS_MODULE="project.settings",
        FOLLOWUPS_MESSENGER="followups.messenger.InMemoryMessenger",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.reuse:
        seed(args.rows)
    try:
        measure()
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {NAME}")


def seed(rows: int) -> None:
    started = time.perf_counter()
    with psycopg.connect(f"{SERVER}/{NAME}", autocommit=True) as db:
        sql = SEED.replace("%(prospects)s", "10000").replace("%(actions)s", str(rows))
        db.execute(sql.replace("%(messages)s", str(rows)).replace("%%", "%"))
        db.execute("VACUUM ANALYZE")  # as autovacuum would have, on a live table
    print(f"seeded {rows:,} actions and messages, 10,000 clients "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip


def measure() -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from followups import outcomes
    from followups.models import ActionStatus, OutcomeCount, OutcomeDay, ScheduledAction

    OutcomeCount.objects.all().delete()  # a kept database is summarized again (--reuse)
    OutcomeDay.objects.all().delete()
    rolls = []
    while True:
        started = time.perf_counter()
        days = outcomes.roll_up()
        rolls.append((days, time.perf_counter() - started))
        if not days:
            break
    print("roll_up: " + ", ".join(f"{days} days in {took:.1f} s" for days, took in rolls))
    client = Client(HTTP_HOST="localhost")
    user = User.objects.filter(username="bench").first()
    client.force_login(user or User.objects.create_superuser("bench", password=None))
    for days in (7, 30, 90, 366):
        period = outcomes.Period.last_days(days)
        sent = ScheduledAction.objects.filter(
            status=ActionStatus.EXECUTED, executed_at__gte=period.start, executed_at__lt=period.end
        ).count()
        query = {"period": days} if days < 366 else {
            "period": "custom", "start": period.first.isoformat(), "end": period.last.isoformat()
        }  # fmt: skip
        client.get("/admin/outcomes/", query)  # warm
        pages = []
        for _ in range(3):
            connection.queries_log.clear()  # each request starts a new log
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/admin/outcomes/", query)
                pages.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        print(f"\nlast {days} days ({sent:,} sends): page median "
              f"{statistics.median(pages) * 1000:.0f} ms, max {max(pages) * 1000:.0f} ms "
              f"(3 runs); the last run's queries:")  # fmt: skip
        for query in queries.captured_queries:
            print(f"  {float(query['time']) * 1000:6.0f} ms  {query['sql'][:90]}…")


if __name__ == "__main__":
    main()
