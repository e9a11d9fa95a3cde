"""Plots: the arena timeline and fit rows the stages write, and `mcuforge plots` rendering
what real `dvc plots show/diff` fill, offline, to SVG/PNG: in a tiny git+dvc repo (a trivial stage,
two experiments) and with the project's own dvc.yaml and templates on the plot files of a real
codegen (and firmware) run on the shipped conv1d benchmark model."""
from __future__ import annotations

import csv
import html
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, tool_env
from dvc_repo import commit, run
from mcuforge.firmware.fit_plot import COLUMNS as FIT_COLUMNS, fit_row
from test_codegen_stage import bench_model  # noqa: F401  (fixture of base)
from test_firmware_stage import base, needs_tools, run_firmware  # noqa: F401  (fixture)

BUDGET_COLOR = "#c0392b"  # .dvc/plots/fit_budget.json's rule
# The tiny stage: a fit row through the real writer, from params (size -> flash, budget -> board).
TINY_STAGE = """
import yaml
from mcuforge.atomic import write_csv
from mcuforge.firmware.fit_plot import write_fit_plot
p = yaml.safe_load(open("params.yaml"))
write_fit_plot("reports/plots/fit.csv", {"flash_bytes": 1000 * p["size"], "ram_bytes": 100, "stack_bytes": 10,
               "qemu": {"device_accuracy": 0.5 + 0.1 * p["size"]}, "flash_budget": p["budget"],
               "ram_budget": 900, "board": f"board{p['budget']}", "cpu": "cortex-m4"})
write_csv("reports/plots/history.csv", ("epoch", "accuracy"), [{"epoch": 1, "accuracy": 0.25},
          {"epoch": 2, "accuracy": 0.75}])
"""


def project_plot(plot_id: str) -> dict:
    """One entry of the project's dvc.yaml `plots:` list, as declared."""
    entries = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    return next(entry for entry in entries if plot_id in entry)


def render(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcuforge.cli", "plots", *args], cwd=repo, env=tool_env(),
                          capture_output=True, text=True, timeout=300)


def rendered(repo: Path, *args: str) -> str:
    proc = render(repo, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def svg_texts(path: Path) -> list[str]:
    return [html.unescape(re.sub(r"\s+", " ", t)) for t in re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text())]


def dvc_init(repo: Path) -> None:
    """git + dvc in `repo` with the project's custom plot templates."""
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    shutil.copytree(ROOT / ".dvc/plots", repo / ".dvc/plots")


def make_tiny_repo(repo: Path) -> Path:
    dvc_init(repo)
    (repo / "write_plots.py").write_text(TINY_STAGE)
    (repo / "params.yaml").write_text("size: 1\nbudget: 5000\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump({
        "stages": {"tiny": {"cmd": "python write_plots.py", "deps": ["write_plots.py"], "params": ["size", "budget"],
                            "outs": [{"reports/plots/fit.csv": {"cache": False}},
                                     {"reports/plots/history.csv": {"cache": False}}]}},
        "plots": [project_plot("accuracy_vs_flash"),
                  {"history": {"template": "linear", "x": "epoch", "y": {"reports/plots/history.csv": "accuracy"}}}],
    }, sort_keys=False))
    commit(repo, "tiny")
    return repo


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> Path:
    repo = make_tiny_repo(tmp_path_factory.mktemp("plots-tiny"))
    run(["dvc", "repro"], repo)
    commit(repo, "repro")
    return repo


def test_no_plot_data_and_no_experiments_are_clear_errors(tmp_path):
    repo = make_tiny_repo(tmp_path)
    proc = render(repo)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no plot data in the workspace: ")
    assert "reports/plots/fit.csv" in proc.stderr and "dvc repro" in proc.stderr
    assert not (repo / "dvc_plots").exists()
    proc = render(repo, "--experiments")
    assert proc.returncode == 2 and "no experiments based on HEAD" in proc.stderr


