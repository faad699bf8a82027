"""The results: one JSON object (headline numbers first, details after), a markdown report,
and the lateness plot."""

import json
from pathlib import Path

from bench import png

BURSTS = (("product_burst", "product"), ("naive_burst", "naive"))
BURST_LABELS = (
    ("product_burst", "product (horizon + batches)"),
    ("naive_burst", "naive (one delayed message each)"),
)
TARGETS = {
    # key: (description, limit, unit, the scenario that measures it)
    "burst_p99_lateness_ms": ("burst p99 lateness, backlog present", 1000, "ms", "product_burst"),
    "cancel_p99_ms": ("cancel-on-reply p99", 5, "ms", "table"),
    "reconcile_s_per_100k": ("startup reconcile per 100k pending", 3, "s", "table"),
}


def headline(results: dict) -> dict:
    """The flat numbers `run.py --json` promises."""
    product, naive = results.get("product_burst", {}), results.get("naive_burst", {})
    table = results.get("table", {})
    naive_complete = bool(naive) and naive.get("undelivered") == 0
    schedule = table.get("schedule", {})
    return {
        "mode": results["mode"],
        "n_background": results["sizes"]["n_background"],
        "n_burst": results["sizes"]["n_burst"],
        "burst_p50_lateness_ms": product.get("lateness_ms", {}).get("p50"),
        "burst_p99_lateness_ms": product.get("lateness_ms", {}).get("p99"),
        "burst_max_lateness_ms": product.get("lateness_ms", {}).get("max"),
        "burst_drain_s": product.get("drain_s"),
        "burst_undelivered": product.get("undelivered"),
        "single_p50_lateness_ms": product.get("singles", {}).get("lateness_ms", {}).get("p50"),
        "single_max_lateness_ms": product.get("singles", {}).get("lateness_ms", {}).get("max"),
        "naive_burst_p50_lateness_ms": (naive["lateness_ms"]["p50"] if naive_complete else None),
        "naive_burst_p99_lateness_ms": (naive["lateness_ms"]["p99"] if naive_complete else None),
        "naive_undelivered": naive.get("undelivered"),
        "naive_publish_per_s": naive.get("publish_per_s"),
        "schedule_per_s": schedule.get("near", {}).get("per_s"),
        "schedule_far_per_s": schedule.get("far", {}).get("per_s"),
        "schedule_mix20_per_s": schedule.get("mix20", {}).get("per_s"),
        "schedule_bulk_far_per_s": table.get("schedule_bulk", {}).get("far", {}).get("per_s"),
        "schedule_bulk_near_per_s": table.get("schedule_bulk", {}).get("near", {}).get("per_s"),
        "schedule_bulk_campaign_per_s": (
            table.get("schedule_bulk", {}).get("campaign", {}).get("per_s")
        ),
        "cancel_p50_ms": table.get("cancel", {}).get("cancel_ms", {}).get("p50"),
        "cancel_p99_ms": table.get("cancel", {}).get("cancel_ms", {}).get("p99"),
        "reply_p99_ms": table.get("cancel", {}).get("reply_ms", {}).get("p99"),
        "reconcile_s": table.get("reconcile", {}).get("seconds"),
        "reconcile_s_per_100k": table.get("reconcile", {}).get("s_per_100k"),
        "product_worker_rss_mb": _rss_by_backlog(product),
        "naive_worker_rss_mb": _rss_by_backlog(naive),
        **({"scale": _scale_rows(results["scale"])} if "scale" in results else {}),
        **_accounts_head(results.get("accounts_burst")),
    }


def _accounts_head(burst: dict | None) -> dict:
    if not burst:
        return {}
    keys = ("first_send_max_s", "rate_to_cap_min", "rate_to_cap_max", "behind_schedule_max_ms")
    return {
        "accounts_n": burst["n_accounts"],
        "accounts_per_account": burst["per_account"],
        "accounts_undelivered": burst["undelivered"],
        **{f"accounts_{key}": burst[key] for key in keys},
    }


