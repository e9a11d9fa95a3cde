"""The C feature twin (firmware/features + CMSIS-DSP's own C sources) against the Python features.

For the raw block and several spectral configs, random windows go through the C harness
(tests/c/features_harness.c) and through spectral_features_batch / standardize /
quantize_input. The CMSIS sources are compiled as the Python side runs them
(mcuforge.dsp.host_dsp.DEVICE_FLOAT_CFLAGS: the device's float semantics), so the C float
features must equal the Python ones to the bit, and the int8 model inputs exactly.
A second build uses firmware/features/include/cmsis_compiler.h (no __GNUC_PYTHON__) with
-DARM_MATH_LOOPUNROLL (another summation order), within the 1e-4 contract.
tests/test_spectral_device.py runs the twin on the emulated Cortex-M4 and M3.

Run with -s to see the measured errors and build times.
"""
from __future__ import annotations

import copy
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml

from mcuforge.dsp import cmsis_dsp_sources as cds
from mcuforge.dsp import host_dsp
from mcuforge.codegen.emit_features import (CMSIS_FUNCTIONS, HEADER_NAME, c_float,
                                            generate_features)
from mcuforge.dsp.spectral import make_spectral_plan, spectral_features_batch
from mcuforge.errors import McuforgeError
from mcuforge.data.normalization import fit_standardizer, standardize
from mcuforge.codegen.tflm_runtime import quantize_input
from mcuforge.codegen.input_table import (KEY_MINUS_INF, KEY_PLUS_INF, from_key, key, lookup, quantize_channel,
                                          threshold_table)

ROOT = Path(__file__).resolve().parents[1]
FEATURES_DIR = ROOT / "firmware" / "features"
HARNESS = ROOT / "tests" / "c" / "features_harness.c"
RATE_HZ = 50.0
N_CHANNELS = 6
N_WINDOWS = 250
# Our own code: the warning-free C99 flags of the runtime, plus no FMA contraction.
TWIN_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off")
# The stand-in build: what a device build without CMSIS-Core and without -ffast-math looks like.
DEVICE_LIKE_CMSIS_FLAGS = ("-std=c99", "-O2", "-ffp-contract=off", "-DARM_MATH_LOOPUNROLL")
MEASURED: dict[str, dict] = {}
N_EDGE_CASES = 4  # windows 0..3 of random_windows


def spectral_cfg(**changes) -> dict:
    cfg = yaml.safe_load((ROOT / "conf" / "features" / "spectral.yaml").read_text())
    for key, value in changes.items():
        cfg[key] = value
    return cfg


CONFIGS = {
    "spectral_default": spectral_cfg(),
    "no_filter": spectral_cfg(filter={"type": "none"}),
    "highpass_order3": spectral_cfg(filter={"type": "highpass", "cutoff_hz": 0.5, "order": 3}),
    "log_off": spectral_cfg(log_power=False),
    "all_stats_mean_first_kept": spectral_cfg(stats=["mean", "kurtosis", "std", "skew", "rms"]),
    "mean_rms_no_removal_fft128": spectral_cfg(
        window_ms=4000, stats=["rms", "mean"], remove_mean=False, fft_length=128, overlap=0.75,
        filter={"type": "lowpass", "cutoff_hz": 8.0, "order": 2}, log_power=False),
    "no_stats": spectral_cfg(stats=[], filter={"type": "highpass", "cutoff_hz": 1.0, "order": 1}),
    "raw": {"block": "raw", "window_ms": 2000, "stride_ms": 500},
}


# ----------------------------------------------------------------------------- building

def _compile(source: Path, obj: Path, flags: list[str]) -> None:
    result = subprocess.run(["gcc", *flags, "-c", str(source), "-o", str(obj)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"gcc failed on {source}:\n{result.stderr[-3000:]}")


def compile_cmsis(build_dir: Path, flags: tuple[str, ...]) -> list[Path]:
    """The CMSIS-DSP sources the twin needs, compiled in parallel into build_dir."""
    root = cds.cmsis_dsp_root()
    build_dir.mkdir(parents=True, exist_ok=True)
    includes = [f"-I{d}" for d in cds.include_dirs(root)]
    jobs = [(src, build_dir / f"{src.stem}.o") for src in cds.cmsis_dsp_sources(CMSIS_FUNCTIONS)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda job: _compile(job[0], job[1], [*flags, *includes]), jobs))
    return [obj for _, obj in jobs]


