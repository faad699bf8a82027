"""The peers bench's arithmetic: what counts as delivered, late, run twice, and how a burst
that did not finish reads in the table. (Running the engines is `bench/run.py --peers`; these
functions need none of them installed.)"""

from bench.peers import common, runner

SIZES = common.PeerSizes(n_backlog=10, n_burst=4, budget_s=10.0, min_lead_s=1.0)
DUE = 1_000.0


def test_burst_figures_count_the_first_run_by_the_deadline_only():
    runs = {
        "b0": [DUE + 0.5, DUE + 0.7],  # run twice: its first run counts
        "b1": [DUE + 2.0],
        "b2": [DUE + 10.5],  # after due + budget: undelivered
        # b3 never ran
        "k7": [DUE + 1.0],  # a backlog job that should not have run
    }
    figures = common.burst_figures(runs, DUE, SIZES)
    assert figures["delivered"] == 2
    assert figures["undelivered"] == 2
    assert figures["lateness_s"] == [0.5, 2.0]
    assert figures["run_twice"] == 1
    assert figures["backlog_run"] == 1
    assert figures["early"] == 0


def test_read_record_keeps_every_run_of_a_key(tmp_path):
    path = tmp_path / "runs.txt"
    path.write_text("b0 1000.5\nb1 1001.0\nb0 1002.0\n")
    assert common.read_record(path) == {"b0": [1000.5, 1002.0], "b1": [1001.0]}


def test_whole_burst_percentiles_count_undelivered_jobs_as_later_than_any():
    lateness = [i / 100 for i in range(100)]  # 0.00 .. 0.99 s
    complete = runner.whole_burst(lateness, n_burst=100)
    assert complete == {"p50": 495.0, "p99": 980.1, "max": 990.0}
    two_missing = runner.whole_burst(lateness[:98], n_burst=100)
    assert two_missing == {"p50": 495.0, "p99": None, "max": None}
    assert runner.whole_burst([], n_burst=100) == {"p50": None, "p99": None, "max": None}


def test_table_gives_ratios_to_the_products_p99_and_none_when_a_peer_did_not_finish():
    def engine(lateness_s, n_burst=100):
        return {
            "n_burst": n_burst,
            "delivered": len(lateness_s),
            "undelivered": n_burst - len(lateness_s),
            "lateness_s": lateness_s,
            "config": "c",
        }

    results = {
        "engines": {
            "product": engine([0.5] * 100),
            "procrastinate": engine([2.0] * 100),
            "celery": engine([1.0] * 50),
            "apscheduler": {"error": "RuntimeError: boom", "config": "c"},
        },
        "load_average_1m": {"product": 1.0, "procrastinate": 2.0, "celery": 3.0},
    }
    rows = {row["engine"]: row for row in runner.table(results)}
    assert rows["product"]["p99_ratio"] == 1.0
    assert rows["procrastinate 3.10.0"]["p99_ratio"] == 4.0
    assert rows["Celery 5.6.3"]["p99"] is None
    assert rows["Celery 5.6.3"]["p99_ratio"] is None
    assert rows["Celery 5.6.3"]["undelivered"] == 50
    assert rows["APScheduler 4.0.0a6"]["error"] == "RuntimeError: boom"


def test_runner_stops_before_running_anything_when_an_engine_is_not_installed(monkeypatch, caplog):
    monkeypatch.setattr(runner, "ENGINES", ("no_such_engine_installed",))
    assert runner.main(quick=True) == 2
    assert "uv sync --group peers" in caplog.text
