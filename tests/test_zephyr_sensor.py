"""The sensor window source in real Zephyr builds (only where a Zephyr workspace exists):

- native_sim/native/64: recorded test windows go through Zephyr's BMI160 emulator (registers
  quantised by mcuforge.firmware.sensor_feed), the app samples them with its k_timer, windows them
  and classifies; every window's class and int8 logits must equal the Python int8 pipeline's on the
  same sensor-quantised samples;
- arduino_nano_33_ble (LSM9DS1, needs the hal_st module) and nrf52840dk (BMI160 overlay): west build."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, tool_env
from mcuforge.data.normalization import standardize
from mcuforge.data.windowing import make_windows
from mcuforge.dsp.feature_blocks import compute_block
from mcuforge.firmware import sensor_feed, zephyr_build, zephyr_workspace
from mcuforge.firmware.sensor_units import channel_map
from mcuforge.codegen.tflm_runtime import device_logits
from test_codegen_stage import bench_model, make_workspace  # noqa: F401  (fixture)

WORKSPACE = zephyr_workspace.find_workspace(ROOT)
needs_zephyr = pytest.mark.skipif(WORKSPACE.zephyr_base is None, reason="no Zephyr workspace (docs/zephyr.md: "
                                  "west init -l mcuforge && west update, or set ZEPHYR_BASE)")
FEED_WINDOWS = 4  # test windows streamed back to back -> (4 * 100 - 100) / 25 + 1 = 13 app windows


@pytest.fixture(scope="module")
def sensor_project(bench_model, tmp_path_factory):  # noqa: F811
    """A project with codegen's sources and the firmware stage's app inputs (no Zephyr needed)."""
    root = make_workspace(tmp_path_factory.mktemp("sensor"), bench_model, [])
    code = ("import yaml; from stages.firmware import load_inputs; from mcuforge.firmware.zephyr_app import "
            "write_app_inputs; write_app_inputs(yaml.safe_load(open('params.yaml')), None, load_inputs())")
    for args in (["-m", "stages.codegen"], ["-c", code]):
        proc = subprocess.run([sys.executable, *args], cwd=root, env=tool_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def write_feed(root: Path) -> dict:
    """Stream FEED_WINDOWS test windows through the BMI160 register format; the app's windows of that
    stream and the Python int8 pipeline's logits for them, written beside the app inputs."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    dataset, features = params["dataset"], params["features"]
    test = np.load(root / "data/features/test.npz")
    norm = json.loads((root / "data/features/normalization.json").read_text())
    stream = test["windows"][:FEED_WINDOWS].reshape(-1, len(dataset["channels"]))
    channels = channel_map(dataset)
    regs = sensor_feed.bmi160_registers(stream, channels)
    seen = sensor_feed.bmi160_dataset_values(regs, channels)
    table = pd.DataFrame(seen, columns=dataset["channels"]).assign(recording="r", subject="s",
                                                                    label=dataset["labels"][0])
    windows = make_windows(table, dataset["channels"], dataset["labels"], norm["window_samples"],
                           norm["stride_samples"])["windows"]
    x = standardize(compute_block(windows, features, dataset["sample_rate_hz"]),
                    {"mean": np.asarray(norm["mean"], np.float32), "std": np.asarray(norm["std"], np.float32)})
    logits = device_logits((root / "models/model_int8.tflite").read_bytes(), x)
    labels = np.asarray(test["y"])[np.arange(len(windows)) * norm["stride_samples"] // norm["window_samples"]]
    header, source = sensor_feed.feed_sources(regs, labels, logits, windows)
    (root / "build/firmware_inputs" / sensor_feed.FEED_H).write_text(header)
    (root / "build/firmware_inputs" / sensor_feed.FEED_C).write_text(source)
    return {"samples": len(regs), "logits": logits, "regs": regs}


def west_build(root: Path, board: str, build: Path, extra: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "west", "build", "-b", board, str(ROOT / "firmware"), "-d",
                           str(build), "-p", "auto", "--", f"-DMCUFORGE_INPUTS_DIR={root / 'build/firmware_inputs'}",
                           f"-DMCUFORGE_GENERATED_DIR={root / 'firmware/generated'}", "-DMCUFORGE_WINDOW_SOURCE=sensor",
                           *extra], env=env, capture_output=True, text=True, timeout=3600)


