"""What the two looping commands share: `reconcile --watch` (the dispatcher) and
`alerts --watch` (a process of its own, so that it can tell of the dispatcher's death)."""

import logging
import math
import signal
import threading

from django.core.management.base import CommandError

log = logging.getLogger(__name__)


def add_watch_arguments(parser, between: str, default_setting: str) -> None:
    parser.add_argument("--watch", action="store_true", help="Repeat until stopped.")
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help=f"Seconds between {between} with --watch (default {default_setting}).",
    )


def interval_or_default(interval: float | None, default: float) -> float:
    """The --interval given, or the setting's; a clear error for zero, negative, NaN or
    infinite seconds."""
    interval = default if interval is None else interval
    if not (interval > 0 and math.isfinite(interval)):
        raise CommandError("--interval must be a positive number of seconds")
    return interval


def stop_on_signals(name: str) -> threading.Event:
    """An event set by SIGTERM or SIGINT. Install it before the first pass, so a deploy's
    SIGTERM is clean even at startup."""
    stop = threading.Event()

    def request_stop(signum, frame):
        log.info("%s stopping on signal %s", name, signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
