"""The worker and dispatcher subprocesses: start, wait until ready, measure memory, stop."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import config

WORKER_READY = "Worker process is ready for action."
DISPATCHER_READY = "reconcile --watch: every"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start(name: str, argv: list[str]) -> Proc:
    """Start `argv` (a Python module or manage.py command) in its own process group, with
    its output in bench/results/logs/<name>.log."""
    config.LOGS.mkdir(parents=True, exist_ok=True)
    log_path = config.LOGS / f"{name}.log"
    with log_path.open("w") as log:
        popen = subprocess.Popen(
            [sys.executable, *argv],
            cwd=config.ROOT,
            env=config.child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, popen, log_path)


def product_workers(
    processes: int = config.WORKER_PROCESSES, threads: int = config.WORKER_THREADS
) -> Proc:
    return start(
        "product-workers",
        [
            "manage.py",
            "rundramatiq",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            config.PRODUCT_QUEUE,
            "--worker-shutdown-timeout",
            "5000",
        ],
    )


def dispatcher(interval_s: float = 1.0) -> Proc:
    return start("dispatcher", ["manage.py", "reconcile", "--watch", "--interval", str(interval_s)])


def naive_workers(
    processes: int = config.WORKER_PROCESSES, threads: int = config.WORKER_THREADS
) -> Proc:
    return start(
        "naive-workers",
        [
            "-m",
            "dramatiq",
            "bench.naive",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--queues",
            config.NAIVE_QUEUE,
            "--worker-shutdown-timeout",
            "5000",
        ],
    )


def wait_ready(proc: Proc, marker: str, count: int = 1, timeout_s: float = 60.0) -> float:
    """Wait until `marker` appears `count` times in the process's log; returns seconds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early; see {proc.log_path}")
        if proc.log_text().count(marker) >= count:
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"{proc.name} not ready after {timeout_s} s; see {proc.log_path}")


def stop(proc: Proc | None, timeout_s: float = 15.0) -> None:
    """SIGTERM the process (Dramatiq's master passes it on to its workers), then SIGKILL its
    whole process group if it has not exited in time."""
    if proc is None or proc.popen.poll() is not None:
        return
    proc.popen.send_signal(signal.SIGTERM)
    try:
        proc.popen.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(5)


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (Dramatiq's worker processes under its master)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_rss_mb(proc: Proc) -> list[float]:
    """RSS of each worker process under a Dramatiq master (MiB)."""
    return [round(rss_mb(kid), 1) for kid in children(proc.pid)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_backends(database: str) -> list[int]:
    """Server processes of connections to `database` (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {database} " in title:
            pids.append(int(entry.name))
    return pids
