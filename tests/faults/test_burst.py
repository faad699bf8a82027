"""A burst: follow-ups due the same second, with the per-account send rate cap on.

1,000 at 100 sends/s (6,000 a minute): binding (the pipeline alone drains 1,000 in about a
second) yet quick to test. All go out once, none dropped, and never faster than the cap. The
bounds are loose on purpose: a slow machine only spreads the sends further apart.

Then the same with both workers killed mid-burst and kept down for a while: the actions that
were holding send slots which passed meanwhile must still go out under the cap.
"""

import time
from bisect import bisect_left
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from followups.models import ActionStatus
from tests.faults.accounting import settle
from tests.faults.scenario import make_prospects, store_follow_ups

pytestmark = pytest.mark.services

WINDOW = timedelta(seconds=2)


def busiest_window(times: list[datetime], window: timedelta) -> int:
    """The most sends within any `window` (times sorted)."""
    return max(bisect_left(times, t + window) - i for i, t in enumerate(times))


@pytest.mark.parametrize(
    "burst, per_second, workers_down_s",
    [
        pytest.param(1000, 100, 0, id="1000_at_100_per_s"),
        # Deferred actions hold send slots that pass while the workers are down: they must
        # not all go at once when the workers come back.
        pytest.param(100, 10, 4, id="100_at_10_per_s_workers_down_mid_burst"),
    ],
)
def test_burst_due_the_same_second_under_the_rate_cap(
    cluster, telegram, report, burst, per_second, workers_down_s
):
    cluster.env["FOLLOWUPS_SEND_RATE_PER_MINUTE"] = str(per_second * 60)
    cluster.env["FOLLOWUPS_REQUEUE_AFTER_S"] = "60"  # waiting for a send slot is not a loss
    workers = [cluster.worker(), cluster.worker()]
    cluster.dispatcher()
    cluster.wait_ready()
    second = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    due = [second + timedelta(microseconds=500 * i) for i in range(burst)]
    store_follow_ups(make_prospects(burst), due)
    if workers_down_s:
        time.sleep(5)  # 2 s into the burst: most actions wait, holding their send slots
        for worker in workers:
            worker.kill(down_for=workers_down_s)

    account = settle(telegram, timeout=90, on_timeout=cluster.log_tails)

    sent = sorted(d.sent_at for d in telegram.deliveries().values())
    span = (sent[-1] - sent[0]).total_seconds()
    busiest = busiest_window(sent, WINDOW)
    outage = f"; both workers killed 2 s in, down {workers_down_s} s" if workers_down_s else ""
    report(
        f"{burst} follow-ups due the same second; cap {per_second}/s{outage}",
        account,
        f"sent over {span:.1f} s; busiest {WINDOW.seconds} s: {busiest} sends "
        f"(cap {per_second * WINDOW.seconds})",
    )
    assert account.problems == []
    assert account.statuses == {ActionStatus.EXECUTED: burst}
    # Never faster than the cap: slots are 1/per_second apart, and nobody sends before theirs.
    assert span >= (burst - 1) / per_second - 1
    assert busiest <= 2 * per_second * WINDOW.seconds
