"""The measured tables of README.md and docs/*.md, written from the committed reports between markers.

    <!-- mcuforge:table NAME -->
    ...generated, do not edit: `mcuforge docs-tables` rewrites it...
    <!-- /mcuforge:table -->

    update(root)               # rewrite every marked table from reports/*.json; the files changed
    update(root, check=True)   # change nothing; McuforgeError naming every table that disagrees

Only git-committed metrics are read (reports/{train,distill,prune,quantize,codegen,verify,firmware}.json,
reports/bench_{crossval,codegen}.json and params.yaml), so the check runs without a `dvc repro`.
The renderers are in mcuforge.experiments.docs_table_specs.
"""
from __future__ import annotations

import re
from pathlib import Path

from mcuforge import atomic
from mcuforge.errors import McuforgeError
from mcuforge.experiments.docs_table_specs import TABLES, Reports

# A marker is a line of its own (a marker quoted inside text or code is not one).
BLOCK = re.compile(r"^(<!-- mcuforge:table (?P<name>[\w-]+) -->\n)(?P<body>.*?)^(<!-- /mcuforge:table -->)$",
                   re.DOTALL | re.MULTILINE)
OPEN = re.compile(r"^<!-- mcuforge:table (?P<name>\S*) -->$", re.MULTILINE)


def doc_files(root: Path) -> list[Path]:
    """README.md and every page under docs/ that may hold generated tables."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def render_file(path: Path, reports: Reports, root: Path) -> tuple[str, list[str]]:
    """The file's text with every marked block regenerated, and the names of the blocks that changed."""
    text = path.read_text(encoding="utf-8")
    rel = path.relative_to(root)
    opened = [m.group("name") for m in OPEN.finditer(text)]
    found = [m.group("name") for m in BLOCK.finditer(text)]
    if opened != found:
        raise McuforgeError(f"{rel}: a `<!-- mcuforge:table NAME -->` marker without its closing "
                            f"`<!-- /mcuforge:table -->` (opened {opened}, closed {found}): add the closing marker")
    unknown = [name for name in found if name not in TABLES]
    if unknown:
        raise McuforgeError(f"{rel}: unknown generated table(s) {unknown}; known: {sorted(TABLES)} "
                            "(add a renderer in mcuforge/experiments/docs_table_specs.py or fix the name)")

    changed: list[str] = []

    def fill(match: re.Match) -> str:
        body = TABLES[match.group("name")](reports).rstrip("\n") + "\n"
        if body != match.group("body"):
            changed.append(match.group("name"))
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(fill, text), changed


def update(root: Path | str = ".", check: bool = False) -> list[str]:
    """Regenerate every marked table (or, with check, only compare). Returns the files that differ."""
    root = Path(root)
    reports = Reports(root)
    differ: list[str] = []
    for path in doc_files(root):
        if not path.is_file():
            continue
        new, names = render_file(path, reports, root)
        if names:
            differ.append(f"{path.relative_to(root)} ({', '.join(names)})")
            if not check:
                atomic.write_text(path, new)
    if check and differ:
        raise McuforgeError(f"generated tables disagree with the reports in: {'; '.join(differ)}: "
                            "run `mcuforge docs-tables` and commit the result")
    return differ
