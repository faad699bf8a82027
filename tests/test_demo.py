"""`manage.py demo`, scripted through stdin, as README's quick start runs it."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The demo runs in a subprocess, on the real clock; demo_env pins its time of day instead.
pytestmark = pytest.mark.real_clock


def run_demo(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = demo_env(tmp_path)
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
    env = demo_env(tmp_path)
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


# --- The demo reads like a chat -------------------------------------------------------------

STAMP = r"\[\w{3} \d\d \w{3} \d\d:\d\d\]"  # demo time, as each conversation line shows it


def demo_env(tmp_path: Path) -> dict:
    """The demo on its own database, its clock starting at the next 14:00 in the client's zone
    (what it says and when it sends depend on the hour: quiet hours, "today" or "tomorrow")."""
    db = tmp_path / "demo.sqlite3"
    clock_file = db.with_suffix(".clock.json")
    if not clock_file.exists():  # a restarted demo goes on from where it stopped
        zone = ZoneInfo("Asia/Makassar")
        start = datetime.combine(datetime.now(zone).date(), clock_time(14), zone)
        while start <= datetime.now(UTC) + timedelta(minutes=1):
            start += timedelta(days=1)
        clock_file.write_text(json.dumps({"demo_now": start.isoformat()}))
    return {**os.environ, "DEMO_DB": str(db), "ANTHROPIC_API_KEY": ""}


def manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Another command on the demo's settings and database, as README says to run it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args, "--settings", "project.demo_settings"],
        cwd=ROOT,
        env=demo_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_demo(tmp_path: Path, *args: str) -> subprocess.Popen:
    """A demo with stdin open; killed after 3 minutes whatever happens (a test reading its
    output then fails instead of hanging)."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", *args],
        cwd=ROOT,
        env=demo_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = threading.Timer(180, process.kill)
    deadline.daemon = True
    deadline.start()
    return process


def read_until(process: subprocess.Popen, prefix: str) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no line {prefix!r} in {lines}; stderr: {process.stderr.read()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_console_shows_the_chat_and_the_logs_go_to_the_file_the_banner_names(tmp_path):
    port = free_port()
    demo = start_demo(tmp_path, "--speed", "600", "--port", str(port))
    banner = "".join(read_until(demo, "Admin: "))
    admin = f"http://127.0.0.1:{port}"
    assert fetch(f"{admin}/admin/login/") == 200
    assert fetch(f"{admin}/static/admin/css/base.css") == 200
    assert fetch(f"{admin}/static/admin/js/core.js") == 200
    assert fetch(f"{admin}/admin/login/", data=b"username=x") == 403  # no CSRF token
    assert fetch(f"{admin}/no-such-page/") == 404
    out, err = demo.communicate("Привет! Напиши мне через 30 минут\n", timeout=120)
    assert demo.returncode == 0, err
    console = banner + out + err
    log = tmp_path / "demo.log"
    assert f"Logs: {log}" in banner
    for noise in ("GET /", "POST /", "Forbidden", "Not Found", "Traceback", "INFO", "WARNING"):
        assert noise not in console
    assert "агент> Отлично, напишу вам" in out
    written = log.read_text()
    assert "GET /static/admin/css/base.css" in written  # the admin's request lines
    assert "Forbidden (CSRF" in written
    assert "Not Found: /no-such-page/" in written
    assert "followups.events event=action.created" in written  # the product's own logs


def test_a_taken_port_given_stops_the_demo_with_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_demo_with_admin(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert f"Port {port} is taken" in done.stderr
    assert "--no-admin" in done.stderr
    assert "Admin:" not in done.stdout and "login demo" not in done.stdout
    assert "Traceback" not in done.stderr


def run_demo_with_admin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "demo", "--speed", "600", *args],
        cwd=ROOT,
        env=demo_env(tmp_path),
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_the_default_port_taken_the_demo_takes_the_next_free_one_and_says_so(tmp_path):
    """8000 held here (or by someone else already): the URL and password printed are the
    demo's own, on the next free port."""
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 8000))
        taken.listen()
    except OSError:
        pass  # 8000 is already someone else's
    try:
        demo = start_demo(tmp_path, "--speed", "600")
        lines = read_until(demo, "Admin: ")
        admin_line = lines[-1]
        assert "Port 8000 is taken: the admin is on " in "".join(lines)
        match = re.search(r"http://127\.0\.0\.1:(\d+)/admin/\s+login demo / (\S+)", admin_line)
        port, password = int(match[1]), match[2]
        assert port != 8000
        assert log_in(port, password)  # it is the demo's own admin: its password works
        _, err = demo.communicate("", timeout=60)
        assert demo.returncode == 0, err
        assert "Traceback" not in err
    finally:
        taken.close()


def log_in(port: int, password: str) -> bool:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"http://127.0.0.1:{port}/admin/login/?next=/admin/"
    page = opener.open(login, timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": "demo", "password": password, "next": "/admin/"}
    )
    with opener.open(login, data=form.encode(), timeout=10) as response:
        return (
            response.url.endswith("/admin/") and "Site administration" in response.read().decode()
        )


