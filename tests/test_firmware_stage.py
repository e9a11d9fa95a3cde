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
from mcuforge.arrays import load_arrays, save_arrays
from mcuforge.firmware.baremetal import CORES, missing_tools
from mcuforge.firmware.firmware_image import run_windows
from mcuforge.experiments.compose import compose
from logits_check import SAMPLE, assert_logits_match
from test_codegen_stage import LABELS, bench_model, make_workspace, run_stage  # noqa: F401  (fixture)

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


@pytest.fixture(scope="module")
def m4(base, tmp_path_factory) -> Path:
    """The stage run once on the default board (nrf52840dk, Cortex-M4F)."""
    root = workspace(base, tmp_path_factory.mktemp("m4"), [])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    return root


def section_sizes(elf: Path) -> dict[str, int]:
    """flash (loaded read-only and initialised-data sections) and RAM (data + bss) of an ELF, read
    here with pyelftools, not with the stage's arm-none-eabi-size."""
    from elftools.elf.elffile import ELFFile

    flash = ram = 0
    with open(elf, "rb") as f:
        for section in ELFFile(f).iter_sections():
            flags, size = section["sh_flags"], section["sh_size"]
            if not flags & 0x2:  # SHF_ALLOC
                continue
            loaded, writable = section["sh_type"] != "SHT_NOBITS", bool(flags & 0x1)
            flash += size if loaded else 0
            ram += size if writable else 0
    return {"flash": flash, "ram": ram}


@needs_tools
def test_cortex_m4_board_runs_bit_exact(m4):
    root = m4
    rep = report(root)
    assert KEYS <= set(rep)
    assert (rep["board"], rep["cpu"], rep["qemu_machine"]) == ("nrf52840dk", "cortex-m4", "mps2-an386")
    assert rep["flash_budget"] == 1048576 - 32768 and rep["ram_budget"] == 262144 - 16384
    assert 0 < rep["flash_bytes"] <= rep["flash_budget"] and 0 < rep["ram_bytes"] <= rep["ram_budget"]
    assert section_sizes(root / "build/baremetal/deploy.elf") == {"flash": rep["flash_bytes"], "ram": rep["ram_bytes"]}
    assert 0 < rep["stack_bytes"] < 4096
    q = rep["qemu"]
    assert q["windows"] == WINDOWS and q["logits_exact"] == WINDOWS and q["logits_max_abs_diff"] == 0
    assert q["device_accuracy"] == q["reference_accuracy"]
    assert len(q["instructions_counted"]) == 3 and q["instructions_per_inference"] > 10_000
    assert rep["zephyr_build"] == "skipped: no Zephyr workspace (`mcuforge zephyr` says how to make one)" and rep["zephyr"] is None
    assert sorted(p.name for p in (root / "build/firmware_inputs").iterdir()) == [
        "mcuforge_features_config.h", "mcuforge_inputs.cmake", "mcuforge_sample_windows.c",
        "mcuforge_sample_windows.h", "mcuforge_sensor_config.h", "mcuforge_stream_config.h"]
    assert (root / "build/baremetal/deploy.elf").is_file()
    assert not (root / "build/baremetal/windows.bin").exists()


@needs_tools
def test_device_logits_match_tflite_micro_here(m4, tmp_path):
    """The stage's test image run again here on QEMU for a sample of test windows, its logits
    compared with tflite_micro here: the report's logits_exact is not taken on trust."""
    elf = tmp_path / "test.elf"
    shutil.copy2(m4 / "build/baremetal/test.elf", elf)
    test = load_arrays(m4 / "data/features/test.npz")
    device = run_windows(CORES["cortex-m4"], elf, test["windows"][SAMPLE], len(LABELS))
    assert_logits_match((m4 / "models/model_int8.tflite").read_bytes(), test["x"][SAMPLE], device["logits"])


def overflow_error(base: Path, dest: Path, overrides: list[str]) -> str:
    root = workspace(base, dest, overrides)
    proc = run_firmware(root)
    assert proc.returncode == 2, proc.stderr
    assert not (root / "reports/firmware.json").exists() and not (root / "build/baremetal").exists()
    assert "prune.keep" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


@needs_tools
def test_over_ram_budget_names_the_bytes_and_writes_nothing(base, m4, tmp_path):
    ram = report(m4)["ram_bytes"]
    stderr = overflow_error(base, tmp_path, ["board.ram_bytes=20480"])  # budget 20480 - 16384 = 4096 B
    assert f"RAM {ram} B > budget 4096 B by {ram - 4096} B" in stderr, stderr


@needs_tools
def test_over_flash_budget_names_the_bytes_and_writes_nothing(base, m4, tmp_path):
    flash = report(m4)["flash_bytes"]
    stderr = overflow_error(base, tmp_path, [f"board.flash_bytes={32768 + flash - 100}"])  # budget = flash - 100
    assert f"flash {flash} B > budget {flash - 100} B by 100 B" in stderr, stderr
    assert "RAM" not in stderr


@needs_tools
def test_ram_plus_measured_stack_over_budget_names_the_bytes(base, m4, tmp_path):
    """Static RAM fits, RAM + the stack measured on QEMU does not: the check after the run fires."""
    rep = report(m4)
    ram, stack = rep["ram_bytes"], rep["stack_bytes"]
    budget = ram + stack - 50
    stderr = overflow_error(base, tmp_path, [f"board.ram_bytes={16384 + budget}"])
    assert f"RAM {ram} B + stack {stack} B > budget {budget} B by 50 B" in stderr, stderr
    assert "flash" not in stderr.split("(")[1]


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


@pytest.mark.parametrize("board", ["rpi_pico", "esp32c3_devkitm"])
def test_small_cores_run_every_window_bit_exact(board, base, tmp_path):
    """Cortex-M0+ (microbit's Cortex-M0) and RV32IMC (riscv32 virt): no FPU, no DSP, no Thumb-2."""
    cfg = yaml.safe_load((ROOT / f"conf/board/{board}.yaml").read_text())
    core = CORES[cfg["cpu"]]
    if missing_tools(core):
        pytest.skip(f"{', '.join(missing_tools(core))} not installed (apt-get install {core.apt_packages})")
    root = workspace(base, tmp_path, [f"board={board}"])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert (rep["cpu"], rep["qemu_machine"]) == (cfg["cpu"], cfg["qemu_machine"]) and "qemu_note" not in rep
    assert rep["qemu"]["windows"] == rep["qemu"]["logits_exact"] == WINDOWS
    assert rep["qemu"]["logits_max_abs_diff"] == 0
    counts = rep["qemu"]["instructions_counted"]
    assert len(counts) == 3 and min(counts) > 10_000 and rep["stack_bytes"] > 0
    assert rep["flash_budget"] == cfg["flash_bytes"] - cfg["reserve_flash_bytes"]
    assert rep["ram_bytes"] + rep["stack_bytes"] <= rep["ram_budget"]


def test_board_without_toolchain_reports_budget_only(base, tmp_path):
    root = workspace(base, tmp_path, ["board=esp32"])
    proc = run_firmware(root)
    assert proc.returncode == 0, proc.stderr
    rep = report(root)
    assert KEYS <= set(rep)
    assert rep["baremetal"].startswith("skipped: no toolchain for xtensa-lx6 here (budgets only; bring ")
    assert "xtensa-esp32-elf-gcc" in rep["baremetal"]
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
