"""CMSIS-DSP's C source compiled for the host with the DEVICE's float semantics, loaded with ctypes.

The `mfcc` block (variant f32) computes its features through this library, not through the
cmsisdsp wheel: the wheel is built with -O3 -ffast-math (vectorised sums in another order) and
its arm_vlog_f32 calls glibc's logf, so its last bits differ from what the Cortex-M computes.
Here the same C the device runs -- CMSIS-DSP's arm_mfcc_f32 and what it calls, our
arm_vlog_f32 (firmware/features/src/arm_vlog_f32.c) and a batch loop making mfcc.c's per-frame
calls (firmware/features/host/mfcc_f32_batch.c), and the spectral block's CMSIS functions
(mcuforge.dsp.cmsis_host, with firmware/features/host/spectral_calls.c) -- is compiled with HOST_CFLAGS: -O2, no
-ffast-math, -ffp-contract=off (as the device build, mcuforge.firmware.firmware_image.TWIN_FLAGS),
and -D__GNUC_PYTHON__ (the device's generic C paths). x86-64 does float32 arithmetic in SSE
registers (no excess precision), one correctly rounded IEEE operation each, like the Cortex-M4
FPU and the Cortex-M3's soft float: the same bits.

    lib = host_library()                      # built once per source hash, cached, atomic
    f = declare("arm_mean_f32", argtypes)     # a function of it, typed (mcuforge.dsp.cmsis_host)
    feats = mfcc_f32_batch(windows, plan)     # (N, T) float32 -> (N, frames, coeffs)

Build: gcc (already needed by the verify stage, as mcuforge.codegen.host_build) compiles every
source in one command into <cache>/host-dsp/<sha256 of sources, flags, gcc version>/, written
into a temporary folder and renamed into place (a reader sees a complete library or none).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from mcuforge.dsp import cmsis_dsp_sources as cmsis
from mcuforge.errors import McuforgeError

FEATURES_DIR = Path(__file__).resolve().parents[2] / "firmware" / "features"
OWN_SOURCES = (FEATURES_DIR / "src" / "arm_vlog_f32.c", FEATURES_DIR / "host" / "mfcc_f32_batch.c",
               FEATURES_DIR / "host" / "spectral_calls.c")
# the mfcc block's f32 functions and every function of the spectral block (mcuforge.dsp.cmsis_host)
CMSIS_FUNCTIONS = ("arm_mfcc_init_f32", "arm_mfcc_f32", "arm_biquad_cascade_df2T_init_f32",
                   "arm_biquad_cascade_df2T_f32", "arm_mean_f32", "arm_offset_f32", "arm_mult_f32",
                   "arm_rms_f32", "arm_rfft_fast_init_f32", "arm_rfft_fast_f32",
                   "arm_cmplx_mag_squared_f32", "arm_add_f32", "arm_accumulate_f32",
                   "arm_scale_f32")
# The device's float semantics on the host (for CMSIS-DSP's sources and any twin linked with them).
DEVICE_FLOAT_CFLAGS = ("-std=c11", "-O2", "-ffp-contract=off", "-fno-fast-math", "-D__GNUC_PYTHON__")
HOST_CFLAGS = (*DEVICE_FLOAT_CFLAGS, "-fPIC", "-shared", "-w")
LIB_NAME = "libmcuforge_dsp.so"
_F32_P = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
_U32_P = np.ctypeslib.ndpointer(np.uint32, flags="C_CONTIGUOUS")
_U32 = ctypes.c_uint32


def _gcc_identity() -> str:
    try:
        result = subprocess.run(["gcc", "-dumpfullversion", "-dumpmachine"], capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        result = None
    if result is None or result.returncode != 0:
        raise McuforgeError("gcc not found: the mfcc features compile CMSIS-DSP's C source for "
                            "the host; install gcc (`bash scripts/setup.sh` does it)")
    return result.stdout


def _sources() -> list[Path]:
    return [*cmsis.cmsis_dsp_sources(CMSIS_FUNCTIONS), *OWN_SOURCES]


def _key(sources: list[Path]) -> str:
    digest = hashlib.sha256()
    for part in (cmsis.CMSISDSP_VERSION, *HOST_CFLAGS, _gcc_identity()):
        digest.update(part.encode() + b"\0")
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_library() -> Path:
    """The shared library, compiled on first use into the cache (keyed by the sources' hash)."""
    sources = _sources()
    target_dir = cmsis.cache_dir() / "host-dsp" / _key(sources)
    lib = target_dir / LIB_NAME
    if lib.is_file():
        return lib
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target_dir.parent) as tmp:
        built = Path(tmp) / "lib"
        built.mkdir()
        includes = [f"-I{d}" for d in cmsis.include_dirs()]
        cmd = ["gcc", *HOST_CFLAGS, *includes, *map(str, sources), "-o", str(built / LIB_NAME),
               "-lm"]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise McuforgeError(f"compiling CMSIS-DSP for the host failed:\n{' '.join(cmd)}\n"
                                f"{result.stderr[-3000:]}")
        try:
            os.rename(built, target_dir)  # atomic; a concurrent builder may have won
        except OSError:
            if not lib.is_file():
                raise
    return lib


