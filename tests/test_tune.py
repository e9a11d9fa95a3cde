"""`mcuforge tune` on the tiny config in a copy of the repository: a study interrupted mid-trial
(SIGTERM) resumes without repeating finished trials, every feasible trial is a named DVC experiment,
a Pareto front of >= 2 configurations, an over-budget trial infeasible (a real board config with a
small budget), `--apply`, bad spaces rejected naming the key, and no process left behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dvc_repo import clone_built, commit, dvc_env, run
from mcuforge.experiments.runs import experiment_rows

pytestmark = pytest.mark.slow

TRIALS = 4
SPACE = {"sampler": "nsga2", "seed": 0, "population_size": 2, "params": {
    "student": {"bundles": {"default": [], "small": ["model.student.conv=[{filters:4,kernel:3,pool:2}]"]}},
    "prune.keep": {"choice": [0.4, 0.8]}}}
TIGHT_BOARD = {"name": "tiny_budget", "zephyr_board": "none", "cpu": "cortex-m4", "fpu": True,
               "clock_hz": 64000000, "flash_bytes": 4096, "ram_bytes": 2048, "reserve_flash_bytes": 0,
               "reserve_ram_bytes": 0, "qemu_machine": "mps2-an386"}


def tune_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcuforge.cli", "tune", "--space", "tiny", *args]


def tune(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(tune_cmd(*args), cwd=repo, env=dvc_env(), capture_output=True, text=True, timeout=1800)


def leftovers(repo: Path) -> list[str]:
    """Processes running in the repository or its DVC temp copies, or naming it on their command line."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cwd, cmdline = str((proc / "cwd").resolve()), (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(proc.name) != os.getpid() and (cwd.startswith(str(repo)) or str(repo).encode() in cmdline):
            found.append(f"{proc.name}: {cmdline.decode(errors='replace')[:200]}")
    return found


