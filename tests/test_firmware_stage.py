"""The firmware stage as a subprocess on a small workspace (the bench conv1d int8 model and the
random test split of tests/test_codegen_stage.py, codegen run once): bare-metal images built for
the board's core, the test windows run on QEMU bit-exact with tflite_micro, the budget gate, a
Cortex-M3 board, a board without a toolchain, and a missing toolchain."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, tool_env
from mcuforge.arrays import save_arrays
from mcuforge.firmware.baremetal import missing_tools
from mcuforge.experiments.compose import compose
from test_codegen_stage import bench_model, make_workspace, run_stage  # noqa: F401  (fixture)

WINDOWS = 12
KEYS = {"board", "cpu", "qemu_machine", "flash_bytes", "ram_bytes", "stack_bytes", "flash_budget", "ram_budget",
        "zephyr_build", "qemu"}
needs_tools = pytest.mark.skipif(bool(missing_tools()), reason=f"{', '.join(missing_tools())} not installed "
                                 "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")


@pytest.fixture(scope="module")
def base(bench_model, tmp_path_factory) -> Path:  # noqa: F811
    root = make_workspace(tmp_path_factory.mktemp("firmware-base"), bench_model, [])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 0, proc.stderr
    return root


def workspace(base: Path, dest: Path, overrides: list[str]) -> Path:
    for part in ("models", "data", "firmware"):
        shutil.copytree(base / part, dest / part)
    compose(dest / "params.yaml", overrides, ROOT / "conf")
    return dest


def run_firmware(root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """The stage without a Zephyr workspace (tests/test_zephyr_app.py covers the west build)."""
    return subprocess.run([sys.executable, "-m", "stages.firmware", "--max-windows", str(WINDOWS)], cwd=root,
                          env=env or tool_env(ZEPHYR_BASE=""), capture_output=True, text=True, timeout=300)


def report(root: Path) -> dict:
    return json.loads((root / "reports/firmware.json").read_text())


@needs_tools
def test_cortex_m4_board_runs_bit_exact(base, tmp_path):
    root = workspace(base, tmp_path, [])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert KEYS <= set(rep)
    assert (rep["board"], rep["cpu"], rep["qemu_machine"]) == ("nrf52840dk", "cortex-m4", "mps2-an386")
    assert rep["flash_budget"] == 1048576 - 32768 and rep["ram_budget"] == 262144 - 16384
    assert 0 < rep["flash_bytes"] <= rep["flash_budget"] and 0 < rep["ram_bytes"] <= rep["ram_budget"]
    assert 0 < rep["stack_bytes"] < 4096
    q = rep["qemu"]
    assert q["windows"] == WINDOWS and q["logits_exact"] == WINDOWS and q["logits_max_abs_diff"] == 0
    assert q["device_accuracy"] == q["reference_accuracy"]
    assert len(q["instructions_counted"]) == 3 and q["instructions_per_inference"] > 10_000
    assert rep["zephyr_build"] == "skipped: no Zephyr workspace (`mcuforge zephyr` says how to make one)" and rep["zephyr"] is None
    assert sorted(p.name for p in (root / "build/firmware_inputs").iterdir()) == [
        "mcuforge_features_config.h", "mcuforge_inputs.cmake", "mcuforge_sample_windows.c",
        "mcuforge_sample_windows.h"]
    assert (root / "build/baremetal/deploy.elf").is_file()
    assert not (root / "build/baremetal/windows.bin").exists()


@needs_tools
def test_over_budget_is_an_error_and_writes_nothing(base, tmp_path):
    root = workspace(base, tmp_path, ["board.ram_bytes=20480"])  # budget 20480 - 16384 = 4096 B
    proc = run_firmware(root)
    assert proc.returncode == 2, proc.stderr
    assert "RAM" in proc.stderr and "budget 4096 B by" in proc.stderr and "prune.sparsity" in proc.stderr
    assert not (root / "reports/firmware.json").exists() and not (root / "build/baremetal").exists()


@needs_tools
def test_cortex_m3_board_runs_on_mps2_an385(base, tmp_path):
    root = workspace(base, tmp_path, ["board=qemu_cortex_m3"])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert (rep["cpu"], rep["qemu_machine"]) == ("cortex-m3", "mps2-an385")
    assert "lm3s6965evb" in rep["qemu_note"]
    assert rep["flash_budget"] == 262144 - 16384 and rep["ram_bytes"] + rep["stack_bytes"] <= rep["ram_budget"]
    assert rep["qemu"]["logits_exact"] == WINDOWS


def test_board_without_toolchain_reports_budget_only(base, tmp_path):
    root = workspace(base, tmp_path, ["board=esp32"])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert KEYS <= set(rep)
    assert rep["baremetal"] == "skipped: no toolchain for xtensa-lx6 here"
    assert rep["flash_bytes"] is None and rep["qemu"] is None and rep["qemu_machine"] is None
    assert rep["flash_budget"] == 4194304 - 32768 and rep["ram_budget"] == 327680 - 16384


def test_missing_toolchain_names_the_packages(base, tmp_path):
    root = workspace(base, tmp_path, [])
    proc = run_firmware(root, env=tool_env(PATH=str(Path(sys.executable).parent), ZEPHYR_BASE=""))
    assert proc.returncode == 2
    assert "apt-get install gcc-arm-none-eabi" in proc.stderr and "scripts/setup.sh" in proc.stderr
    assert not (root / "reports/firmware.json").exists()


DENSE_MODEL = Path(__file__).resolve().parents[1] / "benchmarks" / "models" / "dense.tflite"
SPECTRAL_OVERRIDES = ["features=spectral", "features.stats=[rms,skew]"]  # 6 axes x (2 stats + 6 bands) = 48


def spectral_workspace(root: Path, overrides: list[str]) -> Path:
    """The bench dense model (48 int8 inputs) on spectral features of random windows, standardised
    with their own float32 statistics as the features stage does; codegen run."""
    from mcuforge.dsp.spectral import make_spectral_plan, spectral_features_batch
    from mcuforge.data.normalization import standardize
    from test_codegen_stage import CHANNELS, LABELS, STEPS

    compose(root / "params.yaml", [*SPECTRAL_OVERRIDES, *overrides], ROOT / "conf")
    features_cfg = yaml.safe_load((root / "params.yaml").read_text())["features"]
    rng = np.random.default_rng(11)
    windows = (rng.normal(size=(WINDOWS, STEPS, len(CHANNELS))) * 2 + 0.5).astype(np.float32)
    feats = spectral_features_batch(windows, make_spectral_plan(features_cfg, 50, len(CHANNELS)))
    assert feats.shape[1] == 48
    scaler = {"mean": feats.mean(axis=0).astype(np.float32), "std": feats.std(axis=0).astype(np.float32)}
    (root / "models").mkdir(parents=True)
    (root / "models/model_int8.tflite").write_bytes(DENSE_MODEL.read_bytes())
    save_arrays(root / "data/features/test.npz", {"x": standardize(feats, scaler), "windows": windows,
                                                  "y": rng.integers(0, len(LABELS), WINDOWS).astype(np.int32)})
    (root / "data/features/normalization.json").write_text(json.dumps({
        "block": "spectral", "labels": LABELS, "mean": scaler["mean"].tolist(), "std": scaler["std"].tolist(),
        "sample_rate_hz": 50, "window_samples": STEPS}))
    proc = run_stage(root, "codegen")
    assert proc.returncode == 0, proc.stderr
    return root


@needs_tools
@pytest.mark.skipif(not DENSE_MODEL.exists(), reason=f"bench model {DENSE_MODEL} not present")
@pytest.mark.parametrize("board", ["nrf52840dk", "qemu_cortex_m3"])
def test_spectral_features_with_cmsis_dsp_on_the_core(board, tmp_path):
    """CMSIS-DSP built for the core (cortex-m4: -D__GNUC_PYTHON__; cortex-m3: the stand-in header)."""
    root = spectral_workspace(tmp_path, [f"board={board}"])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert rep["features_block"] == "spectral" and rep["image"]["data"] > 0  # CMSIS-DSP's FFT instance
    q = rep["qemu"]
    assert q["windows"] == WINDOWS and q["logits_exact"] == WINDOWS, q


@needs_tools
def test_tflm_backend_checks_the_native_c_of_the_same_model_bare_metal(base, tmp_path):
    """TFLM needs a Zephyr workspace; the bare-metal image still runs the model (as native C)."""
    root = workspace(base, tmp_path, ["codegen=tflm"])
    proc = run_stage(root, "codegen")
    assert proc.returncode == 0, proc.stderr
    assert (root / "firmware/generated/model_tflm.cc").exists() and not (root / "firmware/generated/model.c").exists()
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert rep["baremetal"] == "built and run (native C of the same model)"
    assert rep["qemu"]["logits_exact"] == WINDOWS
    assert "set(MCUFORGE_BACKEND tflm)" in (root / "build/firmware_inputs/mcuforge_inputs.cmake").read_text()
    assert "set(MCUFORGE_TFLM_CMSIS_NN ON)" in (root / "build/firmware_inputs/mcuforge_inputs.cmake").read_text()
