"""Every citation of the design resolves: "(docs/design.md, invariant N)" names an invariant
the file lists, and (docs/design.md, "Processes") one of its section headings. The design lives in
the repository; nothing cites a document that is not in it."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"
CITED = re.compile(r'docs/design\.md, (?:invariants? (\d+)|"([^"]+)")')
# Places the design used to live, outside the repository.
STALE = re.compile(r"\(DESIGN[,.) ]|DESIGN\.md|seed-plan|the issue asks|\(issue \d+")


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.html", "*.toml", "*.yml", ".ci/*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def flattened(text: str) -> str:
    """The text with line breaks and comment marks folded into spaces: a citation may wrap."""
    return re.sub(r"\s*\n\s*(?:#\s*)?", " ", text)


def design_parts() -> tuple[set[int], set[str]]:
    text = DESIGN.read_text()
    invariants = text.split("## Invariants", 1)[1].split("\n## ", 1)[0]
    numbers = {int(n) for n in re.findall(r"^(\d+)\. \*\*", invariants, re.MULTILINE)}
    sections = set(re.findall(r"^## (.+)$", text, re.MULTILINE))
    return numbers, sections


def test_design_lists_seven_invariants_and_its_sections():
    numbers, sections = design_parts()
    assert numbers == set(range(1, 8))
    assert {"Processes", "Invariants", "Precision and capacity", "Where things live"} <= sections


def test_every_citation_resolves():
    numbers, sections = design_parts()
    cited, unresolved = 0, []
    for path in tracked_text_files():
        for match in CITED.finditer(flattened(path.read_text(errors="replace"))):
            cited += 1
            number, section = match.groups()
            if (number and int(number) not in numbers) or (section and section not in sections):
                unresolved.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert cited >= 10, "the citations were not found: has the form changed?"
    assert not unresolved


def test_nothing_cites_a_design_outside_the_repository():
    stale = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in tracked_text_files()
        if path.name != Path(__file__).name
        for match in STALE.finditer(path.read_text(errors="replace"))
    ]
    assert not stale
