"""`bench/run.py --peers [--quick]`: the product's burst and each peer engine's, one after the
other in the same run, at the same sizes; a table of their lateness next to the product's.

Writes bench/results/peers.{md,json} (quick runs: peers-quick.*). Needs the peers dependency
group (`uv sync --group peers`).
"""

import importlib
import importlib.util
import json
import logging
import math
import os
import time
import traceback
from dataclasses import asdict, replace
from datetime import UTC, datetime

from bench import config
from bench.peers import common

log = logging.getLogger("bench")
ENGINES = ("apscheduler", "procrastinate", "celery")
LABELS = {
    "product": "product",
    "apscheduler": "APScheduler 4.0.0a6",
    "procrastinate": "procrastinate 3.10.0",
    "celery": "Celery 5.6.3",
}


def main(quick: bool, n_backlog: int | None = None, n_burst: int | None = None) -> int:
    """Sizes: full or quick, with the backlog or the burst overridden if given."""
    from bench import burst

    missing = [name for name in ENGINES if importlib.util.find_spec(name) is None]
    if missing:
        log.error("not installed: %s; run `uv sync --group peers` first", ", ".join(missing))
        return 2
    sizes = common.QUICK if quick else common.FULL
    sizes = replace(sizes, n_backlog=n_backlog or sizes.n_backlog, n_burst=n_burst or sizes.n_burst)
    started = time.monotonic()
    results: dict = {
        "mode": "quick" if quick else "full",
        "sizes": asdict(sizes),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "workers": f"{common.PROCESSES} processes × {common.CONCURRENCY}",
        "load_average_1m": {},
        "engines": {},
    }
    product_sizes = replace(
        config.QUICK if quick else config.FULL,
        n_background=sizes.n_backlog,
        n_burst=sizes.n_burst,
        budget_s=sizes.budget_s,
    )
    runs = {"product": lambda: _product(burst.run_product(product_sizes))}
    for engine in ENGINES:
        runs[engine] = _peer_runner(engine, sizes)
    for name, run in runs.items():
        load = round(os.getloadavg()[0], 2)
        results["load_average_1m"][name] = load
        log.info("--- peers: %s (load average %.2f)", name, load)
        try:
            results["engines"][name] = run()
        except Exception as exc:  # one engine failing still reports the others
            log.error("%s failed: %s", name, traceback.format_exc())
            results["engines"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    results["total_s"] = round(time.monotonic() - started, 1)
    results["table"] = table(results)
    for figures in results["engines"].values():
        figures.pop("lateness_s", None)  # summarised in the table and lateness_ms
    # Other sizes than the standard ones do not overwrite the standard reports.
    standard = n_backlog is None and n_burst is None
    stem = ("peers-quick" if quick else "peers") if standard else "peers-partial"
    (config.RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = to_markdown(results)
    (config.RESULTS / f"{stem}.md").write_text(markdown)
    print(markdown)
    log.info("wrote %s (%.0f s)", config.RESULTS / f"{stem}.md", results["total_s"])
    return 0


def _peer_runner(engine: str, sizes: common.PeerSizes):
    def run() -> dict:
        module = importlib.import_module(f"bench.peers.{engine}_peer")
        result = module.run(sizes)
        result["config"] = module.CONFIG
        return result

    return run


def _product(result: dict) -> dict:
    """The product's burst figures in the peers' shape (its lateness list and memory readings
    stay in bench/results/latest.json's kind of run)."""
    kept = ("n_burst", "delivered", "undelivered", "budget_s", "lateness_ms", "lateness_s", "cpu")
    figures = {key: result[key] for key in kept if key in result}
    figures["config"] = (
        f"rundramatiq -p {config.WORKER_PROCESSES} -t {config.WORKER_THREADS} + "
        "reconcile --watch --interval 1"
    )
    return figures


def whole_burst(lateness_s: list[float], n_burst: int) -> dict:
    """p50/p99/max in ms over the whole burst, an undelivered job counting as later than any:
    a percentile the delivered jobs do not reach is None (not reached by the deadline)."""
    ordered = sorted(lateness_s)

    def at(q: float) -> float | None:
        rank = (n_burst - 1) * q / 100
        low, high = math.floor(rank), math.ceil(rank)
        if high >= len(ordered):
            return None
        return round((ordered[low] + (ordered[high] - ordered[low]) * (rank - low)) * 1000, 1)

    return {"p50": at(50), "p99": at(99), "max": at(100)}


def table(results: dict) -> list[dict]:
    product = results["engines"].get("product", {})
    product_p99 = (
        whole_burst(product["lateness_s"], product["n_burst"])["p99"]
        if "lateness_s" in product
        else None
    )
    rows = []
    for name, figures in results["engines"].items():
        row = {"engine": LABELS[name], "config": figures.get("config", "")}
        if "error" in figures:
            rows.append(row | {"error": figures["error"]})
            continue
        row |= whole_burst(figures["lateness_s"], figures["n_burst"])
        row["undelivered"] = figures["undelivered"]
        row["p99_ratio"] = (
            round(row["p99"] / product_p99, 1) if row["p99"] and product_p99 else None
        )
        row["load_average_1m"] = results["load_average_1m"][name]
        rows.append(row)
    return rows


def _seconds(ms: float | None, budget_s: float) -> str:
    return f"> {budget_s:g} s" if ms is None else f"{ms / 1000:.2f} s"


def to_markdown(results: dict) -> str:
    sizes = results["sizes"]
    budget = sizes["budget_s"]
    lines = [
        f"# Peers ({results['mode']}): the burst on the engines a user would pick instead",
        "",
        f"{sizes['n_burst']:,} no-op jobs due at one instant behind {sizes['n_backlog']:,} "
        f"pending a week out; workers {results['workers']}; undelivered = not run "
        f"{budget:g} s after the due instant. Started {results['started_at']}, "
        f"{results['total_s']:.0f} s in all.",
        "",
        "| engine | p50 | p99 | max | undelivered | p99 / product's | load | config |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["table"]:
        if "error" in row:
            lines.append(f"| {row['engine']} | failed: {row['error']} | | | | | | |")
            continue
        ratio = (
            f"{row['p99_ratio']:g}×"
            if row["p99_ratio"] is not None
            else ("—" if row["engine"] == "product" else "not reached")
        )
        lines.append(
            f"| {row['engine']} | {_seconds(row['p50'], budget)} | {_seconds(row['p99'], budget)}"
            f" | {_seconds(row['max'], budget)} | {row['undelivered']:,} of {sizes['n_burst']:,}"
            f" | {ratio} | {row['load_average_1m']:.1f} | {row['config']} |"
        )
    lines += [
        "",
        "Per engine (seeding the backlog, lead before the due instant, workers' RSS):",
        "",
    ]
    for name, figures in results["engines"].items():
        if name == "product" or "error" in figures:
            continue
        seeded = figures["backlog_seeded"]
        lines.append(
            f"- {LABELS[name]}: backlog {seeded['n']:,} in {seeded['seconds']} s "
            f"({seeded['per_s']:,}/s); burst scheduled in {figures['burst_scheduled_s']} s, "
            f"due {figures['lead_s']} s after; run twice {figures['run_twice']}, "
            f"backlog jobs run {figures['backlog_run']}, early {figures['early']}; "
            f"workers' RSS {figures['worker_rss_mb']} MiB"
        )
    return "\n".join(lines) + "\n"
