"""The Zephyr app's sensor window source, without Zephyr: its ring buffer / windowing and unit
conversion (firmware/src/sensor_window.c, compiled with the host gcc) against the Python windowing
(mcuforge.data.windowing.make_windows) and mcuforge.firmware.sensor_units; the generated
mcuforge_sensor_config.h; the Kconfig / CMake wiring. The west builds are in test_zephyr_sensor.py."""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from mcuforge.data.windowing import make_windows
from mcuforge.errors import McuforgeError
from mcuforge.firmware import sensor_units

FIRMWARE = ROOT / "firmware"
WATCH = yaml.safe_load((ROOT / "conf/dataset/watch.yaml").read_text())
RAW = yaml.safe_load((ROOT / "conf/features/raw.yaml").read_text())
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


def build_harness(tmp_path: Path, dataset: dict, features: dict) -> Path:
    (tmp_path / sensor_units.SENSOR_H).write_text(sensor_units.sensor_config_header(dataset, features))
    exe = tmp_path / "harness"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{tmp_path}",
                    f"-I{FIRMWARE / 'src'}", str(ROOT / "tests/c/sensor_window_harness.c"),
                    str(FIRMWARE / "src/sensor_window.c"), "-o", str(exe)], check=True)
    return exe


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    return build_harness(tmp_path_factory.mktemp("sensor"), WATCH, RAW)


@needs_gcc
@pytest.mark.parametrize("length,window,stride", [(237, 20, 7), (100, 100, 25), (99, 100, 25), (64, 8, 1),
                                                  (130, 10, 13)])
