"""The multi-account burst (`--accounts`; docs/design.md, "Sending within Telegram's limits"):
ACCOUNTS Telegram accounts, each with its own send cap, each with N follow-ups due at one instant T,
on the product's real processes (`rundramatiq -p 2 -t 8`, `reconcile --watch`).

Per account: the first send's lateness after T; its sends' rate against its cap; and how far
each send fell behind the account's own schedule: under a cap of c a minute, the k-th send
(from 0) is due at T + k × 60/c s, so an account that waited on another's sends or cap falls
behind it, while one that follows only its own cap stays on it.
"""

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from bench import config, db, procs, stats
from bench.burst import clean_up
from bench.common import log, now, reset, sleep_until

ACCOUNTS = 10
# Sends a minute of each account: all different, so "its own cap" shows. The slowest drains
# 500 in 50 s; together 175 sends a second, which leaves the 2 cores room for the deferrals.
CAPS_PER_MINUTE = tuple(600 + 100 * i for i in range(ACCOUNTS))


def run(per_account: int, lead_s: float, budget_s: float) -> dict:
    """`per_account` follow-ups for each of the accounts, all due at one instant `lead_s` after
    their rows are in; polled until none is pending or being sent, or `budget_s` after it."""
    reset()
    names = _accounts()
    prospects = _prospects(names, per_account)
    workers = dispatcher = None
    try:
        workers, dispatcher = procs.product_workers(), procs.dispatcher()
        procs.wait_ready(workers, procs.WORKER_READY, count=config.WORKER_PROCESSES)
        procs.wait_ready(dispatcher, procs.DISPATCHER_READY)
        due = now() + timedelta(seconds=lead_s)
        # Interleaved (client i of each account in turn), as a burst's promises arrive: each
        # delivery message carries every account's actions.
        ids = db.copy_actions(prospects, [due] * len(prospects), now=now())
        log.info("accounts burst: %d accounts × %d due at %s", len(names), per_account, due.time())
        sleep_until(due)
        deadline = time.monotonic() + budget_s
        # Deferred actions are due at their slots, no longer at `due`: poll the ids.
        while db.count_unfinished_of(ids) and time.monotonic() < deadline:
            time.sleep(0.5)
        rows = db.sends_by_account(ids)
    finally:
        clean_up(config.PRODUCT_QUEUE, dispatcher, workers)
    result = {
        "n_accounts": len(names),
        "per_account": per_account,
        "budget_s": budget_s,
        "accounts": _per_account(rows, due, dict(zip(names, CAPS_PER_MINUTE, strict=True))),
    }
    result.update(_overall(result["accounts"]))
    log.info("accounts burst: %s", {k: v for k, v in result.items() if k != "accounts"})
    return result


def _accounts() -> list[str]:
    """The bench accounts, active, each with its cap (made once, kept between runs)."""
    from followups.models import Account

    names = [f"bench-{i:02d}" for i in range(ACCOUNTS)]
    for name, cap in zip(names, CAPS_PER_MINUTE, strict=True):
        Account.objects.update_or_create(
            name=name,
            defaults={
                "send_rate_per_minute": cap,
                "state": Account.State.ACTIVE,
                "state_reason": "",
                "quiet_hours": "",
            },
        )
    return names


def _prospects(names: list[str], per_account: int) -> list[int]:
    """`per_account` clients of each account, interleaved: [a0, a1, …, a9, a0, …]."""
    from followups.models import Account

    ids = {a.name: a.pk for a in Account.objects.filter(name__in=names)}
    columns = [db.make_prospects(per_account, account_id=ids[name]) for name in names]
    return [pk for row in zip(*columns, strict=True) for pk in row]


def _per_account(
    rows: list[tuple[str, str, datetime | None]], due: datetime, caps: dict[str, int]
) -> list[dict]:
    sent: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    for name, status, executed_at in rows:
        statuses[name][status] += 1
        if status == "executed" and executed_at:
            sent[name].append((executed_at - due).total_seconds())
    out = []
    for name, cap in caps.items():
        times = sorted(sent[name])
        step = 60 / cap
        behind_ms = [(t - k * step) * 1000 for k, t in enumerate(times)]
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        rate = (len(times) - 1) * 60 / span if span else None
        out.append(
            {
                "account": name,
                "cap_per_min": cap,
                "n": sum(statuses[name].values()),
                "delivered": len(times),
                "statuses": dict(statuses[name]),
                "first_s": round(times[0], 3) if times else None,
                "drain_s": round(times[-1], 3) if times else None,
                # Its own cap's schedule says the last send is due at (n − 1) × 60/c.
                "expected_drain_s": round((len(times) - 1) * step, 3) if times else None,
                "rate_per_min": round(rate, 1) if rate else None,
                "rate_to_cap": round(rate / cap, 3) if rate else None,
                "behind_schedule_ms": stats.summary(behind_ms, digits=1),
            }
        )
    return out


def _overall(accounts: list[dict]) -> dict:
    firsts = [a["first_s"] for a in accounts if a["first_s"] is not None]
    ratios = [a["rate_to_cap"] for a in accounts if a["rate_to_cap"] is not None]
    behind = [a["behind_schedule_ms"]["max"] for a in accounts if a["delivered"]]
    return {
        "delivered": sum(a["delivered"] for a in accounts),
        "undelivered": sum(a["n"] - a["delivered"] for a in accounts),
        "first_send_max_s": max(firsts) if firsts else None,
        "rate_to_cap_min": min(ratios) if ratios else None,
        "rate_to_cap_max": max(ratios) if ratios else None,
        "behind_schedule_max_ms": max(behind) if behind else None,
    }