@pytest.fixture(scope="module")
def cmsis_objects(tmp_path_factory) -> list[Path]:
    start = time.perf_counter()
    objs = compile_cmsis(tmp_path_factory.mktemp("cmsis_device_float"),
                         (*host_dsp.DEVICE_FLOAT_CFLAGS, *cds.SECTION_FLAGS))
    MEASURED.setdefault("_build", {})["cmsis_device_float_s"] = round(time.perf_counter() - start, 2)
    return objs


@pytest.fixture(scope="module")
def device_like_objects(tmp_path_factory) -> list[Path]:
    stand_in = FEATURES_DIR / "include"
    return compile_cmsis(tmp_path_factory.mktemp("cmsis_device_like"),
                         (*DEVICE_LIKE_CMSIS_FLAGS, *cds.SECTION_FLAGS, f"-I{stand_in}"))


def build_twin(gen_dir: Path, objects: list[Path], exe: Path, stand_in: bool = False,
               extra_defines: tuple[str, ...] = ()) -> Path:
    """features.c + spectral.c + harness (strict flags) linked with the CMSIS objects."""
    root = cds.cmsis_dsp_root()
    defines = ([] if stand_in else ["-D__GNUC_PYTHON__"]) + list(extra_defines)
    cmd = ["gcc", *TWIN_CFLAGS, *defines, *cds.SECTION_FLAGS, f"-I{gen_dir}",
           f"-I{FEATURES_DIR / 'include'}", f"-I{FEATURES_DIR / 'src'}",
           *[f"-isystem{d}" for d in cds.include_dirs(root)],
           *map(str, sorted((FEATURES_DIR / "src").glob("*.c"))), str(HARNESS),
           *map(str, objects), *cds.GC_LINK_FLAGS, "-lm", "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"twin build failed:\n{' '.join(cmd)}\n{result.stderr[-3000:]}")
    return exe


def run_twin(exe: Path, windows: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    ran = subprocess.run([str(exe)], input=np.ascontiguousarray(windows, np.float32).tobytes(),
                         capture_output=True)
    assert ran.returncode == 0, ran.stderr.decode(errors="replace")
    record = np.dtype([("f", np.float32, (n_features,)), ("q", np.int8, (n_features,))])
    out = np.frombuffer(ran.stdout, dtype=record)
    assert len(out) == len(windows)
    return out["f"], out["q"]


# ----------------------------------------------------------------------------- data

def random_windows(seed: int, n: int, length: int) -> np.ndarray:
    """IMU-like windows: offsets, per-channel scales, sines, spikes, plus edge cases
    (all zeros, constant channels, a large offset with tiny noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / RATE_HZ
    freq = rng.uniform(0.2, 20.0, (n, 1, N_CHANNELS))
    w = (rng.uniform(-10, 10, (n, 1, N_CHANNELS))
         + rng.uniform(0.01, 5, (n, 1, N_CHANNELS)) * rng.standard_normal((n, length, N_CHANNELS))
         + rng.uniform(0, 3, (n, 1, N_CHANNELS)) * np.sin(2 * np.pi * freq * t[None, :, None]))
    spikes = rng.random((n, length, N_CHANNELS)) < 0.01
    w[spikes] += rng.normal(0, 30, spikes.sum())
    w[0] = 0.0
    w[1] = 3.25
    w[2, :, 0] = 9.81
    w[3] = 9.81 + 1e-4 * rng.standard_normal((length, N_CHANNELS))
    return w.astype(np.float32)


def python_reference(cfg: dict, windows: np.ndarray) -> np.ndarray:
    if cfg["block"] == "raw":
        return windows.copy()
    return spectral_features_batch(windows, make_spectral_plan(cfg, RATE_HZ, N_CHANNELS))


def input_quant_for(x_std: np.ndarray, seed: int) -> dict:
    """A TFLite-like (scale, zero point) covering most of the standardised range (some saturate)."""
    rng = np.random.default_rng(seed)
    lo, hi = np.percentile(x_std, [1, 99])
    scale = float(np.float32((hi - lo) / 255.0 * rng.uniform(0.7, 1.0)))
    zero_point = int(np.clip(round(-128 - lo / scale), -128, 127))
    return {"scale": scale, "zero_point": zero_point}


def normalization_for(cfg: dict, x: np.ndarray) -> tuple[dict, dict]:
    scaler = fit_standardizer(x)
    norm = {"block": cfg["block"], "mean": scaler["mean"].tolist(), "std": scaler["std"].tolist()}
    if cfg["block"] == "raw":
        norm["input_shape"] = list(x.shape[1:])
    return norm, scaler


def relative_error(c: np.ndarray, py: np.ndarray) -> float:
    """max |c - py| / max(|py|, 1e-3 * max|py| of that feature): relative, except for values far
    below their feature's magnitude (e.g. a skew of 1e-9 in a column of values around 1)."""
    c, py = c.astype(np.float64).reshape(len(c), -1), py.astype(np.float64).reshape(len(py), -1)
    floor = np.maximum(1e-3 * np.abs(py).max(axis=0, keepdims=True), 1e-30)
    return float(np.max(np.abs(c - py) / np.maximum(np.abs(py), floor)))


# ----------------------------------------------------------------------------- the tests

@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_c_twin_equals_python(name, cmsis_objects, tmp_path):
    cfg = copy.deepcopy(CONFIGS[name])
    length = int(cfg["window_ms"] * RATE_HZ / 1000)
    seed = sorted(CONFIGS).index(name)
    windows = random_windows(seed, N_WINDOWS, length)
    py = python_reference(cfg, windows)
    norm, scaler = normalization_for(cfg, py)
    x_std = standardize(py, scaler)
    quant = input_quant_for(x_std, seed)
    expected_int8 = quantize_input(x_std, quant["scale"], quant["zero_point"])

    generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "gen")
    start = time.perf_counter()
    exe = build_twin(tmp_path / "gen", cmsis_objects, tmp_path / "twin")
    build_s = time.perf_counter() - start
    c_float, c_int8 = run_twin(exe, windows, py[0].size)

    c_float = c_float.reshape(py.shape)
    bit_exact = bool(np.array_equal(c_float.view(np.uint32), py.view(np.uint32)))
    mismatches = int(np.sum(c_int8 != expected_int8.reshape(len(py), -1)))
    MEASURED[name] = {"windows": N_WINDOWS, "features": int(py[0].size),
                      "max_rel_err": relative_error(c_float, py), "bit_exact": bit_exact,
                      "int8_mismatches": mismatches, "twin_build_s": round(build_s, 2)}
    print(f"\n{name}: {MEASURED[name]}")
    assert bit_exact and MEASURED[name]["max_rel_err"] == 0
    assert mismatches == 0


def test_stand_in_compiler_header_device_like_build(device_like_objects, tmp_path):
    """Without __GNUC_PYTHON__ (our cmsis_compiler.h) and with -DARM_MATH_LOOPUNROLL (other
    summation order): not bit-exact, so measure how far; int8 inputs at most
    1 step apart (a value on a rounding boundary may round the other way)."""
    cfg = CONFIGS["spectral_default"]
    windows = random_windows(99, N_WINDOWS, 100)
    py = python_reference(cfg, windows)
    norm, scaler = normalization_for(cfg, py)
    x_std = standardize(py, scaler)
    quant = input_quant_for(x_std, 99)
    generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "gen")
    exe = build_twin(tmp_path / "gen", device_like_objects, tmp_path / "twin", stand_in=True)
    c_float, c_int8 = run_twin(exe, windows, py.shape[1])
    diff = np.abs(c_int8.astype(np.int16) - quantize_input(x_std, **quant).astype(np.int16))
    err_in_std = np.abs(c_float.astype(np.float64) - py) / scaler["std"]
    generic = slice(N_EDGE_CASES, None)  # the edge-case windows come first (random_windows)
    MEASURED["device_like_stand_in"] = {
        "max_rel_err": relative_error(c_float[generic], py[generic]),
        "max_err_in_feature_std": float(err_in_std[generic].max()),
        "edge_cases_max_err_in_feature_std": float(err_in_std[:N_EDGE_CASES].max()),
        "int8_mismatches": int(np.sum(diff != 0))}
    print(f"\ndevice_like_stand_in: {MEASURED['device_like_stand_in']}")
    # Skew is ill-conditioned (m3 is a small difference of large cubes), so other summation
    # orders move a near-zero skew by ~1e-3 of itself; in units of the feature's spread (what
    # the model sees after standardisation) every feature stays within 1e-4. Not so for the
    # constant edge-case windows: there the filtered, mean-removed axis is float rounding noise
    # (band powers ~1e-9) and its log moves by ~4e-4 std with the rounding order.
    assert MEASURED["device_like_stand_in"]["max_err_in_feature_std"] <= 1e-4
    assert diff.max() <= 1


