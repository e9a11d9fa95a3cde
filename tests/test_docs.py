"""The documentation: the MkDocs site builds with `--strict` and loads nothing from the network;
the README stays short, keeps the two commands, and links to every page of the site."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250
README_COMMANDS = (
    "bash scripts/setup.sh && . .venv/bin/activate && dvc repro",
    "bash scripts/setup.sh && .venv/bin/python -m pytest",
)
# Markdown links and images: [text](target) / ![alt](target); the target ends at a space or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
# Tags whose URL attribute the browser fetches while rendering the page (an <a href> is not fetched).
FETCHED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
           ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}


def nav_pages() -> list[str]:
    """Every page path (relative to docs/) in mkdocs.yml's nav, in order."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages: list[str] = []

    def walk(node) -> None:
        if isinstance(node, str):
            pages.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    return pages


def built_html(site: Path, page: str) -> Path:
    """Where mkdocs (use_directory_urls) writes docs/<page>: a/b.md -> a/b/index.html, a/index.md -> a/index.html."""
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / f"{stem}.html"
    return site / stem / "index.html"


class FetchedUrls(HTMLParser):
    """The URLs a browser would fetch to render a page: scripts, stylesheets, fonts, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if (tag, name) in FETCHED and value:
                self.urls.append(value)
            if name == "style" and value:
                self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", value)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                          str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def test_site_builds_every_nav_page(site):
    missing = [page for page in nav_pages() if not built_html(site, page).is_file()]
    assert not missing, f"nav pages without a built page: {missing}"
    assert (site / "search" / "search_index.json").is_file(), "the search index is built into the site"


def test_site_loads_nothing_from_the_network(site):
    remote = []
    for html in sorted(site.rglob("*.html")):
        text = html.read_text(encoding="utf-8")
        parser = FetchedUrls()
        parser.feed(text)
        remote += [f"{html.relative_to(site)}: {url}" for url in parser.urls if EXTERNAL.match(url)]
        remote += [f"{html.relative_to(site)}: inline @import {url}"
                   for url in re.findall(r"@import\s+(?:url\()?['\"]?((?:https?:)?//[^'\")]+)", text)]
    for css in sorted(site.rglob("*.css")):
        remote += [f"{css.relative_to(site)}: {url}" for url in
                   re.findall(r"url\(\s*['\"]?((?:https?:)?//[^'\")]+)", css.read_text(encoding="utf-8"))]
    for path in sorted(site.rglob("*")):
        if path.suffix in {".html", ".css", ".js"}:
            text = path.read_text(encoding="utf-8")
            remote += [f"{path.relative_to(site)}: {host}" for host in
                       ("fonts.googleapis.com", "fonts.gstatic.com") if host in text]
    assert not remote, "the site must render offline (theme.font: false, no CDN scripts):\n" + "\n".join(remote)


def test_readme_is_short_and_keeps_the_two_commands():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move detail to docs/"
    for command in README_COMMANDS:
        assert command in (line.strip() for line in lines), f"README.md lost the command line `{command}`"


def test_readme_links_resolve_and_reach_every_page(site):
    targets = [t for t in LINK.findall(README.read_text(encoding="utf-8"))
               if not EXTERNAL.match(t) and not t.startswith(("#", "mailto:"))]
    broken, linked_pages = [], set()
    for target in targets:
        path, _, anchor = target.partition("#")
        if not (ROOT / path).exists():
            broken.append(f"{target}: {path} does not exist")
            continue
        if path.startswith("docs/") and path.endswith(".md"):
            page = path[len("docs/"):]
            linked_pages.add(page)
            html = built_html(site, page)
            if not html.is_file():
                broken.append(f"{target}: no built page (is {page} in mkdocs.yml's nav?)")
            elif anchor and f'id="{anchor}"' not in html.read_text(encoding="utf-8"):
                broken.append(f"{target}: no heading with id {anchor!r} on that page")
    assert not broken, "README.md links:\n" + "\n".join(broken)
    unlinked = [page for page in nav_pages() if page != "index.md" and page not in linked_pages]
    assert not unlinked, f"README.md links to no docs page for: {unlinked}"


@pytest.mark.parametrize("page", nav_pages())
def test_page_starts_by_saying_what_it_is_for(page):
    """No page is a dump: a title, then a paragraph of prose before any table, code, list or section."""
    assert (DOCS / page).is_file(), f"mkdocs.yml's nav names docs/{page}, which does not exist"
    blocks = [b.strip() for b in re.split(r"\n\s*\n", (DOCS / page).read_text(encoding="utf-8")) if b.strip()]
    blocks = [b for b in blocks if not b.startswith("<!--")]
    assert blocks and blocks[0].startswith("# "), f"docs/{page} must start with a `# Title`"
    assert len(blocks) > 1, f"docs/{page} has a title and nothing else"
    intro = blocks[1]
    assert not intro.startswith(("#", "|", "```", "- ", "* ", "1. ", "!", "<")), \
        f"docs/{page}: the first block after the title must be a paragraph saying what the page is for"
    assert len(intro.split()) >= 12, f"docs/{page}: the opening paragraph is too short to say what the page is for"


# --- the measured tables: written from the committed reports, never by hand --------------------------

def committed_copy(dest: Path) -> Path:
    """The git-committed README, docs, reports and params.yaml only (what CI has without a `dvc repro`)."""
    files = subprocess.run(["git", "ls-files", "README.md", "docs", "reports", "params.yaml"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_bytes((ROOT / rel).read_bytes())
    return dest


def test_generated_tables_match_the_committed_reports(tmp_path):
    """Every marked table equals what the committed reports say (`mcuforge docs-tables` rewrites them),
    checked on the git-committed files alone, so the reports need no `dvc repro`; the working tree agrees too."""
    from mcuforge.experiments.docs_tables import update

    update(committed_copy(tmp_path), check=True)
    update(ROOT, check=True)


def test_every_generated_table_is_in_the_docs_once():
    from mcuforge.experiments.docs_tables import OPEN, doc_files
    from mcuforge.experiments.docs_table_specs import TABLES

    names = [m.group("name") for path in doc_files(ROOT) if path.is_file()
             for m in OPEN.finditer(path.read_text(encoding="utf-8"))]
    assert sorted(names) == sorted(TABLES), f"generated tables in the docs {sorted(names)} != renderers {sorted(TABLES)}"
    readme = README.read_text(encoding="utf-8")
    assert "<!-- mcuforge:table results -->" in readme, "README.md lost its generated results table"


@pytest.mark.parametrize("report, key, value, page", [
    ("verify.json", ("logits_exact",), 2029, "README.md"),
    ("firmware.json", ("qemu", "instructions_per_inference"), 1, "docs/getting-started/index.md"),
    ("bench_crossval.json", ("int8_accuracy_std",), 0.5, "docs/benchmarks.md"),
])
def test_a_changed_report_makes_the_check_fail(tmp_path, report, key, value, page):
    """The check has teeth: a report that moves without the docs is an error naming the page."""
    import json

    from mcuforge.errors import McuforgeError
    from mcuforge.experiments.docs_tables import update

    root = committed_copy(tmp_path)
    path = root / "reports" / report
    data = json.loads(path.read_text(encoding="utf-8"))
    node = data
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(McuforgeError, match=re.escape(page)):
        update(root, check=True)
    assert update(root) and update(root, check=True) == [], "rewriting the tables makes them agree again"


def test_testing_page_lists_every_test_file():
    """docs/testing.md says what each test file checks: a new file without its row fails here."""
    page = (DOCS / "testing.md").read_text()
    unlisted = [p.name for p in sorted((ROOT / "tests").glob("test_*.py")) if f"| `{p.name}` |" not in page]
    assert not unlisted, f"docs/testing.md: add a row to 'What each file checks' for {unlisted}"