def test_workspace_plots_render_to_svg_with_axes_data_and_budget_rule(tiny_repo):
    out = rendered(tiny_repo, "--format", "svg", "--out", "svg")
    assert out.split() == ["svg/accuracy_vs_flash.svg", "svg/history.svg"]
    fit = svg_texts(tiny_repo / "svg/accuracy_vs_flash.svg")
    assert {"Accuracy on the device vs flash", "flash (bytes, log scale)", "test accuracy on the device (QEMU)",
            "board5000 flash budget 5,000 B", "workspace"} <= set(fit)
    assert "0.60" in fit  # the point's accuracy (0.5 + 0.1 * size) is on the y axis
    assert f'stroke="{BUDGET_COLOR}"' in (tiny_repo / "svg/accuracy_vs_flash.svg").read_text()
    history = svg_texts(tiny_repo / "svg/history.svg")
    assert {"epoch", "history"} <= set(history)


def test_png_is_a_real_image_at_the_requested_scale(tiny_repo):
    rendered(tiny_repo, "--plot", "accuracy_vs_flash", "--out", "png1", "--scale", "1")
    rendered(tiny_repo, "--plot", "accuracy_vs_flash", "--out", "png2")
    sizes = {}
    for folder in ("png1", "png2"):
        data = (tiny_repo / folder / "accuracy_vs_flash.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
        sizes[folder] = struct.unpack(">II", data[16:24])
        assert sorted(p.name for p in (tiny_repo / folder).iterdir()) == ["accuracy_vs_flash.png"]
    assert sizes["png1"][0] > 300 and sizes["png2"] == (2 * sizes["png1"][0], 2 * sizes["png1"][1])


def test_experiments_overlay_one_point_per_experiment_with_each_budget(tiny_repo, tmp_path):
    # `dvc exp run` leaves its params and outputs in the workspace: on a copy, so the workspace plot
    # test sees budget 5000 in any order
    tiny_repo = Path(shutil.copytree(tiny_repo, tmp_path / "repo", symlinks=True))
    run(["dvc", "exp", "run", "-S", "size=3", "-S", "budget=8000", "--name", "bigger-board"], tiny_repo)
    branch = run(["git", "rev-parse", "--abbrev-ref", "HEAD"], tiny_repo).strip()
    rendered(tiny_repo, "--experiments", "--plot", "accuracy_vs_flash", "--format", "svg", "--out", "exps")
    texts = set(svg_texts(tiny_repo / "exps/accuracy_vs_flash.svg"))
    assert {branch, "bigger-board"} <= texts  # the legend: one entry per revision
    assert {"board5000 flash budget 5,000 B", "board8000 flash budget 8,000 B"} <= texts  # a rule per budget
    assert {"0.60", "0.80"} <= texts  # both points' accuracies are within the y axis
    # explicit revisions: those, without the workspace (`dvc plots diff` adds it only to a single REV)
    rendered(tiny_repo, branch, "bigger-board", "--plot", "accuracy_vs_flash", "--format", "svg", "--out", "revs")
    texts = set(svg_texts(tiny_repo / "revs/accuracy_vs_flash.svg"))
    assert {branch, "bigger-board"} <= texts and "workspace" not in texts


def test_fit_row_of_a_board_without_an_image_has_empty_sizes():
    report = {"board": "esp32", "cpu": "xtensa-lx6", "flash_bytes": None, "ram_bytes": None, "stack_bytes": None,
              "flash_budget": 4_000_000, "ram_budget": 300_000, "qemu": None}
    row = fit_row(report)
    assert tuple(row) == FIT_COLUMNS
    assert row["flash_bytes"] is None and row["accuracy"] is None and row["flash_budget"] == 4_000_000


# --- the project's dvc.yaml and templates on real stage outputs ---------------------------------

@pytest.fixture(scope="module")
def codegen_repo(base) -> Path:  # noqa: F811
    """`base` (the real codegen stage run on the conv1d model) as a git+dvc repo with the project's dvc.yaml."""
    dvc_init(base)
    shutil.copy(ROOT / "dvc.yaml", base / "dvc.yaml")
    commit(base, "codegen")
    return base


def timeline(root: Path) -> list[dict]:
    with open(root / "reports/plots/arena_timeline.csv", newline="") as f:
        return [{k: (v if k in ("tensor", "written_by") else int(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]


def test_arena_timeline_is_the_planned_arena(codegen_repo):
    rows = timeline(codegen_repo)
    report = json.loads((codegen_repo / "reports/codegen.json").read_text())
    assert max(r["offset"] + r["bytes"] for r in rows) == report["arena_bytes"]
    steps = range(max(r["step_last"] for r in rows) + 1)
    live = [[r for r in rows if r["step_first"] <= s <= r["step_last"]] for s in steps]
    assert max(sum(r["bytes"] for r in at) for at in live) == report["arena_lower_bound"]
    for s, at in enumerate(live):
        # buffers live at the same step share bytes only as a proven in-place step: the step's
        # input, dying at s, and its output, born at s (mcuforge.codegen.inplace)
        for a in at:
            for b in at:
                overlap = a is not b and a["offset"] < b["offset"] + b["bytes"] and b["offset"] < a["offset"] + a["bytes"]
                if overlap and a["step_last"] == s:
                    assert b["step_first"] == s and report["arena_inplace_steps"] >= 1, (s, a, b)
    assert sum(r["written_by"] == "input" for r in rows) == 1  # the model input, copied in before step 0
    # the generated C's layout comment (offset, bytes, live steps) lists the same buffers
    source = (codegen_repo / "firmware/generated/model.c").read_text()
    comment = {(int(o), int(b), int(a), int(z)) for o, b, a, z in
               re.findall(r"^ \*\s+(\d+)\s+(\d+)\s+steps (\d+)-(\d+)", source, re.M)}
    assert comment == {(r["offset"], r["bytes"], r["step_first"], r["step_last"]) for r in rows}


def test_project_arena_plot_renders_offline(codegen_repo):
    proc = render(codegen_repo, "--format", "svg", "--out", "svg")
    assert proc.returncode == 0, proc.stderr
    # the training curves and the confusion matrix have no data here: warned, the rest rendered
    assert "warning: plot data missing: reports/plots/train_history.csv" in proc.stderr
    assert "svg/arena_timeline.svg" in proc.stdout.split()
    texts = set(svg_texts(codegen_repo / "svg/arena_timeline.svg"))
    report = json.loads((codegen_repo / "reports/codegen.json").read_text())
    assert {"Arena plan (native codegen)", "kernel step", "arena offset (bytes)",
            f"arena {report['arena_bytes']:,} B"} <= texts
    assert {f"{r['written_by']} -> {r['tensor']}" for r in timeline(codegen_repo)} <= texts  # the legend
    rendered(codegen_repo, "--plot", "arena_timeline", "--out", "png")
    assert (codegen_repo / "png/arena_timeline.png").read_bytes()[:4] == b"\x89PNG"


@needs_tools
def test_project_fit_plot_from_a_real_firmware_run(codegen_repo):
    proc = run_firmware(codegen_repo)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((codegen_repo / "reports/firmware.json").read_text())
    with open(codegen_repo / "reports/plots/fit.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row == {k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v))
                   for k, v in fit_row(report).items()}
    assert int(row["flash_bytes"]) == report["flash_bytes"] and float(row["accuracy"]) == pytest.approx(
        report["qemu"]["device_accuracy"], abs=1e-6)
    rendered(codegen_repo, "--plot", "accuracy_vs_flash", "--format", "svg", "--out", "fit")
    svg = codegen_repo / "fit/accuracy_vs_flash.svg"
    assert f"{report['board']} flash budget {report['flash_budget']:,} B" in svg_texts(svg)
    assert f'stroke="{BUDGET_COLOR}"' in svg.read_text()
