"""The Zephyr application (firmware/): its generated inputs, how the stage finds a workspace and a
toolchain, and -- where a Zephyr workspace exists -- real `west build`s and a QEMU run."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, tool_env
from mcuforge.firmware import zephyr_build, zephyr_inputs, zephyr_workspace
from mcuforge.errors import McuforgeError
from test_codegen_stage import bench_model, make_workspace  # noqa: F401  (fixture)

FIRMWARE = ROOT / "firmware"


def test_sample_indices_spread_over_the_split():
    assert zephyr_inputs.sample_indices(100, 5).tolist() == [0, 25, 50, 74, 99]
    assert zephyr_inputs.sample_indices(3, 16).tolist() == [0, 1, 2]
    assert zephyr_inputs.sample_indices(0, 16).tolist() == []


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_compiled_in_windows_equal_the_arrays_bit_for_bit(tmp_path):
    """window_source_compiled.c over the generated sources hands out exactly the stage's arrays."""
    rng = np.random.default_rng(5)
    windows = (rng.normal(size=(4, 10, 3)) * 3).astype(np.float32)
    windows[0, 0, 0], windows[1, 2, 1] = np.float32(-0.0), np.float32(1e-40)  # signed zero, subnormal
    labels, logits = np.array([3, 0, 6, 1]), rng.integers(-128, 128, size=(4, 7)).astype(np.int8)
    zephyr_inputs.write_app_inputs(tmp_path, model="model", backend="native", cmsis_nn=False, windows=windows,
                                   labels=labels, logits=logits, test_indices=np.array([0, 3, 5, 9]))
    (tmp_path / "dump.c").write_text("""
#include <errno.h>
#include <stdio.h>
#include "window_source.h"
#include "mcuforge_sample_windows.h"
int main(void) {
    float window[MCUFORGE_SAMPLE_WINDOW_FLOATS];
    struct window_expectation expected;
    int status;
    if (window_source_init() != 0) return 1;
    while ((status = window_source_next(window, &expected)) == 0) {
        fwrite(window, sizeof window, 1, stdout);
        fwrite(&expected.label, sizeof expected.label, 1, stdout);
        fwrite(expected.logits, 1, MCUFORGE_SAMPLE_OUTPUT_SIZE, stdout);
    }
    return status == -ENODATA ? 0 : 2;
}
""")
    exe = tmp_path / "dump"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{FIRMWARE / 'src'}",
                    f"-I{tmp_path}", str(tmp_path / "dump.c"), str(FIRMWARE / "src/window_source_compiled.c"),
                    str(tmp_path / zephyr_inputs.WINDOWS_C), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    record = np.dtype([("window", np.float32, 30), ("label", np.int32), ("logits", np.int8, 7)])
    got = np.frombuffer(out, dtype=record)
    assert got["window"].tobytes() == windows.reshape(4, 30).tobytes()
    assert got["label"].tolist() == labels.tolist() and np.array_equal(got["logits"], logits)


def test_inputs_cmake_names_model_backend_and_cmsis_sources(tmp_path):
    text = zephyr_inputs.inputs_cmake("kws", "tflm", True, [Path("/x/arm_rfft.c")], [Path("/x/Include")],
                                      ["__GNUC_PYTHON__"])
    assert "set(MCUFORGE_MODEL kws)" in text and "set(MCUFORGE_BACKEND tflm)" in text
    assert "set(MCUFORGE_TFLM_CMSIS_NN ON)" in text and "\n  /x/arm_rfft.c)" in text
    assert "\n  __GNUC_PYTHON__)" in text


def test_zephyr_base_that_is_not_zephyr_is_a_problem_with_its_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("ZEPHYR_BASE", str(tmp_path))
    ws = zephyr_workspace.find_workspace(ROOT)
    assert ws.zephyr_base is None
    assert any("is not a Zephyr tree" in p and "unset ZEPHYR_BASE" in p for p in ws.problems)


def test_no_workspace_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    shutil.copy(ROOT / "west.yml", tmp_path / "west.yml")
    ws = zephyr_workspace.find_workspace(tmp_path)
    assert (ws.topdir, ws.zephyr_base, ws.modules_present) == (None, None, [])
    assert any("west init -l mcuforge && west update" in p for p in ws.problems)
    assert zephyr_workspace.workspace_key(ws) == {"zephyr_base": None}
    assert zephyr_workspace.describe(ws)[0] == "workspace: none"


