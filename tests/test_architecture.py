"""The import graph runs one way (pyproject.toml, [tool.importlinter]): no cycle among the
modules of followups, its resolver and bot; commands → services/dispatcher/delivery → publishing
→ transitions → models; followups never imports bot (docs/design.md, "Where things live")."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workers_and_dispatcher_do_not_load_the_resolver():
    """The resolver's grammar costs each process about 8 MiB; only the bot and the resolve_time
    command use it. A worker imports the apps' actors modules, the dispatcher its own module."""
    probe = (
        "import sys, django; django.setup(); "
        "import followups.actors, followups.dispatcher, followups.delivery; "
        "print(sorted(m for m in sys.modules if m.startswith('followups.timeresolver')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "DJANGO_DEBUG": "true"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
