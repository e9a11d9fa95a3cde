"""The codegen and verify stages as subprocesses on a small workspace: the bench conv1d int8 model
and a fake-but-real test split (random windows, standardised with their own statistics)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, tool_env
from mcuforge.arrays import save_arrays
from mcuforge.codegen.verify import feature_twin_available, features_status
from mcuforge.experiments.compose import compose
from logits_check import assert_generated_c_matches

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

BENCH_MODEL = Path(__file__).resolve().parents[1] / "benchmarks" / "models" / "conv1d.tflite"
LABELS = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]
WINDOWS, STEPS = 96, 100


def make_workspace(root: Path, model: bytes, overrides: list[str]) -> Path:
    """models/model_int8.tflite, data/features/{test.npz,normalization.json}, params.yaml."""
    rng = np.random.default_rng(5)
    windows = rng.normal(size=(WINDOWS, STEPS, len(CHANNELS))).astype(np.float32) * 2 + 0.5
    mean, std = windows.mean(axis=(0, 1)), windows.std(axis=(0, 1))
    x = ((windows - mean) / std).astype(np.float32)
    (root / "models").mkdir(parents=True)
    (root / "models/model_int8.tflite").write_bytes(model)
    save_arrays(root / "data/features/test.npz",
                {"x": x, "windows": windows, "y": rng.integers(0, len(LABELS), WINDOWS).astype(np.int32)})
    (root / "data/features/normalization.json").write_text(json.dumps({
        "block": "raw", "feature_names": CHANNELS, "input_shape": [STEPS, len(CHANNELS)], "labels": LABELS,
        "mean": mean.tolist(), "std": std.tolist(), "sample_rate_hz": 50, "stride_samples": 25,
        "window_samples": STEPS}, indent=2))
    compose(root / "params.yaml", overrides, ROOT / "conf")
    return root


def run_stage(root: Path, stage: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=root, env=tool_env(),
                          capture_output=True, text=True)


def report(root: Path, stage: str) -> dict:
    return json.loads((root / "reports" / f"{stage}.json").read_text())


def generated_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "firmware/generated").iterdir())}


@pytest.fixture(scope="module")
def bench_model() -> bytes:
    if not BENCH_MODEL.exists():
        pytest.skip(f"bench model {BENCH_MODEL} not present")
    return BENCH_MODEL.read_bytes()


@pytest.fixture(scope="module")
def native_run(bench_model, tmp_path_factory):
    root = make_workspace(tmp_path_factory.mktemp("native"), bench_model, [])
    procs = {stage: run_stage(root, stage) for stage in ("codegen", "verify")}
    return root, procs


def test_native_codegen_report_and_files(native_run):
    root, procs = native_run
    assert procs["codegen"].returncode == 0, procs["codegen"].stderr
    rep = report(root, "codegen")
    assert rep["backend"] == "native" and rep["name"] == "model"
    assert rep["files"] == ["model.c", "model.h"] == sorted(generated_bytes(root))
    assert 0 < rep["arena_bytes"] <= 1.05 * rep["arena_lower_bound"]
    # below the liveness bound only through proven in-place steps (mcuforge.codegen.inplace)
    assert rep["arena_bytes"] >= rep["arena_lower_bound"] or rep["arena_inplace_steps"] >= 1
    assert rep["weights_bytes"] > 0 and 55_000 < rep["macs"] < 65_000
    assert rep["ops"][-2:] == ["MEAN", "FULLY_CONNECTED"]
    assert rep["model_bytes"] == BENCH_MODEL.stat().st_size
    header = (root / "firmware/generated/model.h").read_text()
    assert f"#define MCUFORGE_MODEL_ARENA_BYTES {rep['arena_bytes']}" in header


def test_verify_logits_are_bit_exact(native_run):
    root, procs = native_run
    assert procs["verify"].returncode == 0, procs["verify"].stderr
    rep = report(root, "verify")
    assert rep["windows"] == WINDOWS
    assert rep["logits_exact"] == WINDOWS and rep["logits_max_abs_diff"] == 0
    assert rep["agreement"] == 1.0
    assert rep["accuracy_int8_c"] == rep["accuracy_int8_tflm"]
    assert rep["backend"] == rep["checked_backend"] == "native"
    assert "features_max_rel_err" in rep
    if feature_twin_available():  # raw block: the twin standardises and quantises exactly
        assert rep["features_check"] == "compared"
        assert rep["features_max_rel_err"] == 0.0 and rep["features_int8_exact"] == WINDOWS  # bit-exact
    else:
        assert rep["features_max_rel_err"] is None
        assert rep["features_check"] == "skipped: no C feature twin yet"


def test_generated_c_logits_match_tflite_micro_here(native_run, tmp_path):
    """The stage's generated C, compiled and run here on a sample of test windows, compared with
    tflite_micro here: the report's logits_exact is not taken on trust."""
    root, procs = native_run
    assert procs["codegen"].returncode == 0, procs["codegen"].stderr
    assert_generated_c_matches(root, tmp_path / "build")


