"""Our arm_vlog_f32 (firmware/features/src/arm_vlog_f32.c), linked instead of CMSIS-DSP's logf
loop on host and device: accuracy against float64 log over dense sweeps of float32 inputs,
CMSIS's (logf's) special values, that the Python side calls this very C function, and that
no other libm function than sqrtf is left on the feature path.

Run with -s to see the measured errors.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mcuforge.dsp import cmsis_dsp_sources as cds
from mcuforge.dsp import cmsis_host, host_dsp
from mcuforge.dsp.kernels import band_powers

ROOT = Path(__file__).resolve().parents[1]
VLOG_C = ROOT / "firmware" / "features" / "src" / "arm_vlog_f32.c"


def ulp_errors(bits: np.ndarray) -> np.ndarray:
    """|ours - log| in units of the float32 spacing at the exact result (float64 reference)."""
    x = bits.astype(np.uint32).view(np.float32)
    ours = cmsis_host.arm_vlog_f32(x).astype(np.float64)
    exact = np.log(x.astype(np.float64))
    return np.abs(ours - exact) / np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


SWEEPS = {
    # every 251st positive finite float: all binades, ~8.5 M values
    "all_positive_every_251st": lambda: np.arange(1, 0x7F800000, 251, dtype=np.uint32),
    # every float in [0.9375, 1.0625): where log(x) is small and cancellation would show
    "every_float_near_1": lambda: np.arange(0x3F700000, 0x3F880000, dtype=np.uint32),
    # subnormals (scaled by 2^25 first): every 7th
    "subnormals_every_7th": lambda: np.arange(1, 0x00800000, 7, dtype=np.uint32),
    # around the sqrt(2) split of the range reduction, both sides, every float
    "every_float_around_sqrt2": lambda: np.arange(0x3FB4F000, 0x3FB51000, dtype=np.uint32),
    # the MFCC's range: mel energies + 1e-6 (log floor) up to ~1e6, every 37th (~9 M values)
    "every_37th_float_1e-6_to_1e6": lambda: np.arange(0x358637BD, 0x49742400, 37, dtype=np.uint32),
}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_accuracy_below_one_ulp(name):
    err = ulp_errors(SWEEPS[name]())
    print(f"\n{name}: {err.size} values, max {err.max():.3f} ULP, "
          f"{np.mean(err > 0.5):.4%} not correctly rounded")
    assert err.max() < 1.0  # measured: <= 0.86 ULP
    # mostly the correctly rounded float (measured: 0.1-2.6 %; 13 % right below sqrt(2), where
    # s = f / (2 + f) is largest)
    assert np.mean(err > 0.5) < 0.2


def test_special_values_as_logf():
    x = np.array([0.0, -0.0, 1.0, np.inf, -1.0, -np.inf, np.nan, -1e-45], np.float32)
    y = cmsis_host.arm_vlog_f32(x)
    assert y[0] == -np.inf and y[1] == -np.inf
    assert y[2] == 0 and not np.signbit(y[2])
    assert y[3] == np.inf
    assert np.all(np.isnan(y[4:]))
    powers = np.ldexp(np.float32(1), np.arange(-149, 128)).astype(np.float32)
    exact = (np.arange(-149, 128) * np.log(2.0)).astype(np.float32)
    np.testing.assert_array_equal(cmsis_host.arm_vlog_f32(powers), exact)  # k*ln2 split is exact enough


def test_python_side_runs_this_c_file_and_cmsis_file_is_not_linked():
    assert cds.REPLACED == {"arm_vlog_f32": str(VLOG_C.relative_to(ROOT))}
    assert VLOG_C in host_dsp.OWN_SOURCES
    names = {p.name for p in cds.cmsis_dsp_sources(["arm_vlog_f32", "arm_mfcc_f32"])}
    assert "arm_vlog_f32.c" not in names and "arm_mfcc_f32.c" in names
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(host_dsp.build_library())],
                             capture_output=True, text=True, check=True).stdout
    assert " arm_vlog_f32" in symbols and " mf_mfcc_f32_batch" in symbols


def test_the_only_libm_call_left_is_sqrtf():
    """Every other C-library function's bits could differ between glibc and the device's libc;
    sqrtf is correctly rounded by IEEE 754 (SSE sqrtss, the M4's vsqrt.f32, newlib's soft sqrtf)."""
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(host_dsp.build_library())],
                               capture_output=True, text=True, check=True).stdout.split()
    names = {name.split("@")[0] for name in undefined if name not in ("U", "w")}
    assert names - {"malloc", "calloc", "free", "memcpy", "memset", "__cxa_finalize",
                    "__gmon_start__", "_ITM_deregisterTMCloneTable",
                    "_ITM_registerTMCloneTable"} == {"sqrtf"}


def test_spectral_band_log_uses_it():
    psd = np.abs(np.random.default_rng(0).normal(size=64)).astype(np.float32)
    start, stop = np.array([0, 10, 30]), np.array([10, 30, 64])
    logged = band_powers(psd, start, stop, np.float32(0.5), log_power=True)
    plain = band_powers(psd, start, stop, np.float32(0.5), log_power=False)
    expected = cmsis_host.arm_vlog_f32(plain + np.float32(1e-10)) * np.float32(1 / np.log(10))
    np.testing.assert_array_equal(logged, expected.astype(np.float32))
