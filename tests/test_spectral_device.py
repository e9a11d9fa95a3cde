"""The spectral block's C twin on the emulated Cortex-M4 (mps2-an386, hard float) and
Cortex-M3 (mps2-an385, soft float, the cmsis_compiler.h stand-in): its float features equal the
Python features (CMSIS-DSP with the device's float semantics, mcuforge.dsp.cmsis_host) to the
bit, and its int8 model inputs equal quantize_input's, on random IMU-like windows with the edge
cases (all zeros, constant axes, a large offset with tiny noise) for several configs.

Run with -s to see what ran.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcuforge.codegen.emit_features import c_float, generate_features
from mcuforge.codegen.tflm_runtime import quantize_input
from mcuforge.data.normalization import fit_standardizer, standardize
from mcuforge.dsp.spectral import make_spectral_plan, spectral_features_batch
from qemu_features import run_on_qemu
from test_features_c import CONFIGS, N_CHANNELS, RATE_HZ, random_windows

HARNESS = Path(__file__).resolve().parent / "c" / "spectral_qemu_harness.c"
QUANT = {"scale": 0.05, "zero_point": 3}
N_WINDOWS = 24
CASES = [(core, name) for core in ("cortex-m4", "cortex-m3")
         for name in ("spectral_default", "all_stats_mean_first_kept", "mean_rms_no_removal_fft128")]


@pytest.mark.parametrize("core,name", CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_spectral_twin_bit_exact_on_qemu(core, name, tmp_path):
    from mcuforge.firmware import baremetal

    if baremetal.missing_tools():
        pytest.skip(f"{baremetal.missing_tools()} not installed (scripts/setup.sh installs them)")
    cfg = CONFIGS[name]
    windows = random_windows(17, N_WINDOWS, int(cfg["window_ms"] * RATE_HZ / 1000))
    py = spectral_features_batch(windows, make_spectral_plan(cfg, RATE_HZ, N_CHANNELS))
    scaler = fit_standardizer(py)
    gen = tmp_path / "gen"
    generate_features({"block": "spectral", "mean": scaler["mean"].tolist(),
                       "std": scaler["std"].tolist()}, cfg, RATE_HZ, QUANT, gen)
    rows = ",\n".join("{" + ",".join(c_float(v) for v in w.reshape(-1)) + "}" for w in windows)
    (gen / "mf_windows.h").write_text(
        f"#define MF_N_WINDOWS {len(windows)}\n"
        f"static const float mf_windows[{len(windows)}][{windows[0].size}] = {{\n{rows}\n}};\n")
    raw = run_on_qemu(core, "spectral", gen, HARNESS, tmp_path)
    record = np.dtype([("f", np.float32, (py.shape[1],)), ("q", np.int8, (py.shape[1],))])
    out = np.frombuffer(raw, dtype=record)
    assert len(out) == len(windows)
    differ = int(np.sum(out["f"].view(np.uint32) != py.view(np.uint32)))
    assert differ == 0, f"{differ} of {py.size} features differ on {core}"
    np.testing.assert_array_equal(out["q"], quantize_input(standardize(py, scaler), **QUANT))
    print(f"\n{name} on QEMU {core}: {len(windows)} windows x {py.shape[1]} features bit-exact")