def test_features_check_is_skipped_without_the_twin(tmp_path):
    status = features_status(windows=None, x=None, normalization={}, features_cfg={}, sample_rate_hz=50,
                             input_quant={}, work_dir=tmp_path, features_dir=tmp_path / "absent")
    assert status == {"features_max_rel_err": None, "features_check": "skipped: no C feature twin yet"}


def test_codegen_is_deterministic(native_run):
    root, _ = native_run
    before = generated_bytes(root)
    report_before = (root / "reports/codegen.json").read_bytes()
    assert run_stage(root, "codegen").returncode == 0
    assert generated_bytes(root) == before
    assert (root / "reports/codegen.json").read_bytes() == report_before


def test_tflm_backend(bench_model, tmp_path):
    root = make_workspace(tmp_path, bench_model, ["codegen=tflm", "codegen.arena_margin_bytes=100"])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 0, proc.stderr
    rep = report(root, "codegen")
    assert rep["backend"] == "tflm"
    assert rep["files"] == ["model.h", "model_data.c", "model_tflm.cc", "model_tflm.h"] == sorted(generated_bytes(root))
    assert rep["tflm_arena_used_bytes"] == rep["arena_bytes"] == -(-(rep["tflm_arena_probed_bytes"] + 100) // 16) * 16
    assert rep["registered_ops"] == ["EXPAND_DIMS", "CONV_2D", "RESHAPE", "MAX_POOL_2D", "DEPTHWISE_CONV_2D",
                                     "MEAN", "FULLY_CONNECTED"]
    assert rep["native_supported"] and rep["macs"] > 0  # the native planner's figures, for comparison
    first = generated_bytes(root)
    assert first["model_data.c"].count(b"0x") == rep["model_bytes"]
    assert run_stage(root, "codegen").returncode == 0
    assert generated_bytes(root) == first
    proc = run_stage(root, "verify")
    assert proc.returncode == 0, proc.stderr
    rep = report(root, "verify")
    assert rep["backend"] == "tflm" and rep["checked_backend"] == "native"
    assert rep["logits_exact"] == rep["windows"] == WINDOWS


@pytest.fixture(scope="module")
def tanh_model() -> bytes:
    """A real int8 model the native backend cannot compile (TANH), same input/output shapes."""
    tf = pytest.importorskip("tensorflow")
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input(shape=(STEPS, len(CHANNELS)), batch_size=1)
    hidden = tf.keras.layers.Flatten()(inputs)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(len(LABELS), activation="tanh", name="head")(hidden))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(0)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.normal(size=(1, STEPS, len(CHANNELS))).astype(np.float32)] for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def test_unsupported_op_is_one_error_line_and_writes_nothing(tanh_model, tmp_path):
    root = make_workspace(tmp_path, tanh_model, [])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: native codegen does not support TANH")
    assert "head" in lines[0] and "codegen.backend=tflm" in lines[0]
    assert not (root / "firmware/generated").exists() and not (root / "reports").exists()
    assert not list((root / "firmware").iterdir())  # no temp dir left behind


def test_unsupported_op_leaves_previous_generated_untouched(bench_model, tanh_model, tmp_path):
    root = make_workspace(tmp_path, bench_model, [])
    assert run_stage(root, "codegen").returncode == 0
    before = generated_bytes(root)
    (root / "models/model_int8.tflite").write_bytes(tanh_model)
    assert run_stage(root, "codegen").returncode == 2
    assert generated_bytes(root) == before
    assert not [p for p in (root / "firmware").iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_tflm_backend_takes_the_model_native_cannot(tanh_model, tmp_path):
    root = make_workspace(tmp_path, tanh_model, ["codegen=tflm"])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 0, proc.stderr
    rep = report(root, "codegen")
    assert "TANH" in rep["registered_ops"] and rep["native_supported"] is False
    assert "resolver.AddTanh()" in (root / "firmware/generated/model_tflm.cc").read_text()
    proc = run_stage(root, "verify")
    assert proc.returncode == 0, proc.stderr
    rep = report(root, "verify")
    assert rep["checked_backend"] is None and rep["logits_exact"] is None
    assert rep["c_check"].startswith("skipped: the native backend cannot compile this model")
    assert 0 <= rep["accuracy_int8_tflm"] <= 1


def test_unknown_backend_is_an_error(bench_model, tmp_path):
    root = make_workspace(tmp_path, bench_model, ["codegen.backend=cmsis"])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 2 and "codegen.backend='cmsis' is unknown" in proc.stderr
    assert not (root / "firmware").exists()


def test_verify_without_codegen_output_is_an_error(bench_model, tmp_path):
    root = make_workspace(tmp_path, bench_model, [])
    proc = run_stage(root, "verify")
    assert proc.returncode == 2 and "run the codegen stage" in proc.stderr
    shutil.rmtree(root)