def test_only_the_fft_length_in_use_links_its_tables(cmsis_objects, tmp_path):
    cfg = CONFIGS["spectral_default"]
    py = python_reference(cfg, random_windows(5, 8, 100))
    norm, _ = normalization_for(cfg, py)
    generate_features(norm, cfg, RATE_HZ, {"scale": 0.05, "zero_point": 0}, tmp_path / "gen")
    exe = build_twin(tmp_path / "gen", cmsis_objects, tmp_path / "twin")
    symbols = subprocess.run(["nm", str(exe)], capture_output=True, text=True).stdout.split()
    tables = sorted(s for s in symbols if s.startswith(("twiddleCoef", "armBitRevIndexTable")))
    assert tables == ["armBitRevIndexTable32", "twiddleCoef_32", "twiddleCoef_rfft_64"]


def test_generated_header_is_deterministic(tmp_path):
    cfg = CONFIGS["spectral_default"]
    plan = make_spectral_plan(cfg, RATE_HZ, N_CHANNELS)
    norm = {"block": "spectral", "mean": [0.1] * plan.n_features, "std": [1.5] * plan.n_features}
    quant = {"scale": 0.0371, "zero_point": -7}
    first = generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "a").read_bytes()
    second = generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "b").read_bytes()
    assert first == second
    assert (tmp_path / "a" / HEADER_NAME).exists()
    other = generate_features(norm, cfg, RATE_HZ, {"scale": 0.0372, "zero_point": -7},
                              tmp_path / "c").read_bytes()
    assert other != first


