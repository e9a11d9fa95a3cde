"""`mcuforge sweep`'s exit codes, as docs/experiments.md promises: an override that is not in conf/
stops before any experiment runs (Hydra's message, exit 1); an experiment that fails ends the sweep
with the table, one error line naming its dvc log, and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dvc_repo import copy_repo, dvc_env, run


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("sweep-exits"))


def sweep(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcuforge.cli", "sweep", "--multirun", *args], cwd=repo,
                          env=dvc_env(), capture_output=True, text=True, timeout=900)


def records(repo: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (repo / ".dvc/tmp/sweeps").rglob("experiment.json")]


@pytest.mark.parametrize("override, message", [
    ("prune.sparsityy=0.5", "Key 'sparsityy' is not in struct"),
    ("board=foo", "Could not find 'board/foo'"),
])
def test_bad_override_is_exit_1_before_anything_runs(repo, override, message):
    before = records(repo)
    proc = sweep(repo, override)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert records(repo) == before  # no job ran
    assert "bad_override" not in run(["dvc", "exp", "list", "--name-only"], repo)


@pytest.mark.slow
def test_failed_experiment_is_exit_2_with_the_table_and_its_log(repo):
    """dataset.sha256 composes fine but makes ingest, the first stage, fail inside the experiment."""
    name = "dataset.sha256=0"
    proc = sweep(repo, name)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"[FAILED] {name}" in proc.stdout and f"{name}  exit " in proc.stdout, proc.stdout
    (record,) = [r for r in records(repo) if r["name"] == name]
    assert record["returncode"] != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == f"error: 1 of 1 experiments failed; dvc's output: {record['log']}", proc.stderr
    assert "sha256" in Path(record["log"]).read_text()
