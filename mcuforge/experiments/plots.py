"""Render the plots dvc.yaml declares to PNG or SVG files, offline.

    mcuforge plots [--out DIR] [--format png|svg] [--plot ID ...] [--experiments] [REV ...]

`dvc plots show`'s HTML loads Vega from a CDN and renders blank offline. This asks DVC for the
filled Vega-Lite specs (`dvc plots show --json` for the workspace, `dvc plots diff --json REV...`
to overlay revisions: commits, branches, experiment names; as in `dvc plots diff`, a single REV
is drawn beside the workspace) and renders each with vl-convert, which bundles Vega, to
DIR/<plot id>.<format>. `--experiments` overlays HEAD and every experiment based on it
(`dvc exp list --name-only`): one point per experiment in accuracy_vs_flash. Run from the
repository root. A plot whose data is missing in some revision is rendered from the
others with a warning; no data at all is an error naming the missing files.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from mcuforge import atomic
from mcuforge.experiments.dvc_cli import run_dvc
from mcuforge.errors import McuforgeError

FORMATS = ("png", "svg")


def dvc_stdout(args: list[str]) -> str:
    """stdout of `dvc <args>` (this interpreter's) in the current directory, or an error."""
    return run_dvc(args, Path.cwd()).stdout


def head_name() -> str:
    """HEAD's branch name, or its short hash when detached."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise McuforgeError(f"`git {' '.join(args)}` failed in {Path.cwd()}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return branch if branch != "HEAD" else git("rev-parse", "--short", "HEAD")


def experiment_revs() -> list[str]:
    """HEAD (by branch name when on one) and the names of the experiments based on it."""
    names = dvc_stdout(["exp", "list", "--name-only"]).split()
    if not names:
        raise McuforgeError("no experiments based on HEAD: run some first, e.g. "
                            "`dvc exp run -S prune.keep=0.3` (`dvc exp show` lists them)")
    return [head_name(), *names]


def filled_specs(revs: list[str], plot_ids: list[str]) -> dict[str, dict]:
    """{plot id: self-contained Vega-Lite spec} for the workspace (no revs) or an overlay of revs."""
    if revs:
        args = ["plots", "diff", "--json", *revs] + (["--targets", *plot_ids] if plot_ids else [])
    else:
        args = ["plots", "show", "--json", *plot_ids]
    answer = json.loads(dvc_stdout(args) or "{}")
    specs = {plot_id: entry["content"] for plot_id, entries in answer.get("data", {}).items()
             for entry in entries if entry.get("type") == "vega" and entry.get("content")}
    problems = sorted({f"{e.get('source') or e.get('name')} ({e.get('rev')}: {e.get('type')})"
                       for e in answer.get("errors", [])})
    for plot_id, entries in answer.get("data", {}).items():
        for entry in entries:
            if entry.get("type") != "vega":
                print(f"warning: plot {plot_id} is a {entry.get('type')} plot, not Vega-Lite: not rendered",
                      file=sys.stderr)
    where = " ".join(revs) or "the workspace"
    if not specs:
        missing = "; ".join(problems) or f"no plots declared{' named ' + ' '.join(plot_ids) if plot_ids else ''}"
        raise McuforgeError(f"no plot data in {where}: {missing}. Run `dvc repro` (or `dvc exp run`) first so "
                            "the stages write reports/plots/, or check the plot ids in dvc.yaml's plots:")
    for problem in problems:
        print(f"warning: plot data missing: {problem}; rendered from the rest", file=sys.stderr)
    return specs


def render(spec: dict, fmt: str, scale: float) -> bytes:
    """The spec as PNG or SVG bytes, with the newest bundled Vega-Lite of the spec's major version."""
    import vl_convert

    match = re.search(r"vega-lite/v(\d+)", spec.get("$schema", ""))
    major = match.group(1) if match else "5"  # DVC's templates are Vega-Lite 5
    versions = [v for v in vl_convert.get_vegalite_versions() if v.split(".")[0] == major]
    if not versions:
        raise McuforgeError(f"vl-convert bundles no Vega-Lite {major}.x (has "
                            f"{', '.join(vl_convert.get_vegalite_versions())}); pin a vl-convert-python that does")
    version = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec, vl_version=version).encode("utf-8")
    return vl_convert.vegalite_to_png(spec, vl_version=version, scale=scale)


def file_name(plot_id: str, fmt: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", plot_id).strip("_.") + f".{fmt}"


def render_plots(out: Path, fmt: str, revs: list[str], plot_ids: list[str], scale: float = 2.0) -> list[Path]:
    if fmt not in FORMATS:
        raise McuforgeError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not scale > 0:
        raise McuforgeError(f"--scale {scale}: must be > 0 (PNG pixels per CSS pixel)")
    written = []
    for plot_id, spec in sorted(filled_specs(revs, plot_ids).items()):
        path = Path(out) / file_name(plot_id, fmt)
        atomic.write_bytes(path, render(spec, fmt, scale))
        written.append(path)
    return written


def plot_files(revs: list[str], out: Path, fmt: str = "png", plot_ids: list[str] = (),
               experiments: bool = False, scale: float = 2.0) -> list[Path]:
    """Render the declared plots of revs (or of HEAD and its experiments) into out; the files written."""
    if experiments and revs:
        raise McuforgeError("give either --experiments or REVs, not both")
    return render_plots(Path(out), fmt, experiment_revs() if experiments else list(revs), list(plot_ids), scale)
