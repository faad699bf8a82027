"""Rewrite [tool.uv] constraint-dependencies in pyproject.toml with the exact versions uv
resolved: the project's lock, free of any package index address (uv.lock stays out of git).

Upgrade:  delete the constraint-dependencies block, `uv lock --upgrade`, then
          `uv run python scripts/pin_versions.py` and commit pyproject.toml.
"""

import re
import subprocess
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
BLOCK = re.compile(r"constraint-dependencies = \[\n(?:    .*\n)*\]\n")


def resolved() -> list[str]:
    out = subprocess.run(
        ["uv", "export", "--all-groups", "--no-hashes", "--no-emit-project", "--frozen"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = {line.split(";")[0].strip() for line in out.splitlines() if re.match(r"^[A-Za-z]", line)}
    return sorted(pins, key=str.lower)


def main() -> None:
    text = PYPROJECT.read_text()
    block = "constraint-dependencies = [\n" + "".join(f'    "{p}",\n' for p in resolved()) + "]\n"
    if BLOCK.search(text):
        text = BLOCK.sub(block, text)
    else:
        text = text.replace("[tool.uv]\n", "[tool.uv]\n" + block, 1)
    PYPROJECT.write_text(text)
    print(f"pinned {block.count('==')} packages in {PYPROJECT.name}")


if __name__ == "__main__":
    main()
