"""`mcuforge tune` rejects a bad search space (conf/tune/<space>.yaml) before anything runs, with one
error naming the file and the key; nothing is written."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from dvc_repo import copy_repo, dvc_env


@pytest.mark.parametrize("space, message", [
    ({"params": {"prune.keepp": {"choice": [0.5]}}}, "params.prune.keepp"),
    ({"params": {"prune.keep": {"low": 0.8, "high": 0.4, "step": 0.1}}}, "params.prune.keep: low 0.8"),
    ({"params": {"pair": {"bundles": {"a": ["features=nope"]}}}}, "params.pair: features=nope does not compose"),
    ({"params": {"prune.keep": {"choice": []}}}, "params.prune.keep.choice"),
    ({"sampler": "grid", "params": {"prune.keep": {"choice": [0.5]}}}, "sampler = 'grid'"),
])
def test_a_bad_space_is_rejected_naming_the_key_before_anything_runs(tmp_path, space, message):
    repo = copy_repo(tmp_path / "repo")
    (repo / "conf/tune/bad.yaml").write_text(yaml.safe_dump(space))
    proc = subprocess.run([sys.executable, "-m", "mcuforge.cli", "tune", "--board", "nrf52840dk", "--trials", "1",
                           "--space", "bad"], cwd=repo, env=dvc_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "conf/tune/bad.yaml" in proc.stderr, proc.stderr
    assert not (repo / ".dvc/tmp/tune").exists()


def test_the_shipped_space_loads_and_every_value_composes(project_root):
    """conf/tune/default.yaml: load_space composes every choice, bundle and range end with Hydra."""
    from mcuforge.experiments.tune_space import load_space

    space = load_space(project_root / "conf/tune/default.yaml", project_root / "conf")
    keys = [p.key for p in space.params]
    assert "architecture" in keys and "prune.keep" in keys
    assert space.sampler in ("nsga2", "tpe")