@pytest.mark.parametrize("value", [0.1, -3.0, 1e-10, 1 / 3, 2.0 ** -149, 65504.0, -0.0])
def test_float_literals_are_exact(value):
    literal = c_float(value)
    assert literal.endswith("f")
    assert np.float32(float.fromhex(literal[:-1])) == np.float32(value)
    assert np.signbit(float.fromhex(literal[:-1])) == np.signbit(np.float32(value))


def test_header_rejects_mismatched_normalization(tmp_path):
    cfg = CONFIGS["spectral_default"]
    with pytest.raises(McuforgeError, match="normalization.json"):
        generate_features({"block": "spectral", "mean": [0.0] * 5, "std": [1.0] * 5}, cfg,
                          RATE_HZ, {"scale": 0.1, "zero_point": 0}, tmp_path)
    with pytest.raises(McuforgeError, match="block"):
        generate_features({"block": "raw", "mean": [0.0] * 54, "std": [1.0] * 54}, cfg,
                          RATE_HZ, {"scale": 0.1, "zero_point": 0}, tmp_path)


def test_sources_are_resolved_with_their_dependencies():
    names = {p.name for p in cds.cmsis_dsp_sources(["arm_rfft_fast_init_64_f32", "arm_sqrt_f32"])}
    assert names == {"arm_rfft_fast_init_f32.c", "arm_cfft_init_f32.c", "arm_common_tables.c",
                     "arm_const_structs.c"}
    root = cds.cmsis_dsp_root()
    assert (root / "Include" / "arm_math.h").is_file()
    assert ROOT not in root.parents  # the cache is outside the repository
    with pytest.raises(McuforgeError, match="FUNCTION_SOURCES"):
        cds.cmsis_dsp_sources(["arm_fir_f32"])


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(cds.CACHE_ENV, str(tmp_path))
    failed = subprocess.CompletedProcess([], 1, stdout="", stderr="No matching distribution")
    monkeypatch.setattr(cds.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(McuforgeError, match="could not download the CMSIS-DSP C sources"):
        cds.cmsis_dsp_root()


def test_corrupt_sdist_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setenv(cds.CACHE_ENV, str(tmp_path))
    (tmp_path / cds.SDIST_NAME).write_bytes(b"not the sdist")
    with pytest.raises(McuforgeError, match="sha256"):
        cds.cmsis_dsp_root()
    assert not (tmp_path / f"cmsisdsp-{cds.CMSISDSP_VERSION}").exists()


def test_int8_rounding_boundaries_and_saturation(cmsis_objects, tmp_path):
    """Raw block with mean 0, std 1, scale 0.5: values landing exactly on k + 0.5 round away
    from zero as quantize_input does; large values saturate."""
    cfg = CONFIGS["raw"]
    edges = np.array([0.25, -0.25, 0.75, -0.75, 63.75, -63.75, 0.0, -0.0, 1000.0, -1000.0,
                      0.2499999, -0.2500001, 31.25, -64.25, 1e-30, 1.0e30], dtype=np.float32)
    windows = np.resize(edges, (4, 100, N_CHANNELS)).astype(np.float32)
    windows[1:] *= np.float32(1.5)
    norm = {"block": "raw", "mean": [0.0] * N_CHANNELS, "std": [1.0] * N_CHANNELS,
            "input_shape": [100, N_CHANNELS]}
    quant = {"scale": 0.5, "zero_point": -1}
    generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "gen")
    exe = build_twin(tmp_path / "gen", cmsis_objects, tmp_path / "twin")
    _, c_int8 = run_twin(exe, windows, 100 * N_CHANNELS)
    expected = quantize_input(windows, **quant).reshape(len(windows), -1)
    np.testing.assert_array_equal(c_int8, expected)
    assert {-128, 127} <= set(expected.ravel().tolist())


