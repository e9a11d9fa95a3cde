"""Sweeps as DVC experiments on a tiny config: the Hydra/joblib entry point, DVC's own sweep syntax,
`dvc exp show --json`, best under budget checked by hand, and `--apply`."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from dvc_repo import clone_built, dvc_env, run
from mcuforge.firmware.budgets import budgets
from mcuforge.experiments.runs import experiment_rows, flatten

pytestmark = pytest.mark.slow

KEEPS = (0.5, 0.8)
SWEPT_BOARD = "nrf52840dk"        # through mcuforge.experiments.sweep (Hydra multirun, joblib launcher)
QUEUED_BOARD = "qemu_cortex_m3"   # through `dvc exp run --queue -S 'prune.keep=choice(...)'`
UPSTREAM = ("ingest", "split", "features", "train", "distill")
DOWNSTREAM = ("prune", "quantize", "codegen", "verify")   # the same for every board


def job_logs(repo: Path, rows: list) -> dict[str, str]:
    """Experiment name -> dvc's output: the sweep's per-job records, `dvc queue logs` for queued ones."""
    records = [json.loads(p.read_text()) for p in (repo / ".dvc/tmp/sweeps").rglob("experiment.json")]
    logs = {r["name"]: Path(r["log"]).read_text() for r in records}
    for row in rows:
        if row.kind == "experiment" and row.name not in logs:
            logs[row.name] = run(["dvc", "queue", "logs", row.name], repo)
    return logs


def run_all_queued(repo: Path, timeout: float = 1800) -> None:
    """`dvc exp run --run-all -j 2` with its output in a file, then any queue worker still alive killed.
    DVC's queue workers are daemons that inherit the caller's stdout; dvc 3.67's celery queue can
    leave one behind (its monitor saw an empty queue while the worker's task still ran: the task
    succeeded, the worker never exited -- seen once in six CI runs here), and it would hold a
    captured pipe open forever."""
    log = repo / ".dvc/tmp/run-all.log"
    with log.open("w") as out:
        proc = subprocess.run(["dvc", "exp", "run", "--run-all", "-j", "2"], cwd=repo, env=dvc_env(),
                              stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout)
    assert proc.returncode == 0, log.read_text()[-3000:]
    for cwd_link in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd_link.resolve() == repo.resolve() and b"dvc" in (cwd_link.parent / "cmdline").read_bytes():
                os.kill(int(cwd_link.parent.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read


@pytest.fixture(scope="module")
def swept(tiny_repo, tmp_path_factory) -> dict:
    repo = clone_built(tiny_repo, tmp_path_factory.mktemp("experiments") / "repo")
    timings = {}
    # SWEPT_BOARD runs prune and what follows; QUEUED_BOARD restores what the run-cache holds
    started = time.monotonic()
    sweep_output = run(["python", "-m", "mcuforge.cli", "sweep", "--multirun", f"board={SWEPT_BOARD}",
                 f"prune.keep={','.join(map(str, KEEPS))}", "hydra/launcher=joblib",
                 "hydra.launcher.n_jobs=2"], repo)
    timings["mcuforge.experiments.sweep, 2 jobs"] = time.monotonic() - started
    started = time.monotonic()
    run(["dvc", "exp", "run", "--queue", "-S", f"prune.keep=choice({','.join(map(str, KEEPS))})",
         "-S", f"board={QUEUED_BOARD}"], repo)
    run_all_queued(repo)
    timings["dvc exp run --queue + --run-all, 2 experiments"] = time.monotonic() - started
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
    rows = experiment_rows(json.loads(run(["dvc", "exp", "show", "--json"], repo)))
    return {"repo": repo, "sweep_output": sweep_output, "rows": rows, "logs": job_logs(repo, rows)}


def experiments(swept: dict) -> list:
    return [r for r in swept["rows"] if r.kind == "experiment"]


def test_every_job_is_a_named_experiment_with_its_params_and_metrics(swept):
    exps = experiments(swept)
    assert all(r.finished for r in exps), [(r.name, r.state) for r in exps]
    assert sorted((r.param("board.name"), r.param("prune.keep")) for r in exps) == sorted(
        (b, s) for b in (SWEPT_BOARD, QUEUED_BOARD) for s in KEEPS)
    for keep in KEEPS:
        name = f"board={SWEPT_BOARD},prune.keep={keep}"
        row = next(r for r in exps if r.name == name)   # reproducible names
        assert (row.param("board.name"), row.param("prune.keep")) == (SWEPT_BOARD, keep)
        assert re.search(rf"^{re.escape(name)} +ok ", swept["sweep_output"], re.MULTILINE)
    for row in exps:
        board = row.param("board.name")
        assert row.metric("prune", "method") == "channels"
        assert row.metric("prune", "macs_ratio") <= row.param("prune.keep")
        assert (row.metric("firmware", "board"), row.metric("firmware", "cpu")) == (board, row.param("board.cpu"))
        assert row.metric("firmware", "qemu.device_accuracy") == row.metric("quantize", "test_accuracy_int8")
        assert row.metric("firmware", "flash_bytes") > 0 and row.metric("firmware", "qemu.instructions_per_inference") > 0
    # the model does not depend on the board: same keep, same int8 model on every board
    for keep in KEEPS:
        same = {r.metric("quantize", "test_accuracy_int8") for r in exps if r.param("prune.keep") == keep}
        assert len(same) == 1


def run_cache_saved(stage: dict) -> bool:
    """DVC saves no run-cache entry for a stage with a plain `outs` entry marked `cache: false`
    (metrics and plots are exempt): dvc/stage/__init__.py, `run_cache=not no_cache_outs`."""
    return not any(isinstance(out, dict) and next(iter(out.values())).get("cache") is False
                   for out in stage.get("outs", []))


def test_only_what_the_params_touch_runs_the_rest_is_restored(swept):
    stages = yaml.safe_load((swept["repo"] / "dvc.yaml").read_text())["stages"]
    restorable = [s for s in DOWNSTREAM if run_cache_saved(stages[s])]
    assert "prune" in restorable
    for keep in KEEPS:
        ran_first = swept["logs"][f"board={SWEPT_BOARD},prune.keep={keep}"]
        ran_second = next(swept["logs"][r.name] for r in experiments(swept)
                          if (r.param("board.name"), r.param("prune.keep")) == (QUEUED_BOARD, keep))
        for log in (ran_first, ran_second):
            assert all(f"Stage '{s}' didn't change, skipping" in log for s in UPSTREAM)
        assert all(f"Running stage '{s}'" in ran_first for s in (*DOWNSTREAM, "firmware"))
        assert all(f"Stage '{s}' is cached - skipping run" in ran_second for s in restorable)
        assert "Running stage 'firmware'" in ran_second


def footprint(row) -> tuple[int, int, float]:
    fw = row.metrics["firmware"]
    return fw["flash_bytes"], fw["ram_bytes"] + fw["stack_bytes"], fw["qemu.instructions_per_inference"]


def hand_pick(rows: list, board: dict, max_latency_ms: float) -> str:
    """The most accurate finished row built for the board's core that fits its flash, RAM + stack and
    latency budget; ties to less flash, RAM, latency, then the name."""
    flash_budget, ram_budget = budgets(board)
    built = [r for r in rows if r.finished and r.kind != "workspace" and r.metric("firmware", "cpu") == board["cpu"]]
    fits = [r for r in built if footprint(r)[0] <= flash_budget and footprint(r)[1] <= ram_budget
            and footprint(r)[2] / board["clock_hz"] * 1000 <= max_latency_ms]
    return min(fits, key=lambda r: (-r.metric("firmware", "qemu.device_accuracy"), *footprint(r), r.name)).name


@pytest.mark.parametrize("board_name", ["nrf52840dk", "qemu_cortex_m3"])
def test_best_under_budget_matches_the_hand_pick(swept, board_name):
    repo = swept["repo"]
    board = yaml.safe_load((repo / f"conf/board/{board_name}.yaml").read_text())
    # a latency limit halfway between the fastest and the slowest build for this core
    latencies = [footprint(r)[2] / board["clock_hz"] * 1000 for r in swept["rows"]
                 if r.finished and r.metric("firmware", "cpu") == board["cpu"]]
    limit = (min(latencies) + max(latencies)) / 2
    output = run(["python", "-m", "mcuforge.cli", "best", "--board", board_name, "--max-latency-ms", repr(limit)], repo)
    assert output.strip().splitlines()[-1] == f"best: {hand_pick(swept['rows'], board, limit)}"
    other_core = [r.name for r in experiments(swept) if r.param("board.cpu") != board["cpu"]]
    assert other_core and all(f"{name} (built for" in output for name in other_core)


def test_a_latency_limit_nothing_meets_is_an_error(swept):
    proc = subprocess.run(["python", "-m", "mcuforge.cli", "best", "--board", "qemu_cortex_m3", "--max-latency-ms", "1"],
                          cwd=swept["repo"], env=dvc_env(), capture_output=True, text=True)
    assert proc.returncode == 2 and "error: no experiment fits board qemu_cortex_m3" in proc.stderr
    assert "over: latency +" in proc.stdout


def test_apply_puts_the_pick_in_the_workspace(swept):
    repo = swept["repo"]
    output = run(["python", "-m", "mcuforge.cli", "best", "--board", "qemu_cortex_m3", "--apply"], repo)
    picked = output.split("best: ")[1].split()[0]
    row = next(r for r in swept["rows"] if r.name == picked)
    assert flatten(yaml.safe_load((repo / "params.yaml").read_text())) == row.params
    firmware = json.loads((repo / "reports/firmware.json").read_text())
    assert firmware["board"] == row.param("board.name") and firmware["flash_bytes"] == row.metric("firmware", "flash_bytes")
