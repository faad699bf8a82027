"""One peer worker process: `python -m bench.peers.worker apscheduler|procrastinate`.

Imported by module name (never run as __main__), so that the task each engine stores is the
one its worker finds."""

import asyncio
import importlib
import sys

ENGINES = ("apscheduler", "procrastinate")

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ENGINES:
        sys.exit(f"usage: python -m bench.peers.worker {{{'|'.join(ENGINES)}}}")
    module = importlib.import_module(f"bench.peers.{sys.argv[1]}_peer")
    asyncio.run(module.worker())