def _table_edge_windows(norm: dict, quant: dict) -> np.ndarray:
    """Raw windows holding, per channel, every threshold of its table and the float just below it,
    plus zeros, infinities, subnormals, NaN and random values."""
    table = threshold_table(norm["mean"], norm["std"], quant["scale"], quant["zero_point"])
    rng = np.random.default_rng(11)
    columns = []
    for c in range(N_CHANNELS):
        keys = table[c, 1:].astype(np.int64)
        keys = keys[(keys >= KEY_MINUS_INF) & (keys <= KEY_PLUS_INF)]
        near = np.concatenate([from_key(keys), from_key(np.maximum(keys - 1, KEY_MINUS_INF))])
        special = np.float32([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3e38, -3e38])
        noise = (rng.standard_normal(1200) * 4 * norm["std"][c] + norm["mean"][c]).astype(np.float32)
        columns.append(np.concatenate([near, special, noise]).astype(np.float32))
    length = max(len(col) for col in columns)
    length += -length % 100
    data = np.stack([np.resize(col, length) for col in columns], axis=1)
    return data.reshape(-1, 100, N_CHANNELS)


def test_input_table_twin_equals_python_and_the_float_path(cmsis_objects, tmp_path):
    """The threshold table (mcuforge.codegen.input_table, features.c quantize_by_table) gives the
    Python standardise + quantise int8 for every non-NaN float, thresholds and their neighbours
    included, and the float path's value for NaN."""
    cfg = CONFIGS["raw"]
    norm = {"block": "raw", "mean": [0.1, -0.2, 0.98, 0.01, -0.03, 0.2], "std": [0.4, 0.35, 0.5, 1.2, 0.9, 1.1],
            "input_shape": [100, N_CHANNELS]}
    quant = {"scale": 0.0372, "zero_point": -7}
    windows = _table_edge_windows(norm, quant)
    generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "float")
    generate_features(norm, cfg, RATE_HZ, quant, tmp_path / "table", input_table_max_bytes=N_CHANNELS * 1024)
    assert "INPUT_TABLE" not in (tmp_path / "float" / HEADER_NAME).read_text()
    assert "INPUT_TABLE" in (tmp_path / "table" / HEADER_NAME).read_text()
    float_exe = build_twin(tmp_path / "float", cmsis_objects, tmp_path / "twin_float")
    table_exe = build_twin(tmp_path / "table", cmsis_objects, tmp_path / "twin_table",
                           extra_defines=("-DMCUFORGE_FEATURES_FORCE_TABLE",))
    _, by_float = run_twin(float_exe, windows, 100 * N_CHANNELS)
    _, by_table = run_twin(table_exe, windows, 100 * N_CHANNELS)
    scaler = {"mean": np.float32(norm["mean"]), "std": np.float32(norm["std"])}
    with np.errstate(over="ignore", invalid="ignore"):
        expected = quantize_input(standardize(windows, scaler), **quant).reshape(len(windows), -1)
    finite = ~np.isnan(windows.reshape(len(windows), -1))
    np.testing.assert_array_equal(by_table[finite], expected[finite])
    np.testing.assert_array_equal(by_table, by_float)
    assert {-128, 127} <= set(expected[finite].tolist())


