"""The other documented configuration through the real chain: `features=spectral model=dense`
(docs/configuration.md) on the tiny config of tests/test_pipeline_e2e.py, `dvc repro verify` in a
copy of the repository: spectral features of the configured size, the dense architectures
trained, distilled, pruned, quantised, compiled and checked against tflite_micro."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dvc_repo import copy_repo, run
from logits_check import assert_generated_c_matches
from mcuforge.arrays import load_arrays
from test_pipeline_e2e import CHAIN, TINY, ran_stages, report

pytestmark = pytest.mark.slow

VARIANT = [o for o in TINY if not o.startswith("quantize.max_drop")] + ["features=spectral", "model=dense"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("spectral-dense"))
    run(["python", "-m", "mcuforge.cli", "compose", *VARIANT], repo)
    assert ran_stages(run(["dvc", "repro", "verify"], repo)) == CHAIN[:CHAIN.index("verify") + 1]
    return repo


def dense_params(inputs: int, units: list[int], classes: int) -> int:
    sizes = [inputs, *units, classes]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def test_spectral_features_feed_the_dense_models(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    spectral, labels = params["features"], params["dataset"]["labels"]
    n_features = len(params["dataset"]["channels"]) * (len(spectral["stats"]) + len(spectral["band_edges_hz"]) - 1)
    normalization = json.loads((repo / "data/features/normalization.json").read_text())
    assert normalization["block"] == "spectral"
    x = load_arrays(repo / "data/features/test.npz")["x"]
    assert x.ndim == 2 and x.shape[1] == n_features
    teacher, student = params["model"]["teacher"], params["model"]["student"]
    assert teacher["arch"] == student["arch"] == "dense"
    assert report(repo, "train")["params"] == dense_params(n_features, teacher["dense"], len(labels))
    assert report(repo, "distill")["params"] == dense_params(n_features, student["dense"], len(labels))
    prune = report(repo, "prune")   # channels on the hidden Dense layers
    assert prune["method"] == "channels" and prune["macs_after"] <= 0.4 * prune["macs_before"]
    quantize = report(repo, "quantize")
    assert 1 / len(labels) < quantize["test_accuracy_int8"] <= 1.0  # better than chance after 3 epochs


def test_verify_is_bit_exact_on_every_window(repo):
    verify = report(repo, "verify")
    assert verify["windows"] == report(repo, "features")["windows"]["test"] > 0
    assert verify["logits_exact"] == verify["windows"] and verify["agreement"] == 1.0
    assert verify["features_check"] == "compared"
    assert verify["features_int8_exact"] == verify["windows"] and verify["features_max_rel_err"] == 0.0, verify


def test_generated_c_logits_match_tflite_micro_here(repo, tmp_path):
    assert_generated_c_matches(repo, tmp_path / "build")