#!/usr/bin/env bash
# Run pytest with the clock of every process it starts (pytest itself, the product's workers and
# dispatchers in tests/faults, the demo) moved to a time of day in the client's zone
# (Asia/Makassar), the nearest such moment to now, e.g.
#
#   scripts/pytest_at_client_time.sh 02:30 -q
#   scripts/pytest_at_client_time.sh 23:30 tests/test_agent.py
#
# The clock ticks on from there. Only the wall clock moves (monotonic timers stay real), and
# PostgreSQL and RabbitMQ keep the real time. Tests pinned by the `clock` fixture are not
# affected by design; this checks that nothing else depends on the hour.
#
# Not Debian's `faketime`: its libfaketime (0.9.10) cannot run CPython 3.11. With the monotonic
# clock faked, every timed lock wait (threading.Event.wait(t), Thread.join(t): sem_clockwait,
# which it does not intercept) sleeps for decades; with FAKETIME_DONT_FAKE_MONOTONIC=1,
# time.sleep fails with EINVAL (it still shifts clock_nanosleep's monotonic deadline). The
# libfaketime built by the PyPI package `libfaketime` intercepts neither, so both work.
set -euo pipefail
at=${1:?usage: $0 HH:MM [pytest arguments]}
shift
cd "$(dirname "$0")/.."

offset=$(uv run --quiet python - "$at" <<'PY'
import sys
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

zone = ZoneInfo("Asia/Makassar")
wanted = time.fromisoformat(sys.argv[1])
now = datetime.now(zone)
moments = (datetime.combine(now.date() + timedelta(days=d), wanted, zone) for d in (-1, 0, 1))
nearest = min(moments, key=lambda moment: abs(moment - now))
print(f"{round((nearest - now).total_seconds()):+d}")
PY
)
lib=$(uv run --no-project --quiet --with libfaketime==3.0.1 python -c \
    'import libfaketime; print(libfaketime.get_reload_information()[1]["LD_LIBRARY_PATH"])')
echo "pytest at $at Asia/Makassar: the clock moved by $offset s" >&2
exec uv run env FAKETIME="$offset" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    LD_PRELOAD="$lib/libfaketime.so.1" pytest "$@"