def test_feed_quantisation_round_trips_the_register_format():
    """Registers hold the nearest count at 8 g / 2000 dps; the device's values are within one count."""
    dataset = yaml.safe_load((ROOT / "conf/dataset/watch.yaml").read_text())
    channels = channel_map(dataset)
    rng = np.random.default_rng(1)
    stream = np.concatenate([rng.normal(scale=[2, 2, 2, 5, 5, 5], size=(500, 6)),
                             [[9, -9, 0, 40, -40, 0]]]).astype(np.float32)   # beyond range: clipped
    regs = sensor_feed.bmi160_registers(stream, channels)
    seen = sensor_feed.bmi160_dataset_values(regs, channels)
    count = np.array([16 / 65535] * 3 + [4000 * np.pi / 180 / 65535] * 3)
    assert np.all(np.abs(seen[:-1] - stream[:-1]) <= count * 0.5 + 1e-6)
    assert regs[-1].tolist() == [32767, -32768, 0, 32767, -32768, 0]
    assert seen[0, 0] == np.float32(np.trunc(int(regs[0, 0]) * 2 * 8 * 9806650 / 65535) / 9806650.0)
    assert sensor_feed.fnv1a32(b"") == 0x811C9DC5 and sensor_feed.fnv1a32(b"a") == 0xE40C292C


@needs_zephyr
@pytest.mark.slow
def test_native_sim_bmi160_emulator_gives_the_python_pipelines_classes(sensor_project, tmp_path):
    feed = write_feed(sensor_project)
    env = tool_env(ZEPHYR_BASE=str(WORKSPACE.zephyr_base), ZEPHYR_TOOLCHAIN_VARIANT="host")
    proc = west_build(sensor_project, "native_sim/native/64", tmp_path / "native_sim", [], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stop_at = feed["samples"] * 0.02 + 2  # simulated seconds: every sample at 50 Hz, then some
    run = subprocess.run([str(tmp_path / "native_sim/zephyr/zephyr.exe"), f"--stop_at={stop_at}"],
                         capture_output=True, text=True, timeout=600)
    console = zephyr_build.parse_console(run.stdout)
    windows = len(feed["logits"])
    assert console["result"] == "PASS", run.stdout[-3000:]
    assert (console["windows"], console["classes_as_expected"], console["logits_exact"]) == (windows,) * 3
    assert [w["logits"] for w in console["per_window"]] == ["exact"] * windows


@needs_zephyr
@pytest.mark.slow
@pytest.mark.parametrize("board", ["arduino_nano_33_ble", "nrf52840dk/nrf52840"])
def test_west_build_with_the_boards_imu(sensor_project, tmp_path, board):
    extra = []
    if board.startswith("arduino") and "hal_st" not in WORKSPACE.modules_present:
        hal_st = os.environ.get("MCUFORGE_HAL_ST")  # a hal_st checkout outside the workspace
        if not hal_st:
            pytest.skip("the LSM9DS1 driver needs the hal_st module: `west update hal_st` (west.yml allow-lists it)"
                        " or MCUFORGE_HAL_ST=<checkout>")
        extra.append(f"-DEXTRA_ZEPHYR_MODULES={hal_st}")
    env, args, _ = zephyr_build.toolchain_setup(tool_env(ZEPHYR_BASE=str(WORKSPACE.zephyr_base)))
    proc = west_build(sensor_project, board, tmp_path / "b", [*args, *extra], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    config = (tmp_path / "b/zephyr/.config").read_text()
    assert "CONFIG_MCUFORGE_WINDOW_SOURCE_SENSOR=y" in config
    assert ("CONFIG_LSM9DS1=y" if board.startswith("arduino") else "CONFIG_BMI160=y") in config