def _scale_rows(scale: dict) -> list[dict]:
    return [
        {
            "backlog": point["backlog"],
            "p50_ms": point["burst"]["lateness_ms"]["p50"],
            "p99_ms": point["burst"]["lateness_ms"]["p99"],
            "drain_s": point["burst"]["drain_s"],
            "undelivered": point["burst"]["undelivered"],
            "reconcile_force_s": point["reconcile_force_s"],
            "worker_rss_sum_mb": point["memory"][-1]["worker_rss_sum_mb"],
        }
        for point in scale["points"]
    ]


def _rss_by_backlog(burst: dict) -> dict[str, float]:
    """Summed worker RSS at each backlog size (before the burst)."""
    return {
        str(point["backlog"]): point["worker_rss_sum_mb"]
        for point in burst.get("memory", [])
        if not point["after_burst"]
    }


def targets(head: dict, results: dict) -> list[dict]:
    """One row per target whose scenario ran (`--only` may leave some out)."""
    if "accounts_n" in head:
        return _accounts_targets(head)
    rows = []
    for key, (what, limit, unit, scenario) in TARGETS.items():
        if scenario not in results:
            continue
        value = head.get(key)
        rows.append(
            {
                "target": f"{what} < {limit} {unit}",
                "value": value,
                "met": value is not None and value < limit,
                "ratio_to_target": None if value is None else round(value / limit, 2),
            }
        )
    rss = head.get("product_worker_rss_mb") or {}
    if len(rss) >= 2:
        values = list(rss.values())
        growth = max(values) - min(values)
        rows.append(
            {
                "target": "product worker memory flat in the backlog (growth < 10 MiB)",
                "value": round(growth, 1),
                "met": growth < 10,
                "ratio_to_target": round(growth / 10, 2),
            }
        )
    return rows


def _accounts_targets(head: dict) -> list[dict]:
    """The multi-account burst's: every account's first send within 1 s of the due instant,
    each account at its own cap (its rate 0.95–1.02 of it: the rate is taken from its first
    send, whose own lateness shortens the span a little), none behind its own schedule by 1 s
    or more (it waited on nothing but its cap)."""
    first, behind = head["accounts_first_send_max_s"], head["accounts_behind_schedule_max_ms"]
    low, high = head["accounts_rate_to_cap_min"], head["accounts_rate_to_cap_max"]
    rates = None if low is None else f"{low}–{high}"
    return [
        {
            "target": "every account's first send after the due instant < 1 s",
            "value": first,
            "met": first is not None and first < 1,
            "ratio_to_target": None if first is None else round(first, 2),
        },
        {
            "target": "each account's send rate / its own cap within 0.95–1.02",
            "value": rates,
            "met": low is not None and low >= 0.95 and high <= 1.02,
            "ratio_to_target": None,
        },
        {
            "target": "no send behind its account's own cap schedule by ≥ 1,000 ms "
            "(all undelivered: 0)",
            "value": behind,
            "met": behind is not None and behind < 1000 and head["accounts_undelivered"] == 0,
            "ratio_to_target": None if behind is None else round(behind / 1000, 2),
        },
    ]


def write(results: dict, out_dir: Path, stem: str) -> dict:
    """Write <stem>.json, <stem>.md and the plot; return the JSON object."""
    out_dir.mkdir(parents=True, exist_ok=True)
    head = headline(results)
    document = {**head, "targets": targets(head, results), "details": _without_samples(results)}
    (out_dir / f"{stem}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False))
    plot_name = "lateness.png" if stem == "latest" else f"lateness-{stem}.png"
    _plot(results, out_dir / plot_name)
    (out_dir / f"{stem}.md").write_text(markdown(document, plot_name))
    return document


def _without_samples(results: dict) -> dict:
    """The results without the per-action lateness lists (the plot shows those)."""
    out = {}
    for key, value in results.items():
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "lateness_s"}
        out[key] = value
    if "scale" in results:
        out["scale"] = {
            **results["scale"],
            "points": [
                {**p, "burst": {k: v for k, v in p["burst"].items() if k != "lateness_s"}}
                for p in results["scale"]["points"]
            ],
        }
    return out