def test_input_table_lookup_in_python_and_its_limits():
    mean, std, quant = [0.5, -1.0], [2.0, 0.25], {"scale": 0.02, "zero_point": 3}
    table = threshold_table(mean, std, quant["scale"], quant["zero_point"])
    assert table.shape == (2, 256) and table.dtype == np.int32
    assert np.all(np.diff(table.astype(np.int64), axis=1) >= 0)  # sorted: q is non-decreasing
    x = np.concatenate([from_key(table[0, 1:]), np.float32([np.inf, -np.inf, 0.0, -0.0]),
                        np.random.default_rng(0).normal(0, 5, 5000).astype(np.float32)])
    np.testing.assert_array_equal(lookup(x, table[0]), quantize_channel(x, mean[0], std[0], **quant))
    np.testing.assert_array_equal(key(from_key(np.int32([-5, 0, 7, KEY_PLUS_INF]))), [-5, 0, 7, KEY_PLUS_INF])
    with pytest.raises(McuforgeError, match="must be positive"):
        threshold_table([0.0], [-1.0], 0.02, 0)
    # the table is only written when it fits the byte budget
    cfg, norm = CONFIGS["raw"], {"block": "raw", "mean": mean * 3, "std": std * 3}
    from mcuforge.codegen.emit_features import features_header_text
    assert "INPUT_TABLE" not in features_header_text(norm, cfg, RATE_HZ, quant, 6 * 1024 - 1)
    with pytest.raises(McuforgeError, match="input_table_max_bytes"):
        features_header_text(norm, cfg, RATE_HZ, quant, -1)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed "
                    "(apt-get install gcc-arm-none-eabi)")
def test_cmsis_compiler_stand_in_defers_to_cmsis_core_further_down_the_include_path(tmp_path):
    """A Zephyr app puts firmware/features/include before the modules' CMSIS-Core: on a core with the
    DSP extension the stand-in must hand over to CMSIS-Core's header, and still refuse without it."""
    core = tmp_path / "core"
    core.mkdir()
    (core / "cmsis_compiler.h").write_text("#define REAL_CMSIS_CORE 1\n")
    (tmp_path / "use.c").write_text('#include "cmsis_compiler.h"\n'
                                    "#ifndef REAL_CMSIS_CORE\n#error stand-in used\n#endif\n")
    compile_m4 = ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-fsyntax-only",
                  "-I", str(ROOT / "firmware/features/include")]
    with_core = subprocess.run([*compile_m4, "-I", str(core), str(tmp_path / "use.c")], capture_output=True, text=True)
    assert with_core.returncode == 0, with_core.stderr
    alone = subprocess.run([*compile_m4, str(tmp_path / "use.c")], capture_output=True, text=True)
    assert alone.returncode != 0 and "this core has the DSP extension" in alone.stderr
