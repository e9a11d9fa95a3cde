"""The real chain on a tiny config: `dvc repro` in a copy of the repository, caching, determinism."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import pytest
import yaml

from dvc_repo import cached_outs, clone_built, copy_repo, digests, remove, run, tiny_overrides
from logits_check import assert_generated_c_matches, int8_inputs
from mcuforge.arrays import load_arrays
from mcuforge.codegen.tflm_reference import tflm_outputs

pytestmark = pytest.mark.slow

# conf/tiny.yaml, and the pruning-preserving QAT branch forced so the e2e run exercises it too
TINY = [*tiny_overrides(), "quantize.max_drop=-1.0"]
CHAIN = ["ingest", "split", "features", "train", "distill", "prune", "quantize", "codegen", "verify",
         "firmware"]
OUTS = ["data/ingested.parquet", "data/split.parquet", "models/teacher.npz", "models/student.npz",
        "models/pruned.npz", "models/model_int8.tflite", "firmware/generated/model.c",
        "firmware/generated/model.h", "build/baremetal/deploy.elf", "build/baremetal/deploy.map",
        "build/firmware_inputs/mcuforge_sample_windows.c"]


def ran_stages(output: str) -> list[str]:
    return [s for s in CHAIN if f"Running stage '{s}'" in output]


def assert_up_to_date(status: str) -> None:
    """`dvc status` of a current pipeline: nothing changed but zephyr_env, which is `always_changed`
    (it records the Zephyr workspace, which DVC cannot see) and changes nothing downstream."""
    lines = [line.strip() for line in status.splitlines() if line.strip()]
    assert lines in (["Data and pipelines are up to date."], ["zephyr_env:", "always changed"]), status


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("e2e"))
    run(["python", "-m", "mcuforge.cli", "compose", *TINY], repo)
    output = run(["dvc", "repro"], repo)
    assert ran_stages(output) == CHAIN
    return repo


def report(repo: Path, stage: str) -> dict:
    return json.loads((repo / "reports" / f"{stage}.json").read_text())


@pytest.fixture
def own_repo(repo, tmp_path) -> Path:
    """A copy of the built repository (workspace, cache, run-cache) for a test that changes params or
    outputs, so no test depends on what another left behind (any order, any subset)."""
    return clone_built(repo, tmp_path / "repo")


def test_reports_hold_the_required_keys(repo):
    split = report(repo, "split")
    assert split["group_overlap"] == 0
    assert set(split["counts"]) == {"train", "val", "test"}
    assert {"test_accuracy", "params"} <= set(report(repo, "train"))
    distill = report(repo, "distill")
    assert {"test_accuracy", "params", "test_accuracy_no_teacher"} <= set(distill)
    assert distill["params"] * 4 <= report(repo, "train")["params"]
    prune = report(repo, "prune")   # channels: a smaller model, within the MAC target
    assert prune["method"] == "channels" and prune["macs_after"] <= 0.4 * prune["macs_before"]
    quantize = report(repo, "quantize")
    assert {"test_accuracy_float", "test_accuracy_int8", "tflite_bytes", "arena_bytes"} <= set(quantize)
    assert quantize["tflite_bytes"] == (repo / "models/model_int8.tflite").stat().st_size
    assert quantize["arena_bytes"] > 0
    assert 1 / 7 < quantize["test_accuracy_int8"] <= 1.0  # better than chance even after 3 epochs
    verify = report(repo, "verify")
    assert verify["windows"] == report(repo, "features")["windows"]["test"]
    assert verify["logits_exact"] == verify["windows"] and verify["agreement"] == 1.0
    # README: "C features vs Python features: max relative error 0.0 (bit-exact)"
    assert verify["features_check"] == "compared"
    assert verify["features_max_rel_err"] == 0.0 and verify["features_int8_exact"] == verify["windows"], verify
    assert verify["accuracy_int8_c"] == quantize["test_accuracy_int8"]
    firmware = report(repo, "firmware")["qemu"]
    assert firmware["logits_exact"] == firmware["windows"] == verify["windows"]
    assert firmware["device_accuracy"] == quantize["test_accuracy_int8"]


def test_quantize_keeps_the_better_of_ptq_and_qat_on_validation(repo):
    """max_drop=-1 forces QAT: both int8 models are scored, the one better on the validation split kept
    (a tie keeps PTQ; the test split never chooses), and the kept .tflite really scores the reported
    accuracies on the validation and test splits (tflite_micro, computed here)."""
    quantize = report(repo, "quantize")
    ptq, qat = quantize["val_accuracy_int8_ptq"], quantize["val_accuracy_int8_qat"]
    method = "qat" if qat > ptq else "ptq"
    assert quantize["method"] == method, quantize
    assert quantize["test_accuracy_int8"] == quantize[f"test_accuracy_int8_{method}"]
    assert quantize["int8_drop"] == round(quantize["test_accuracy_float"] - quantize["test_accuracy_int8"], 6)
    model = (repo / "models/model_int8.tflite").read_bytes()
    val = load_arrays(repo / "data/features/val.npz")
    predicted = tflm_outputs(model, int8_inputs(model, val["x"])).argmax(axis=1)
    assert float(np.mean(predicted == val["y"])) == quantize[f"val_accuracy_int8_{method}"], quantize
    test = load_arrays(repo / "data/features/test.npz")
    predicted = tflm_outputs(model, int8_inputs(model, test["x"])).argmax(axis=1)
    kept = float(np.mean(predicted == test["y"]))
    assert kept == quantize["test_accuracy_int8"], f"the kept .tflite scores {kept}, the report says {quantize}"


def test_generated_c_logits_match_tflite_micro_here(repo, tmp_path):
    """The chain's generated C on a sample of its test windows, compared here (not by verify)."""
    assert_generated_c_matches(repo, tmp_path / "build")