def _plot(results: dict, path: Path) -> None:
    series = {}
    for key, label in BURSTS:
        burst = results.get(key)
        if burst:
            series[label] = (burst["lateness_s"], burst["n_burst"])
    for point in results.get("scale", {}).get("points", []):
        burst = point["burst"]
        series[f"{point['backlog']:,} pending"] = (burst["lateness_s"], burst["n_burst"])
    if series:
        png.lateness_cdf(path, series)


def _loads(details: dict) -> str:
    loads = details.get("load_average_1m", {})
    return ", ".join(f"{load} ({name})" for name, load in loads.items()) or "not recorded"


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def markdown(doc: dict, plot_name: str) -> str:
    details = doc["details"]
    lines = [
        f"# Benchmarks ({doc['mode']} run, {details['started_at']})",
        "",
        f"Machine: {details['machine']}. Workers: `{details.get('workers', '-p 2 -t 8')}`. "
        f"Commit: `{details['commit']}`"
        f"{' (with uncommitted changes)' if details.get('dirty') else ''}. "
        f"Whole run: {details['total_s']:.0f} s. Numbers from one run; expect noise: the "
        f"1-minute load average before each scenario was {_loads(details)}.",
        "",
        "## Targets",
        "",
        "| target | measured | met | measured / target |",
        "|---|---|---|---|",
    ]
    if doc["mode"] == "quick":
        lines[-2:-2] = [
            f"Quick sizes ({doc['n_burst']:,} burst, {doc['n_background']:,} backlog): not the "
            "targets' workload (5,000 and 100,000); the full run (`latest.md`) is the verdict.",
            "",
        ]
    if doc["mode"] == "scale":
        lines[-4:] = []  # the scale table below is the verdict
    for row in doc["targets"] if doc["mode"] != "scale" else []:
        lines.append(
            f"| {row['target']} | {_fmt(row['value'])} | {'yes' if row['met'] else '**no**'} "
            f"| {_fmt(row['ratio_to_target'])} |"
        )
    lines += _burst_section(doc, details, plot_name)
    lines += _scale_section(doc, plot_name)
    lines += _accounts_section(details.get("accounts_burst"))
    lines += _memory_section(details)
    lines += _table_section(details.get("table", {}))
    return "\n".join(lines) + "\n"