def test_each_conversation_line_shows_demo_time(tmp_path):
    done = run_demo(tmp_path, "Привет! Напиши мне через 30 минут\nок\n", "--speed", "2000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    chat = [line for line in lines if "клиент> " in line or "агент> " in line]
    assert len(chat) == 4
    for line in chat:
        assert re.match(rf"{STAMP} (клиент|агент)> ", line), line
    [scheduled] = [line for line in lines if "scheduled message" in line]
    assert re.match(rf"{STAMP} ⏰ scheduled message → client:", scheduled)
    # demo time runs faster: the follow-up arrives 30 demo minutes after the promise
    promised = re.search(r"напишу вам сегодня в (\d\d):(\d\d)", done.stdout)
    due = int(promised[1]) * 60 + int(promised[2])
    at = re.match(r"\[\w{3} \d\d \w{3} (\d\d):(\d\d)\]", scheduled)
    assert (int(at[1]) * 60 + int(at[2]) - due) % (24 * 60) < 30
    started = re.match(r"\[\w{3} \d\d \w{3} (\d\d):(\d\d)\]", chat[0])
    assert (due - int(started[1]) * 60 - int(started[2])) % (24 * 60) >= 29


def test_followups_status_and_shell_read_the_demo_database_in_demo_time(tmp_path):
    demo = start_demo(tmp_path, "--no-admin", "--speed", "600")
    read_until(demo, "Type as the client")
    demo.stdin.write("напиши мне через 3 часа\n")
    demo.stdin.flush()
    read_until(demo, "[")  # the client's line
    read_until(demo, "[")  # the agent's
    time.sleep(1)
    running = manage(tmp_path, "followups_status", "--json")
    assert running.returncode == 0, running.stderr
    status = json.loads(running.stdout)
    assert status["counts"]["pending"]["follow_up"] == 1
    # demo time is ahead of the wall clock, and followups_status reads the demo's clock
    assert 0 <= status["dispatcher_heartbeat_age_s"] < 600
    demo.stdin.close()
    demo.terminate()
    assert demo.wait(timeout=30) == 0, demo.stderr.read()
    stopped = json.loads(manage(tmp_path, "followups_status", "--json").stdout)
    assert 0 <= stopped["dispatcher_heartbeat_age_s"] < 600
    shell = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.utils import timezone; from followups.models import ScheduledAction as S; "
        "a = S.objects.get(); print(a.status, (a.scheduled_for - timezone.now()).total_seconds())",
    )
    assert shell.returncode == 0, shell.stderr
    status, left = shell.stdout.split()[-2:]
    assert status == "pending"
    assert 0 < float(left) < 3 * 3600 - 60  # demo time went on past the promise's start


def test_an_english_speaking_client_gets_english_replies(tmp_path):
    done = run_demo(tmp_path, "Hi! Write to me in 30 minutes please\nok\n", "--speed", "2000")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "агент> Great, I'll write to you today at" in out
    assert "агент> Deal! 👍" in out
    assert "Hello! As agreed" in out  # the follow-up itself, in English
    assert "Отлично" not in out and "Здравствуйте" not in out


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hi! Write to me tomorrow", "en"),
        ("Hi", "en"),
        ("Привет! Напиши завтра", "ru"),
        ("Напиши мне in 2 hours", None),  # mixed: it does not say
        ("ок, ok", None),
        ("ок, thanks", "en"),  # three quarters Latin
        ("👍", None),
        ("15:00", None),
        ("Давай в 15:00, ok?", "ru"),
    ],
)
def test_detect_language(text, language):
    from bot.conversation import detect_language

    assert detect_language(text) == language


def test_a_known_client_switches_only_on_a_real_sentence():
    from bot.conversation import SWITCH_LETTERS, detect_language

    assert detect_language("ok thanks", min_letters=SWITCH_LETTERS) is None
    assert detect_language("Could you write tomorrow?", min_letters=SWITCH_LETTERS) == "en"


def test_demo_state_lives_beside_its_database_and_out_of_git(tmp_path):
    done = run_demo(tmp_path, "", "--speed", "600")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "demo.clock.json").exists()
    assert (tmp_path / "demo.log").exists()
    assert not (tmp_path / "demo.clock.json.tmp").exists()
    tracked = subprocess.run(
        ["git", "ls-files", "demo.clock.json", "demo.log", "demo.sqlite3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracked.stdout == ""
    ignored = subprocess.run(
        ["git", "check-ignore", "demo.clock.json", "demo.log", "demo.sqlite3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["demo.clock.json", "demo.log", "demo.sqlite3"]


def test_healthz_in_the_fast_demo_is_truthful(tmp_path):
    """Demo time runs 600× faster; the heartbeat's age is in real seconds (a pass every 0.2 s
    read 120 demo seconds old, past the limit), never negative, and the demo is healthy."""
    port = free_port()
    demo = start_demo(tmp_path, "--speed", "600", "--port", str(port))
    read_until(demo, "Type as the client")
    time.sleep(1)  # a few dispatcher passes
    ages = []
    for _ in range(5):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
            body = json.loads(response.read())
        assert body["ok"] is True, body
        ages.append(body["dispatcher_heartbeat_age_s"])
        time.sleep(0.3)
    demo.communicate("", timeout=60)
    assert all(0 <= age < 3 * 1 + 10 for age in ages), ages
