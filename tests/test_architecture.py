"""The import graph runs one way (pyproject.toml, [tool.importlinter]): no cycle among the
modules of followups, its resolver and bot; commands → services/dispatcher/delivery → publishing
→ transitions → models; followups never imports bot (docs/design.md, "Where things live")."""

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
