"""`manage.py demo`, scripted through stdin, as README's quick start runs it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEMO_DB": str(tmp_path / "demo.sqlite3"), "ANTHROPIC_API_KEY": ""}
    return subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-admin", *args],
        cwd=ROOT,
        env=env,
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_scripted_demo_delivers_what_is_due_within_the_hour(tmp_path):
    done = run_demo(tmp_path, "Привет! Напиши мне через 30 минут\nок\n", "--speed", "2000")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "агент> Отлично, напишу вам" in out
    assert "агент> Договорились! 👍" in out  # «ок» acknowledged the promise, did not cancel it
    assert "scheduled message → client:" in out
    assert out.index("scheduled message") > out.index("(input ended")


def test_restarted_demo_still_delivers(tmp_path):
    """Stopped (SIGTERM) before the follow-up was due; started again: it arrives."""
    env = {**os.environ, "DEMO_DB": str(tmp_path / "demo.sqlite3"), "ANTHROPIC_API_KEY": ""}
    first = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--no-admin", "--speed", "1"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first.stdin.write("напиши мне через 40 минут\n")
    first.stdin.close()
    for line in first.stdout:
        if line.startswith("(input ended"):
            break
    first.terminate()
    assert first.wait(timeout=30) == 0, first.stderr.read()
    assert "scheduled message" not in first.stdout.read()
    second = run_demo(tmp_path, "", "--speed", "5000")
    assert second.returncode == 0, second.stderr
    assert "Pending: follow-up" in second.stdout
    assert "scheduled message → client:" in second.stdout


def test_bad_speed(tmp_path):
    done = run_demo(tmp_path, "", "--speed", "0")
    assert done.returncode != 0
    assert "--speed must be" in done.stderr