def fake_zephyr_tree(base: Path, extraversion: str = "") -> None:
    """The files find_workspace reads of a Zephyr tree (not a buildable one)."""
    (base / "cmake" / "modules").mkdir(parents=True)
    (base / "cmake" / "modules" / "zephyr_default.cmake").write_text("")
    (base / "VERSION").write_text(f"VERSION_MAJOR = 4\nVERSION_MINOR = 1\nPATCHLEVEL = 0\nVERSION_TWEAK = 0\n"
                                  f"EXTRAVERSION = {extraversion}\n")


def test_west_workspace_modules_and_the_key_dvc_sees(tmp_path, monkeypatch):
    """A real `west init -l` workspace whose zephyr/ manifest lists the modules: missing ones are named
    with the `west update` that fetches them; the key's bytes change when one appears, not otherwise."""
    from test_west_manifest import init_workspace, stand_in_zephyr
    monkeypatch.delenv("ZEPHYR_BASE", raising=False)
    project = init_workspace(tmp_path)
    stand_in_zephyr(tmp_path)
    fake_zephyr_tree(tmp_path / "zephyr", extraversion="rc1")
    ws = zephyr_workspace.find_workspace(project)
    assert ws.topdir == tmp_path and ws.zephyr_base == tmp_path / "zephyr"
    assert ws.zephyr_version == "4.1.0-rc1" and ws.zephyr_revision and len(ws.zephyr_revision) == 40
    wanted, _ = zephyr_workspace.allowlist(ROOT)
    assert ws.modules_present == [] and ws.modules_missing == wanted
    assert any(f"cd {tmp_path} && west update {' '.join(wanted)}" in p for p in ws.problems)
    assert any("pins v4.1.0" in p for p in ws.problems)
    key = zephyr_workspace.workspace_key(ws)
    assert key == zephyr_workspace.workspace_key(zephyr_workspace.find_workspace(project))
    (tmp_path / "modules/debug/segger").mkdir(parents=True)
    (tmp_path / "modules/debug/segger/README").write_text("x")
    again = zephyr_workspace.find_workspace(project)
    assert again.modules_present == ["segger"] and zephyr_workspace.workspace_key(again) != key
    lines = zephyr_workspace.describe(again)
    assert lines[0] == f"workspace: {tmp_path} (west topdir)" and lines[1].startswith("zephyr: 4.1.0-rc1 at ")
    assert "modules present: segger" in lines


def test_users_toolchain_choice_wins_else_debian_gnuarmemb_with_picolibc():
    env, args, what = zephyr_build.toolchain_setup({"ZEPHYR_TOOLCHAIN_VARIANT": "zephyr", "PATH": ""})
    assert env["ZEPHYR_TOOLCHAIN_VARIANT"] == "zephyr" and args == [] and "environment" in what
    env, args, what = zephyr_build.toolchain_setup({"ZEPHYR_TOOLCHAIN_VARIANT": "gnuarmemb", "PATH": ""})
    assert args == ["-DTOOLCHAIN_HAS_PICOLIBC=ON"] and "environment" in what
    env, args, what = zephyr_build.toolchain_setup({"ZEPHYR_SDK_INSTALL_DIR": "/opt/sdk", "PATH": ""})
    assert "ZEPHYR_TOOLCHAIN_VARIANT" not in env and args == [] and "/opt/sdk" in what
    with pytest.raises(McuforgeError, match="apt-get install gcc-arm-none-eabi picolibc-arm-none-eabi"):
        zephyr_build.toolchain_setup({"PATH": ""})
    if shutil.which("arm-none-eabi-gcc"):
        env, args, _ = zephyr_build.toolchain_setup({"PATH": str(Path(shutil.which("arm-none-eabi-gcc")).parent)})
        assert env["ZEPHYR_TOOLCHAIN_VARIANT"] == "gnuarmemb" and args == ["-DTOOLCHAIN_HAS_PICOLIBC=ON"]
        assert (Path(env["GNUARMEMB_TOOLCHAIN_PATH"]) / "bin" / "arm-none-eabi-gcc").exists()


