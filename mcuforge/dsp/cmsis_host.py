"""The cmsisdsp Python API's f32 functions the spectral block uses, over CMSIS-DSP's C compiled
with the device's float semantics (mcuforge.dsp.host_dsp) instead of the cmsisdsp wheel
(-O3 -ffast-math: sums in another order than the Cortex-M's). Same names, arguments and results
as cmsisdsp's, so mcuforge/dsp/kernels.py reads as before; instance-bearing calls take the
length / coefficients instead of an instance (firmware/features/host/spectral_calls.c).
Every call copies its inputs to contiguous float32 and returns new float32 arrays. Arrays go to
C as pointers into their buffers (ctypes.c_char.from_buffer, ~0.5 us): numpy's ndpointer or
__array_interface__ cost 5-10 us a call, which made the spectral block 3-8x slower.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

from mcuforge.dsp import host_dsp
from mcuforge.errors import McuforgeError

F32 = np.float32
_P = ctypes.c_void_p
_U32, _F, _FP = ctypes.c_uint32, ctypes.c_float, ctypes.POINTER(ctypes.c_float)


@lru_cache(maxsize=None)
def _fn(name: str):
    signatures = {
        "arm_mean_f32": (_P, _U32, _FP), "arm_rms_f32": (_P, _U32, _FP),
        "arm_accumulate_f32": (_P, _U32, _FP),
        "arm_offset_f32": (_P, _F, _P, _U32), "arm_scale_f32": (_P, _F, _P, _U32),
        "arm_mult_f32": (_P, _P, _P, _U32), "arm_add_f32": (_P, _P, _P, _U32),
        "arm_cmplx_mag_squared_f32": (_P, _P, _U32), "arm_vlog_f32": (_P, _P, _U32),
    }
    special = {"mf_biquad_df2T_f32": ((_U32, _P, _P, _P, _U32), ctypes.c_int),
               "mf_rfft_fast_f32": ((_U32, _P, _P), ctypes.c_int),
               "mf_sqrt_f32": ((_F, _FP), ctypes.c_int)}
    if name in special:
        return host_dsp.declare(name, *special[name])
    return host_dsp.declare(name, signatures[name])


def _vec(x) -> np.ndarray:
    """Contiguous, writable float32 (ctypes.c_char.from_buffer needs a writable buffer)."""
    array = np.ascontiguousarray(x, dtype=F32).reshape(-1)
    return array if array.flags.writeable else array.copy()


def _at(array: np.ndarray):
    """A pointer to a _vec array's data (the caller keeps the array alive); None when empty."""
    return ctypes.byref(ctypes.c_char.from_buffer(array)) if array.size else None


def _scalar(name: str, x) -> float:
    x, out = _vec(x), _F()
    _fn(name)(_at(x), len(x), ctypes.byref(out))
    return float(F32(out.value))


def arm_mean_f32(x) -> float:
    return _scalar("arm_mean_f32", x)


def arm_rms_f32(x) -> float:
    return _scalar("arm_rms_f32", x)


def arm_accumulate_f32(x) -> float:
    return _scalar("arm_accumulate_f32", x)


def _elementwise(name: str, a, b) -> np.ndarray:
    """name(a, b, out, n): b an array of a's length, or a scalar (arm_offset_f32, arm_scale_f32)."""
    a = _vec(a)
    out = np.empty_like(a)
    if np.ndim(b):
        b = _vec(b)
        if len(b) != len(a):
            raise McuforgeError(f"{name}: lengths {len(a)} and {len(b)} differ")
        _fn(name)(_at(a), _at(b), _at(out), len(a))
    else:
        _fn(name)(_at(a), F32(b), _at(out), len(a))
    return out


def arm_offset_f32(x, offset) -> np.ndarray:
    return _elementwise("arm_offset_f32", x, offset)


def arm_scale_f32(x, scale) -> np.ndarray:
    return _elementwise("arm_scale_f32", x, scale)


def arm_mult_f32(a, b) -> np.ndarray:
    return _elementwise("arm_mult_f32", a, b)


def arm_add_f32(a, b) -> np.ndarray:
    return _elementwise("arm_add_f32", a, b)


def arm_cmplx_mag_squared_f32(x) -> np.ndarray:
    """(re0, im0, re1, im1, ...) -> |z_k|^2, len(x) // 2 values."""
    x = _vec(x)
    out = np.empty(len(x) // 2, dtype=F32)
    _fn("arm_cmplx_mag_squared_f32")(_at(x), _at(out), len(out))
    return out


def arm_sqrt_f32(value) -> tuple[int, float]:
    out = _F()
    status = _fn("mf_sqrt_f32")(F32(value), ctypes.byref(out))
    return status, float(F32(out.value))


def arm_vlog_f32(x) -> np.ndarray:
    """Ours (firmware/features/src/arm_vlog_f32.c), not CMSIS's logf loop."""
    x = _vec(x)
    out = np.empty_like(x)
    _fn("arm_vlog_f32")(_at(x), _at(out), len(x))
    return out


def rfft_fast_f32(fft_length: int, x) -> np.ndarray:
    """arm_rfft_fast_init_f32(&S, N); arm_rfft_fast_f32(&S, x, X, 0): X = [DC, Nyquist, re1,
    im1, ...] (N floats). x is copied (the C function uses its input as scratch)."""
    x = _vec(x).copy()
    out = np.empty(fft_length, dtype=F32)
    if len(x) != fft_length or _fn("mf_rfft_fast_f32")(fft_length, _at(x), _at(out)) != 0:
        raise McuforgeError(f"arm_rfft_fast_f32: fft_length={fft_length} with {len(x)} samples; "
                            f"supported: powers of two 32..4096, one sample per point")
    return out


def biquad_df2T_f32(coeffs: np.ndarray, x) -> np.ndarray:
    """arm_biquad_cascade_df2T_init_f32 (zero state) + arm_biquad_cascade_df2T_f32 over x;
    coeffs float32 (n_stages, 5) rows [b0, b1, b2, -a1, -a2]."""
    x, flat = _vec(x), _vec(coeffs)
    out = np.empty_like(x)
    if _fn("mf_biquad_df2T_f32")(coeffs.shape[0], _at(flat), _at(x), _at(out), len(x)) != 0:
        raise McuforgeError("arm_biquad_cascade_df2T_f32: out of memory for the filter state")
    return out