def _burst_section(doc: dict, details: dict, plot_name: str) -> list[str]:
    if not any(key in details for key, _ in BURSTS):
        return []
    lines = [
        "",
        f"## Burst: {doc['n_burst']:,} actions due at one instant, "
        f"{doc['n_background']:,} far-future pending",
        "",
        "| design | delivered | p50 | p99 | max | first | drain (last − due) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in BURST_LABELS:
        burst = details.get(key)
        if not burst:
            continue
        lat = burst["lateness_ms"]
        lines.append(
            f"| {label} | {burst['delivered']:,} of {burst['n_burst']:,} "
            f"(budget {burst['budget_s']:.0f} s) | {_fmt(lat['p50'], ' ms')} "
            f"| {_fmt(lat['p99'], ' ms')} | {_fmt(lat['max'], ' ms')} "
            f"| {_fmt(burst['first_s'], ' s')} | {_fmt(burst['drain_s'], ' s')} |"
        )
    singles = details.get("product_burst", {}).get("singles")
    if singles:
        lat = singles["lateness_ms"]
        lines += [
            "",
            f"Lone follow-ups after the burst ({singles['n']}, 1.1 s apart): "
            f"{singles['delivered']} delivered, lateness p50 {_fmt(lat['p50'], ' ms')}, "
            f"max {_fmt(lat['max'], ' ms')}.",
        ]
    lines += _cpu_lines(details)
    naive = details.get("naive_burst")
    if naive:
        lines += [
            "",
            f"The naive design published {naive['published']:,} delayed messages in "
            f"{naive['publish_s']:.1f} s ({naive['publish_per_s']:,}/s from "
            f"{naive['publish_threads']} threads, publisher confirms on).",
        ]
    lines += ["", f"![lateness CDF]({plot_name})"]
    return lines


def _scale_section(doc: dict, plot_name: str) -> list[str]:
    if "scale" not in doc:
        return []
    lines = [
        "",
        f"## Scale: the product's burst of {doc['details']['scale']['n_burst']:,} against the "
        "backlog",
        "",
        "| pending | p50 | p99 | drain | undelivered | `reconcile(force=True)` | worker RSS sum |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in doc["scale"]:
        lines.append(
            f"| {row['backlog']:,} | {_fmt(row['p50_ms'], ' ms')} | {_fmt(row['p99_ms'], ' ms')} "
            f"| {_fmt(row['drain_s'], ' s')} | {row['undelivered']} "
            f"| {_fmt(row['reconcile_force_s'], ' s')} | {row['worker_rss_sum_mb']} MiB |"
        )
    return [*lines, "", f"![lateness CDF by backlog]({plot_name})"]


def _accounts_section(burst: dict | None) -> list[str]:
    if not burst:
        return []
    lines = [
        "",
        f"## Several accounts: {burst['n_accounts']} × {burst['per_account']:,} follow-ups due "
        "at one instant, each account under its own cap",
        "",
        "Behind schedule: a send's time minus its place in its own account's cap schedule "
        "(the k-th send due k × 60/cap s after the instant); an account that waited on "
        "another's sends falls behind it.",
        "",
        "| account | cap /min | delivered | first send | drain (expected by its cap) "
        "| rate /min (/ cap) | behind schedule p50 / max |",
        "|---|---|---|---|---|---|---|",
    ]
    for acc in burst["accounts"]:
        behind = acc["behind_schedule_ms"]
        lines.append(
            f"| {acc['account']} | {acc['cap_per_min']:,} | {acc['delivered']:,} of "
            f"{acc['n']:,} | {_fmt(acc['first_s'], ' s')} | {_fmt(acc['drain_s'], ' s')} "
            f"({_fmt(acc['expected_drain_s'], ' s')}) | {_fmt(acc['rate_per_min'])} "
            f"({_fmt(acc['rate_to_cap'])}) | {_fmt(behind['p50'], ' ms')} / "
            f"{_fmt(behind['max'], ' ms')} |"
        )
    return lines


def _cpu_lines(details: dict) -> list[str]:
    """CPU the processes used from just before the due instant to the end of the wait."""
    lines = [
        "",
        "CPU used from 0.5 s before the due instant until the burst drained (or the budget ran "
        "out), per burst action; Postgres = the server processes of the bench database's "
        "connections:",
        "",
        "| design | workers | Postgres | dispatcher |",
        "|---|---|---|---|",
    ]
    for key, label in BURSTS:
        cpu = details.get(key, {}).get("cpu")
        if not cpu:
            continue
        cells = [
            f"{cpu[g]['cpu_s']} s ({cpu[g]['ms_per_action']} ms)" if g in cpu else "—"
            for g in ("workers", "postgres", "dispatcher")
        ]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return lines


def _memory_section(details: dict) -> list[str]:
    if not any(key in details for key, _ in BURSTS):
        return []
    lines = [
        "",
        "## Worker memory (RSS of the 2 worker processes, MiB) as the far-future backlog grows",
        "",
        "| design | backlog | per process | sum | dispatcher | ready in Q.DQ (not held) |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (("product_burst", "product"), ("naive_burst", "naive")):
        for point in details.get(key, {}).get("memory", []):
            backlog = f"{point['backlog']:,}" + (" + after burst" if point["after_burst"] else "")
            lines.append(
                f"| {label} | {backlog} | {', '.join(map(str, point['worker_rss_mb']))} "
                f"| {point['worker_rss_sum_mb']} | {_fmt(point.get('dispatcher_rss_mb'))} "
                f"| {_fmt(point.get('delay_queue_ready'))} |"
            )
    return lines if len(lines) > 5 else []  # no burst ran: no memory was measured


def _table_section(table: dict) -> list[str]:
    if not table:
        return []
    return (
        _reconcile_section(table["reconcile"])
        + _cancel_section(table["cancel"])
        + _schedule_section(table["schedule"])
        + _bulk_section(table.get("schedule_bulk", {}))
        + _delivery_section(table["delivery"])
    )


def _reconcile_section(rec: dict) -> list[str]:
    return [
        "",
        f"## Startup reconcile ({rec['n_rows']:,} pending, 5 % within the horizon)",
        "",
        f"`reconcile(force=True)`: {rec['seconds']:.2f} s ({rec['s_per_100k']:.2f} s per 100k), "
        f"{rec['enqueued']:,} published. A following `--watch` pass: {rec['watch_pass_s']:.3f} s.",
    ]


def _cancel_section(cancel: dict) -> list[str]:
    lines = [
        "",
        f"## Cancel-on-reply ({cancel['table_rows']:,} rows in the table)",
        "",
        "| call | p50 | p99 | max | calls | cancelled |",
        "|---|---|---|---|---|---|",
        _call_row("`cancel_pending_followups(prospect)`", cancel["cancel_ms"], cancel["cancelled"]),
        _call_row(
            "`record_client_message` (lock, store, cancel)",
            cancel["reply_ms"],
            cancel["reply_cancelled"],
        ),
        "",
        "Statements of one `cancel_pending_followups` call (autocommit: one transaction each):",
        "",
        "| statement | per call | ms per call |",
        "|---|---|---|",
    ]
    for kind, row in cancel["cancel_queries"].items():
        lines.append(f"| `{kind}` | {row['count']} | {row['ms']} |")
    return lines


SCHEDULE_MODES = {
    "far": "far-future only (row)",
    "mix20": "20 % near-due",
    "near": "near-due only (row + publish)",
}
BULK_MODES = {
    "far": "a week out (rows only)",
    "near": "spread over the horizon (rows + grouped publish)",
    "campaign": "one instant 2 min out (rows + grouped publish)",
}


def _schedule_section(schedule: dict) -> list[str]:
    rows = [
        f"| {SCHEDULE_MODES.get(mode, mode)} | {row['per_s']:,.0f} "
        f"| {_fmt(row['call_ms']['p50'], ' ms')} | {_fmt(row['call_ms']['p99'], ' ms')} |"
        for mode, row in schedule.items()
    ]
    return _table(
        "Scheduling throughput (`services.schedule_action`, one caller)",
        "| mix | actions/s | p50 per call | p99 per call |",
        rows,
    )


def _bulk_section(bulk: dict) -> list[str]:
    rows = [
        f"| {BULK_MODES[mode]} | {row['n']:,} | {row['seconds']} | {row['per_s']:,} |"
        for mode, row in bulk.items()
    ]
    if not rows:
        return []
    return _table(
        "Bulk scheduling (`services.schedule_actions`, one call)",
        "| due | actions | seconds | actions/s |",
        rows,
    )


def _table(title: str, header: str, rows: list[str]) -> list[str]:
    return ["", f"## {title}", "", header, "|---" * header.count(" | ") + "|---|", *rows]


def _delivery_section(deliv: dict) -> list[str]:
    batch = deliv["batch_size"]
    lines = [
        "",
        f"## Delivery path in-process (`followups.delivery.deliver`, {deliv['n']:,} due "
        f"actions in batches of {batch}, one thread)",
        "",
        f"{deliv['ms_per_action']:.2f} ms per action ({deliv['actions_per_s_one_thread']:,.0f} "
        f"actions/s on one thread), of which {deliv['db_ms_per_action']:.2f} ms waiting on "
        f"{deliv['queries_per_action']} statements; a batch of {batch} takes "
        f"p50 {deliv['batch_ms']['p50']} ms. CPU per action: "
        f"{deliv.get('python_cpu_ms_per_action', '—')} ms in this (the worker's) process, "
        f"{deliv.get('postgres_cpu_ms_per_action', '—')} ms in its Postgres server process. "
        "Two cores give a burst of N actions at best N × (their sum) / 2 of drain.",
        "",
        f"| statement | per batch of {batch} | ms per batch |",
        "|---|---|---|",
    ]
    for kind, row in deliv["queries"].items():
        lines.append(
            f"| `{kind}` | {round(row['count'] * batch, 1)} | {round(row['ms'] * batch, 2)} |"
        )
    return lines


def _call_row(name: str, ms: dict, cancelled: int) -> str:
    return (
        f"| {name} | {_fmt(ms['p50'], ' ms')} | {_fmt(ms['p99'], ' ms')} "
        f"| {_fmt(ms['max'], ' ms')} | {ms['n']:,} | {cancelled:,} |"
    )