def test_console_parser_reads_the_applications_lines():
    text = ("mcuforge: model model, native backend, 7 classes\n"
            "window 0: class ABD (1) expected ABD, true ABD, logits exact, 51234 cycles (4269 us)\n"
            "window 1: class IR (3) expected ER, true IR, logits DIFFER, 51200 cycles (4266 us)\n"
            "mcuforge: 2 windows, 1 classes as expected, 1 logits exact, 2 true classes\nmcuforge: FAIL\n")
    parsed = zephyr_build.parse_console(text)
    assert (parsed["result"], parsed["windows"], parsed["classes_as_expected"], parsed["logits_exact"],
            parsed["true_classes"]) == ("FAIL", 2, 1, 1, 2)
    assert [w["cycles"] for w in parsed["per_window"]] == [51234, 51200]
    assert parsed["per_window"][1]["logits"] == "DIFFER" and parsed["per_window"][1]["us"] == 4266


# --- real west builds: only where a Zephyr workspace exists ---------------------------------------

WORKSPACE = zephyr_workspace.find_workspace(ROOT)
# the modules these builds need (not hal_st: only the sensor source on arduino_nano_33_ble uses it)
NEEDED = {m for board in ("qemu_cortex_m3", "nrf52840dk/nrf52840") for m in zephyr_workspace.modules_needed(
    board, ["TENSORFLOW_LITE_MICRO_CMSIS_NN_KERNELS"])}
needs_zephyr = pytest.mark.skipif(WORKSPACE.zephyr_base is None or bool(NEEDED & set(WORKSPACE.modules_missing)),
                                  reason="no Zephyr workspace with the modules west.yml allow-lists (docs/zephyr.md: "
                                         "west init -l mcuforge && west update, or set ZEPHYR_BASE)")


@pytest.fixture(scope="module")
def firmware_base(bench_model, tmp_path_factory):  # noqa: F811
    return make_workspace(tmp_path_factory.mktemp("zephyr-base"), bench_model, [])


def run_stage_with_zephyr(root: Path, overrides: list[str]) -> dict:
    """codegen + firmware in a copy outside the workspace: ZEPHYR_BASE names the workspace's zephyr/."""
    from mcuforge.experiments.compose import compose
    compose(root / "params.yaml", overrides, ROOT / "conf")
    for stage in ("codegen", "firmware"):
        proc = subprocess.run([sys.executable, "-m", f"stages.{stage}", *(["--max-windows", "4"] if stage ==
                               "firmware" else [])], cwd=root, env=tool_env(ZEPHYR_BASE=str(WORKSPACE.zephyr_base)),
                              capture_output=True, text=True,
                              timeout=3600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads((root / "reports/firmware.json").read_text())


@needs_zephyr
@pytest.mark.slow
@pytest.mark.parametrize("board", ["qemu_cortex_m3", "nrf52840dk"])
def test_west_build_native_backend(firmware_base, tmp_path, board):
    root = shutil.copytree(firmware_base, tmp_path / "ws")
    rep = run_stage_with_zephyr(root, [f"board={board}", "firmware.sample_windows=6"])
    zephyr = rep["zephyr"]
    assert rep["zephyr_build"].startswith("built with west") and zephyr["backend"] == "native"
    assert 0 < zephyr["flash_bytes"] <= 262144 and 0 < zephyr["ram_bytes"] <= 65536
    if board == "qemu_cortex_m3":
        assert zephyr["qemu"]["result"] == "PASS" and zephyr["qemu"]["logits_exact"] == 6
    else:
        assert zephyr["qemu"] is None


@needs_zephyr
@pytest.mark.slow
def test_west_build_tflm_backend_runs_on_qemu(firmware_base, tmp_path):
    root = shutil.copytree(firmware_base, tmp_path / "ws")
    rep = run_stage_with_zephyr(root, ["board=qemu_cortex_m3", "codegen=tflm", "firmware.sample_windows=4"])
    assert rep["zephyr"]["backend"] == "tflm"
    assert rep["zephyr"]["qemu"]["result"] == "PASS" and rep["zephyr"]["qemu"]["logits_exact"] == 4
