"""The real chain on a tiny config: `dvc repro` in a copy of the repository, caching, determinism."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, tool_env

pytestmark = pytest.mark.slow

TINY = ["features.stride_ms=2000", "train.epochs=3", "distill.epochs=3", "prune.epochs=3",
        "quantize.representative_windows=32", "quantize.qat_epochs=1",
        # force the pruning-preserving QAT branch so the e2e run exercises it too
        "quantize.max_drop=-1.0"]
CHAIN = ["ingest", "split", "features", "train", "distill", "prune", "quantize", "codegen", "verify",
         "firmware"]
OUTS = ["data/ingested.parquet", "data/split.parquet", "models/teacher.npz", "models/student.npz",
        "models/pruned.npz", "models/model_int8.tflite", "firmware/generated/model.c",
        "firmware/generated/model.h"]


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=tool_env(), capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def copy_repo(dst: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        run(cmd, dst)
    return dst


def ran_stages(output: str) -> list[str]:
    return [s for s in CHAIN if f"Running stage '{s}'" in output]


def digests(repo: Path) -> dict[str, str]:
    return {out: hashlib.sha256((repo / out).read_bytes()).hexdigest() for out in OUTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("e2e"))
    run(["python", "-m", "mcuforge.compose", *TINY], repo)
    output = run(["dvc", "repro"], repo)
    assert ran_stages(output) == CHAIN
    return repo


def report(repo: Path, stage: str) -> dict:
    return json.loads((repo / "reports" / f"{stage}.json").read_text())


def test_reports_hold_the_required_keys(repo):
    split = report(repo, "split")
    assert split["group_overlap"] == 0
    assert set(split["counts"]) == {"train", "val", "test"}
    assert {"test_accuracy", "params"} <= set(report(repo, "train"))
    distill = report(repo, "distill")
    assert {"test_accuracy", "params", "test_accuracy_no_teacher"} <= set(distill)
    assert distill["params"] * 4 <= report(repo, "train")["params"]
    prune = report(repo, "prune")
    assert prune["sparsity"] >= 0.5
    quantize = report(repo, "quantize")
    assert {"test_accuracy_float", "test_accuracy_int8", "tflite_bytes", "arena_bytes"} <= set(quantize)
    assert quantize["method"] in {"ptq", "qat"}
    assert quantize["tflite_bytes"] == (repo / "models/model_int8.tflite").stat().st_size
    assert quantize["arena_bytes"] > 0
    assert 1 / 7 < quantize["test_accuracy_int8"] <= 1.0  # better than chance even after 3 epochs
    verify = report(repo, "verify")
    assert verify["windows"] == report(repo, "features")["windows"]["test"]
    assert verify["logits_exact"] == verify["windows"] and verify["agreement"] == 1.0
    assert verify["features_max_rel_err"] <= 1e-4
    assert verify["accuracy_int8_c"] == quantize["test_accuracy_int8"]
    firmware = report(repo, "firmware")["qemu"]
    assert firmware["logits_exact"] == firmware["windows"] == verify["windows"]
    assert firmware["device_accuracy"] == quantize["test_accuracy_int8"]


def test_noop_repro_runs_nothing(repo):
    output = run(["dvc", "repro"], repo)
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo)


def test_quantize_param_reruns_only_quantize_and_what_follows(repo):
    model = repo / "models/model_int8.tflite"
    before = model.read_bytes()
    run(["python", "-m", "mcuforge.compose", *TINY, "quantize.representative_windows=48"], repo)
    ran = ran_stages(run(["dvc", "repro"], repo))
    # codegen and verify follow only if the model's bytes changed (QAT may keep the same model)
    followers = ["codegen", "verify", "firmware"] if model.read_bytes() != before else []
    assert ran == ["quantize", *followers]


def test_board_param_rebuilds_only_the_firmware(repo):
    run(["python", "-m", "mcuforge.compose", *TINY, "quantize.representative_windows=48",
         "board=qemu_cortex_m3"], repo)
    assert ran_stages(run(["dvc", "repro"], repo)) == ["firmware"]
    assert report(repo, "firmware")["board"] == "qemu_cortex_m3"


def test_same_params_give_byte_identical_artifacts(repo):
    before = digests(repo)
    output = run(["dvc", "repro", "--force"], repo)
    assert ran_stages(output) == CHAIN
    assert digests(repo) == before