def test_ring_buffer_windows_equal_the_python_windowing(harness, length, window, stride):
    """A stream pushed sample by sample gives exactly make_windows' windows of the same recording."""
    rng = np.random.default_rng(length + window + stride)
    values = rng.normal(size=(length, 6)).astype(np.float32)
    table = pd.DataFrame(values, columns=WATCH["channels"]).assign(recording="r", subject="s", label="PEN")
    expected = make_windows(table, WATCH["channels"], WATCH["labels"], window, stride)["windows"]
    out = subprocess.run([str(harness), "windows", str(window), str(stride), "6"], input=values.tobytes(),
                         capture_output=True, check=True).stdout
    got = np.frombuffer(out, np.float32).reshape(-1, window, 6)
    assert len(got) == len(expected) == max(0, (length - window) // stride + 1)
    assert got.tobytes() == expected.tobytes()


@needs_gcc
def test_unit_conversion_equals_python_bit_for_bit(harness):
    """Zephyr sensor values (val1 + val2/1e6, negative ones with both parts negative) -> every unit."""
    rng = np.random.default_rng(3)
    micro = np.concatenate([rng.integers(-160_000_000, 160_000_000, 2000), [0, 1, -1, 9806650, -9806650,
                                                                             2**31 - 1, -(2**31)]])
    val1 = np.trunc(micro / 1e6).astype(np.int64)
    val2 = micro - val1 * 1_000_000  # C's / and %: the remainder has the sign of the value
    units = [u for kinds in sensor_units.MICRO_PER_UNIT.values() for u in kinds.values()]
    records = np.zeros(len(micro) * len(units), np.dtype([("v", "<i4", 2), ("d", "<f8")]))
    records["v"] = np.repeat(np.stack([val1, val2], 1), len(units), axis=0)
    records["d"] = np.tile(units, len(micro))
    out = subprocess.run([str(harness), "units"], input=records.tobytes(), capture_output=True, check=True).stdout
    expected = sensor_units.to_unit(np.repeat(micro, len(units)), records["d"])
    assert np.frombuffer(out, np.float32).tobytes() == expected.tobytes()
    assert sensor_units.to_unit(9806650, sensor_units.MICRO_PER_UNIT["acc"]["g"]) == np.float32(1.0)
    assert sensor_units.to_unit(round(math.pi * 1e6), sensor_units.MICRO_PER_UNIT["gyr"]["deg/s"]) == \
        pytest.approx(180.0, abs=1e-4)


@needs_gcc
def test_generated_config_maps_the_datasets_channels_and_units(tmp_path):
    """A dataset with gyro first and accel in m/s^2: the header's map puts each SI value where the
    dataset wants it, in its unit; timing constants follow sample_rate_hz and window/stride."""
    dataset = {"source": "csv", "sample_rate_hz": 100, "channels": ["gyr_z", "acc_x", "acc_z"],
               "units": {"acc": "m/s^2", "gyr": "deg/s"}}
    exe = build_harness(tmp_path, dataset, {"window_ms": 1500, "stride_ms": 250})
    si = np.array([[1_500_000, -2_000_000, 9_806_650, 10, 20, -3_141_592]], np.int64)
    proc = subprocess.run([str(exe), "config"], input=si.tobytes(), capture_output=True, check=True)
    expected = np.array([sensor_units.to_unit(-3_141_592, 1e6 * math.pi / 180), sensor_units.to_unit(1_500_000, 1e6),
                         sensor_units.to_unit(9_806_650, 1e6)], np.float32)
    assert np.frombuffer(proc.stdout, np.float32).tobytes() == expected.tobytes()
    assert proc.stderr.decode().split() == ["10000", "150", "25", "1"]


@needs_gcc
def test_watch_config_is_acc_in_g_and_gyro_in_rad_per_s(harness):
    si = np.array([[9_806_650, -4_903_325, 0, 1_000_000, -250_000, 7]], np.int64)
    proc = subprocess.run([str(harness), "config"], input=si.tobytes(), capture_output=True, check=True)
    assert np.frombuffer(proc.stdout, np.float32).tolist() == [1.0, -0.5, 0.0, 1.0, -0.25, np.float32(7e-6)]
    assert proc.stderr.decode().split() == ["20000", "100", "25", "1"]


def test_datasets_declare_units_the_source_knows():
    assert WATCH["units"] == {"acc": "g", "gyr": "rad/s"}
    assert sensor_units.channel_map(WATCH) == [(0, 9806650.0), (1, 9806650.0), (2, 9806650.0), (3, 1e6),
                                               (4, 1e6), (5, 1e6)]
    csv = yaml.safe_load((ROOT / "conf/dataset/csv.yaml").read_text())
    assert [i for i, _ in sensor_units.channel_map(csv)] == [0, 1, 2]


def test_watch_recordings_are_in_g_and_rad_per_s():
    """The evidence behind watch.yaml's units: gravity has norm ~1 (g), the gyro's range is rad/s-sized."""
    from seglearn.datasets import load_watch
    x = np.concatenate(load_watch()["X"])
    assert 0.95 < np.median(np.linalg.norm(x[:, :3], axis=1)) < 1.2
    assert 2.0 < np.percentile(np.abs(x[:, 3:]), 99) < 20.0


def test_bad_units_and_non_imu_channels_are_named(tmp_path):
    bad = dict(WATCH, units={"acc": "mg", "gyr": "rad/s"})
    with pytest.raises(McuforgeError, match=r"dataset.units.acc='mg'; set it to one of g, m/s\^2"):
        sensor_units.channel_map(bad)
    with pytest.raises(McuforgeError, match=r"dataset.units.gyr=None"):
        sensor_units.channel_map(dict(WATCH, units={"acc": "g"}))
    header = sensor_units.sensor_config_header({"source": "pcm_pack", "sample_rate_hz": 8000, "channels": ["audio"],
                                                "units": {"audio": "pcm"}}, {"window_ms": 1000, "stride_ms": 1000})
    assert "#define MCUFORGE_SENSOR_OK 0" in header and "channel 'audio' is not an IMU axis" in header
    with pytest.raises(McuforgeError, match="features.stride_ms=30 ms is not a whole number of samples"):
        sensor_units.sensor_config_header(WATCH | {"sample_rate_hz": 50}, {"window_ms": 2000, "stride_ms": 30})


def test_kconfig_choice_and_cmake_wiring():
    kconfig, cmake = (FIRMWARE / "Kconfig").read_text(), (FIRMWARE / "CMakeLists.txt").read_text()
    conf = (FIRMWARE / "sensor.conf").read_text()
    for symbol in re.findall(r"^CONFIG_(MCUFORGE_\w+)=y", conf, re.M):
        assert f"config {symbol}\n" in kconfig
    assert "CONFIG_SENSOR=y" in conf and "choice MCUFORGE_WINDOW_SOURCE" in kconfig
    assert "src/source_sensor.c src/sensor_window.c" in cmake and "boards/sensor/${board_file}.overlay" in cmake
    overlay = (FIRMWARE / "boards/sensor/nrf52840dk_nrf52840.overlay").read_text()
    assert "accel0 = &imu;" in overlay