def test_noop_repro_runs_nothing(repo):
    output = run(["dvc", "repro"], repo)
    assert ran_stages(output) == []
    assert_up_to_date(run(["dvc", "status"], repo))


def test_quantize_param_reruns_only_quantize_and_what_follows(own_repo):
    repo = own_repo
    model = repo / "models/model_int8.tflite"
    before = model.read_bytes()
    run(["python", "-m", "mcuforge.cli", "compose", *TINY, "quantize.representative_windows=48"], repo)
    ran = ran_stages(run(["dvc", "repro"], repo))
    # codegen and verify follow only if the model's bytes changed (QAT may keep the same model)
    followers = ["codegen", "verify", "firmware"] if model.read_bytes() != before else []
    assert ran == ["quantize", *followers]


def test_board_param_rebuilds_only_the_firmware(own_repo):
    repo = own_repo
    run(["python", "-m", "mcuforge.cli", "compose", *TINY, "board=qemu_cortex_m3"], repo)
    assert ran_stages(run(["dvc", "repro"], repo)) == ["firmware"]
    assert report(repo, "firmware")["board"] == "qemu_cortex_m3"


def test_same_params_give_byte_identical_artifacts(own_repo):
    repo = own_repo
    before = digests(repo, OUTS)
    output = run(["dvc", "repro", "--force"], repo)
    assert ran_stages(output) == CHAIN
    assert digests(repo, OUTS) == before


def test_push_then_pull_restores_data_and_models(own_repo, tmp_path):
    """Every cached output of the chain goes to the remote; with the cache and the files deleted,
    `dvc pull` brings back the same bytes and the pipeline is up to date again."""
    repo = own_repo
    outs = cached_outs(repo)
    assert {"data/features", "models/model_int8.tflite", "firmware/generated"} <= set(outs)
    run(["dvc", "remote", "modify", "--local", "local", "url", str(tmp_path / "storage")], repo)
    before = digests(repo, OUTS)
    run(["dvc", "push"], repo)
    remove(repo, [".dvc/cache", *outs])
    run(["dvc", "pull"], repo)
    assert digests(repo, OUTS) == before
    assert_up_to_date(run(["dvc", "status"], repo))


def test_every_declared_plot_renders_offline(repo):
    """The stages write every plot file dvc.yaml declares; `mcuforge plots` renders each, no warning."""
    declared = [next(iter(plot)) for plot in yaml.safe_load((repo / "dvc.yaml").read_text())["plots"]]
    output = run(["python", "-m", "mcuforge.cli", "plots", "--format", "svg", "--out", "rendered"], repo)
    assert sorted(output.split()) == sorted(f"rendered/{plot_id}.svg" for plot_id in declared)