@lru_cache(maxsize=None)
def host_library() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(build_library()))
    lib.mf_mfcc_f32_batch.argtypes = (_F32_P, *[_U32] * 8, _F32_P, _U32_P, _U32_P, _F32_P, _F32_P,
                                      _F32_P)
    lib.mf_mfcc_f32_batch.restype = ctypes.c_int
    return lib


def declare(name: str, argtypes: tuple, restype=None):
    """The library's function `name` with its ctypes signature set (once per process)."""
    function = getattr(host_library(), name)
    function.argtypes, function.restype = argtypes, restype
    return function


def mfcc_f32_batch(windows: np.ndarray, plan) -> np.ndarray:
    """(N, window_length) float32 -> (N, frames, coefficients) float32 through arm_mfcc_f32,
    frame by frame as firmware/features/src/mfcc.c (plan: mcuforge.dsp.mfcc.MfccPlan, f32)."""
    c = plan.config
    windows = np.ascontiguousarray(windows, dtype=np.float32)
    return _mfcc_f32(windows, len(windows), c.window_length, c.n_frames, plan)


def mfcc_f32_stream(samples: np.ndarray, n_hops: int, plan) -> np.ndarray:
    """(T,) float32 -> (n_hops, coefficients): frame h = samples[h * hop, h * hop + frame), as
    mcuforge_mfcc_frame_pcm computes it on a stream (the batch loop, one frame per hop-long window)."""
    c = plan.config
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if n_hops and (n_hops - 1) * c.hop_length + c.frame_length > len(samples):
        raise McuforgeError(f"{n_hops} hops need {(n_hops - 1) * c.hop_length + c.frame_length} samples, "
                            f"got {len(samples)}")
    return _mfcc_f32(samples, n_hops, c.hop_length, 1, plan)[:, 0]


def _mfcc_f32(samples: np.ndarray, n_windows: int, window_length: int, n_frames: int, plan) -> np.ndarray:
    c = plan.config
    out = np.empty((n_windows, n_frames, c.coefficients), dtype=np.float32)
    if not n_windows:
        return out
    status = host_library().mf_mfcc_f32_batch(
        samples, n_windows, window_length, c.frame_length, c.hop_length, n_frames,
        c.fft_length, c.mel_bands, c.coefficients, np.ascontiguousarray(plan.dct_coefs, np.float32),
        np.ascontiguousarray(plan.filter_pos, np.uint32),
        np.ascontiguousarray(plan.filter_lengths, np.uint32),
        np.ascontiguousarray(plan.filter_coefs, np.float32),
        np.ascontiguousarray(plan.window_coefs, np.float32), out)
    if status != 0:
        raise McuforgeError(f"mf_mfcc_f32_batch failed with status {status} (-1: arm_mfcc_init_f32 "
                            f"rejected fft_length={c.fft_length}; -2: out of memory)")
    return out