def study(repo: Path, name: str):
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(repo / f".dvc/tmp/tune/{name}/study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture(scope="module")
def tuned(tiny_repo, tmp_path_factory) -> dict:
    repo = clone_built(tiny_repo, tmp_path_factory.mktemp("tune") / "repo")
    (repo / "conf/tune/tiny.yaml").write_text(yaml.safe_dump(SPACE))
    (repo / "conf/board/tiny_budget.yaml").write_text(yaml.safe_dump(TIGHT_BOARD))
    run(["python", "-m", "mcuforge.cli", "compose"], repo)
    run(["dvc", "repro"], repo)
    commit(repo, "a tiny space, a board with a tiny budget")
    out = repo.parent / "interrupted.log"
    with out.open("w") as log:
        proc = subprocess.Popen(tune_cmd("--board", "nrf52840dk", "--trials", str(TRIALS), "--study", "t"),
                                cwd=repo, env=dvc_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 1500
        trial_log = repo / ".dvc/tmp/tune/t/logs/2.log"
        while proc.poll() is None and time.monotonic() < deadline and not (
                trial_log.exists() and "Reproducing experiment" in trial_log.read_text()):
            time.sleep(0.5)
        time.sleep(1)   # trial 2's dvc exp run is under way
        proc.send_signal(signal.SIGTERM)
        interrupted_code = proc.wait(timeout=120)
    interrupted = {"code": interrupted_code, "output": out.read_text(), "leftovers": leftovers(repo),
                   "trials": study(repo, "t").trials}
    resumed = tune(repo, "--board", "nrf52840dk", "--trials", str(TRIALS), "--study", "t")
    return {"repo": repo, "interrupted": interrupted, "resumed": resumed, "resumed_leftovers": leftovers(repo)}


def test_an_interrupted_study_resumes_without_repeating_finished_trials(tuned):
    from optuna.trial import TrialState

    first = tuned["interrupted"]
    assert first["code"] == 2 and "[trial 2] tune-t-2:" in first["output"], first["output"]
    assert "interrupted: the running trial was stopped" in first["output"]
    assert first["leftovers"] == [], first["leftovers"]
    before = [t for t in first["trials"] if t.state == TrialState.COMPLETE]
    assert [t.number for t in before] == [0, 1], first["output"]
    assert [t.state for t in first["trials"]][2] == TrialState.RUNNING   # killed mid-trial
    resumed = tuned["resumed"]
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "study t: 2 trial(s) finished, 2 to run" in resumed.stdout
    assert "trial 2 (tune-t-2) was interrupted" in resumed.stdout
    assert "[trial 0]" not in resumed.stdout and "[trial 1]" not in resumed.stdout   # not run again
    trials = study(tuned["repo"], "t").trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == TRIALS and [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert trials[3].params == trials[2].params   # the interrupted trial's parameters, run again
    assert [(t.number, t.params, t.values) for t in complete[:2]] == [(t.number, t.params, t.values) for t in before]
    names = run(["dvc", "exp", "list", "--name-only"], tuned["repo"]).split()
    assert sorted(n for n in names if n.startswith("tune-t-")) == sorted(f"tune-t-{t.number}" for t in complete)
    assert tuned["resumed_leftovers"] == []


def test_every_trial_is_an_experiment_with_its_params_and_measures(tuned):
    repo = tuned["repo"]
    report = json.loads((repo / ".dvc/tmp/tune/t/front.json").read_text())
    shown = {r.name: r for r in experiment_rows(json.loads(run(["dvc", "exp", "show", "--json"], repo)))}
    assert len(report["rows"]) == TRIALS
    for row in report["rows"]:
        exp = shown[row["experiment"]]
        assert exp.param("prune.keep") == row["params"]["prune.keep"]
        small = row["params"]["student"] == "small"
        assert (row["accuracy"], row["flash"]) == (exp.metric("firmware", "qemu.device_accuracy"),
                                                   exp.metric("firmware", "flash_bytes"))
        assert row["ram"] == exp.metric("firmware", "ram_bytes") + exp.metric("firmware", "stack_bytes")
        instructions = exp.metric("firmware", "qemu.instructions_per_inference")
        assert row["latency_ms"] == pytest.approx(instructions / 64e6 * 1000)
        student = yaml.safe_load(run(["git", "show", f"{exp.rev}:params.yaml"], repo))["model"]["student"]
        assert (student["conv"] == [{"filters": 4, "kernel": 3, "pool": 2}]) == small


def test_the_pareto_front_has_two_configurations_none_dominated(tuned):
    repo = tuned["repo"]
    report = json.loads((repo / ".dvc/tmp/tune/t/front.json").read_text())
    front = report["front"]
    assert len({json.dumps(r["params"], sort_keys=True) for r in front}) >= 2, report
    def measures(r):
        return (-r["accuracy"], r["flash"], r["ram"], round(r["latency_ms"], 2))   # at 0.01 ms
    for r in report["rows"]:
        beaten = any(all(a <= b for a, b in zip(measures(o), measures(r))) and measures(o) != measures(r)
                     for o in report["rows"])
        assert beaten == (r["status"] == "dominated"), r
    text = (repo / ".dvc/tmp/tune/t/front.md").read_text()
    assert text.strip() in tuned["resumed"].stdout   # printed and written
    assert (repo / ".dvc/tmp/tune/t/front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_over_budget_trial_is_infeasible_not_failed(tuned):
    from optuna.trial import TrialState

    repo = tuned["repo"]
    proc = tune(repo, "--board", "tiny_budget", "--trials", "1", "--study", "tight")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no finished trial of study tight fits board tiny_budget" in proc.stderr
    (trial,) = study(repo, "tight").trials
    assert trial.state == TrialState.COMPLETE   # measured, not failed
    over = trial.system_attrs["constraints:flash_over_bytes"]
    flash = trial.user_attrs["result"]["flash"]
    assert over > 0 and flash - over == TIGHT_BOARD["flash_bytes"]
    assert f"infeasible: flash +{int(over):,} B" in proc.stdout
    assert leftovers(repo) == []


def test_apply_puts_the_trials_params_in_the_workspace(tuned):
    repo = tuned["repo"]
    report = json.loads((repo / ".dvc/tmp/tune/t/front.json").read_text())
    chosen = report["front"][-1]
    try:
        proc = tune(repo, "--board", "nrf52840dk", "--study", "t", "--apply", str(chosen["trial"]))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"applied trial {chosen['trial']} ({chosen['experiment']})" in proc.stdout
        params = yaml.safe_load((repo / "params.yaml").read_text())
        assert params["prune"]["keep"] == chosen["params"]["prune.keep"]
        firmware = json.loads((repo / "reports/firmware.json").read_text())
        assert firmware["flash_bytes"] == chosen["flash"]
    finally:
        run(["git", "checkout", "--", "."], repo)
        run(["dvc", "checkout", "--force"], repo)
