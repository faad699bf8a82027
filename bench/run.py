"""Run the benchmarks: `uv run python bench/run.py [--quick] [--json] [--only ...]
[--backlog N] [--burst M] [--scale] [--accounts]`.

Writes bench/results/latest.{md,json} and lateness.png (quick runs: quick.{md,json} and
lateness-quick.png; other sizes: sized.*; a subset (--only): partial.*, or
sized-<scenarios>.* with other sizes; --scale: scale.*; --accounts: accounts.* or
accounts-quick.*). With --json, prints the results
object to stdout; progress goes to stderr. See bench/README.md.
"""

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config

# In-process scenarios first, while the broker is quiet; the naive burst last, as it leaves
# RabbitMQ busy requeueing and purging its 100,000 delayed messages.
SCENARIOS = ("table", "product", "naive")
# --scale: the product's burst with each of these pending.
SCALE_BACKLOGS = (10_000, 100_000, 1_000_000)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = _sizes(args)
    started = time.monotonic()
    _log_to_stderr()
    config.setup_django()
    _send_django_logs_to_file()
    logging.getLogger("pika").setLevel(logging.ERROR)  # purging a queue not yet declared
    if args.peers:
        from bench.peers import runner

        return runner.main(quick=args.quick, n_backlog=args.backlog, n_burst=args.burst)

    from bench import burst, report, table

    mode = "quick" if args.quick else "full"
    if args.backlog is not None or args.burst is not None:
        mode = "sized"
    if args.accounts:
        mode = "accounts-quick" if args.quick else "accounts"
    results = {
        "mode": "scale" if args.scale else mode,
        "sizes": vars(sizes) | {"memory_checkpoints": list(sizes.memory_checkpoints)},
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        **_commit(),
        "product_files": _fingerprint(),
        "workers": f"-p {config.WORKER_PROCESSES} -t {config.WORKER_THREADS}",
    }
    runners = {"product": burst.run_product, "naive": burst.run_naive, "table": table.run}
    keys = {"product": "product_burst", "naive": "naive_burst", "table": "table"}
    results["load_average_1m"] = {}
    if args.scale:
        results["load_average_1m"]["scale"] = round(os.getloadavg()[0], 2)
        results["scale"] = burst.run_scale(sizes, SCALE_BACKLOGS)
        args.only = []
    if args.accounts:
        from bench import accounts_burst

        results["load_average_1m"]["accounts"] = round(os.getloadavg()[0], 2)
        results["accounts_burst"] = accounts_burst.run(
            sizes.n_per_account, sizes.lead_s, sizes.accounts_budget_s
        )
        args.only = []
    for name in args.only:
        # Other work on this machine shows up in the numbers: keep the load next to them.
        results["load_average_1m"][name] = round(os.getloadavg()[0], 2)
        logging.getLogger("bench").info("--- %s (load average %.2f)", name, os.getloadavg()[0])
        results[keys[name]] = runners[name](sizes)
    results["total_s"] = round(time.monotonic() - started, 1)
    # A subset does not overwrite the reports of complete runs.
    complete = set(args.only) == set(SCENARIOS)
    stem = {"quick": "quick", "full": "latest"}.get(mode, mode)
    if not complete:
        stem = "sized-" + "-".join(args.only) if mode == "sized" else "partial"
    if args.scale:
        stem = "scale"
    if args.accounts:
        stem = mode
    document = report.write(results, config.RESULTS, stem)
    logging.getLogger("bench").info(
        "wrote %s (%.0f s)", config.RESULTS / f"{stem}.md", results["total_s"]
    )
    if args.json:
        print(json.dumps(document, ensure_ascii=False))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; under a minute")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="the burst on the product and on peer engines (needs `uv sync --group peers`)",
    )
    parser.add_argument(
        "--only",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=list(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--backlog", type=_count, help="far-future pending actions (default 100,000; quick 10,000)"
    )
    parser.add_argument(
        "--burst", type=_count, help="actions due at one instant (default 5,000; quick 1,000)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the product's burst at "
        + ", ".join(f"{n:,}" for n in SCALE_BACKLOGS)
        + " pending: lateness against backlog size",
    )
    parser.add_argument(
        "--accounts",
        action="store_true",
        help="10 accounts × 500 follow-ups due at one instant, each under its own send cap: "
        "results/accounts.* (--quick: 100 each, accounts-quick.*)",
    )
    args = parser.parse_args(argv)
    if args.accounts and (args.scale or args.peers or args.backlog or args.burst):
        parser.error("--accounts runs its own sizes; it takes --quick and --json only")
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.scale and args.backlog is not None:
        parser.error("--scale chooses the backlog sizes itself; give --burst only")
    return args


def _count(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{text}: expected 1 to 10,000,000")
    return value


def _sizes(args: argparse.Namespace) -> config.Sizes:
    """The quick or full sizes, with --backlog and --burst applied (the backlog also sizes
    the table scenario's reconcile and cancel-on-reply)."""
    sizes = config.QUICK if args.quick else config.FULL
    if args.burst is not None:
        sizes = dataclasses.replace(sizes, n_burst=args.burst)
    if args.backlog is not None:
        sizes = dataclasses.replace(
            sizes,
            n_background=args.backlog,
            n_reconcile=args.backlog,
            memory_checkpoints=tuple(p for p in sizes.memory_checkpoints if p < args.backlog),
        )
    return sizes


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s bench %(message)s", "%H:%M:%S"))
    bench_log = logging.getLogger("bench")
    bench_log.addHandler(handler)
    bench_log.setLevel(logging.INFO)
    bench_log.propagate = False


def _send_django_logs_to_file() -> None:
    """The product logs every action it schedules or cancels; keep that off the terminal."""
    config.LOGS.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(config.LOGS / "bench-process.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model}, Python {platform.python_version()}".strip()


def _commit() -> dict:
    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=config.ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain")),
    }


def _fingerprint() -> dict[str, str]:
    """Short hashes of the product modules measured: the tree may hold uncommitted edits."""
    names = ["delivery", "dispatcher", "services", "actors", "models"]
    return {
        name: hashlib.sha256((config.ROOT / "followups" / f"{name}.py").read_bytes()).hexdigest()[
            :12
        ]
        for name in names
    }


if __name__ == "__main__":
    sys.exit(main())
