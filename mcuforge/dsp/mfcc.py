"""The `mfcc` feature block: CMSIS-DSP's own MFCC (arm_mfcc_f32, or arm_mfcc_q15 for boards
without an FPU) over the frames of each window.

variant f32 runs CMSIS-DSP's C source compiled for the host with the device's float semantics
(mcuforge.dsp.host_dsp: no -ffast-math, -ffp-contract=off, our arm_vlog_f32), so the features are
the device's bit for bit; the cmsisdsp wheel's arm_mfcc_f32 (-O3 -ffast-math, glibc logf) stays
as the reference (wheel_mfcc_f32_batch, `mfcc_f32_vs_cmsisdsp_wheel` in reports/verify.json:
the same MFCC up to summation order and the log's last bit). variant q15 (integer arithmetic,
the same bits anywhere) runs through the cmsisdsp Python API.

    plan = make_mfcc_plan(cfg, sample_rate_hz)          # validate + build the tables
    coeffs = mfcc_features(window, plan)                 # (T,) or (T, 1) float32 -> (frames, coeffs)
    feats = mfcc_features_batch(windows, plan)           # (N, T, 1) -> (N, frames, coeffs) float32
    consts = plan_constants(plan)                        # every table the C twin needs

Tables: the mel filter bank and the DCT matrix come from cmsisdsp.mfcc.melFilterMatrix and
dctMatrix, the window from arm_hanning_f32 / arm_hamming_f32 (over frame_length samples,
zero-padded to fft_length), converted to q15 with cmsisdsp.datatype for the q15 variant.
output: log_mel runs the same arm_mfcc_f32 with an identity "DCT" matrix (x*1 + 0*y... is exact),
so the natural-log mel energies come out unchanged.

Frame f of a window covers samples [f*hop, f*hop + frame_length), zero-padded to fft_length.
The q15 variant takes the samples as q15 (int16 PCM = sample * 32768, exact for int16 PCM / 32768
windows) and its q8.7 output is returned as float32 q / 128 (exact).
The C twin (firmware/features/src/mfcc.c) makes the same calls frame by frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cmsisdsp as dsp
import cmsisdsp.datatype as dt
import cmsisdsp.mfcc as cmfcc
import numpy as np

from mcuforge.dsp import host_dsp
from mcuforge.dsp.mfcc_config import MfccConfig, validate_mfcc_config
from mcuforge.errors import McuforgeError

F32 = np.float32
Q15_OUTPUT_SCALE = F32(1.0 / 128.0)  # arm_mfcc_q15 writes q8.7
PCM_SCALE = 32768.0
# The CMSIS-DSP functions firmware/features/src/mfcc.c calls (with what they call, see
# mcuforge.dsp.cmsis_dsp_sources); both variants, unused ones are dropped by --gc-sections.
CMSIS_FUNCTIONS = ("arm_mfcc_init_f32", "arm_mfcc_f32", "arm_mfcc_init_q15", "arm_mfcc_q15")
_WINDOWS = {"hann": dsp.arm_hanning_f32, "hamming": dsp.arm_hamming_f32}


@dataclass(frozen=True, eq=False)
class MfccPlan:
    """Validated config plus every table (pure data: the CMSIS instance is made per call)."""
    config: MfccConfig
    window_coefs: np.ndarray     # (fft_length,) float32 | int16 (q15)
    filter_pos: np.ndarray       # (mel_bands,) uint32: first FFT bin of each filter
    filter_lengths: np.ndarray   # (mel_bands,) uint32
    filter_coefs: np.ndarray     # packed filters, float32 | int16 (q15)
    dct_coefs: np.ndarray        # (coefficients * mel_bands,) row-major, float32 | int16 (q15)

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.config.n_frames, self.config.coefficients


def _mel_filters(c: MfccConfig, dtype: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cmsisdsp.mfcc.melFilterMatrix, checked: its scan for each filter's non-zero run assumes
    every filter holds a bin and ends before the last bin (else it keeps a stale end)."""
    problem = (f"features.mel_bands={c.mel_bands} with fft_length={c.fft_length} over "
               f"{c.fmin_hz:g}-{c.fmax_hz:g} Hz")
    try:
        lengths, pos, coefs = cmfcc.melFilterMatrix(dtype, c.fmin_hz, c.fmax_hz, c.mel_bands,
                                                    c.sample_rate_hz, c.fft_length)
    except (UnboundLocalError, NameError) as err:
        raise McuforgeError(f"{problem}: a mel filter holds no FFT bin; use fewer mel_bands, a "
                            f"longer fft_length or a wider fmin_hz-fmax_hz ({err})") from None
    lengths, pos = np.asarray(lengths, np.int64), np.asarray(pos, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    bins = c.fft_length // 2 + 1
    for i, (start, length) in enumerate(zip(pos, lengths)):
        if length < 1 or start + length > bins or np.any(coefs[offsets[i]:offsets[i] + length] <= 0):
            raise McuforgeError(f"{problem}: mel filter {i} holds no FFT bin (or runs into the "
                                f"last bin); use fewer mel_bands, a longer fft_length or a lower "
                                f"fmax_hz")
    return pos.astype(np.uint32), lengths.astype(np.uint32), np.asarray(coefs)


def make_mfcc_plan(cfg: dict, sample_rate_hz: float) -> MfccPlan:
    """Validate the config (McuforgeError naming the field) and build the CMSIS tables."""
    c = validate_mfcc_config(cfg, sample_rate_hz)
    dtype = dt.Q15 if c.variant == "q15" else dt.F32
    window = np.zeros(c.fft_length, dtype=F32)
    window[:c.frame_length] = _WINDOWS[c.window](c.frame_length)
    pos, lengths, coefs = _mel_filters(c, dtype)
    if c.output == "log_mel":
        dct = np.eye(c.mel_bands, dtype=F32).reshape(-1)
    else:
        dct = cmfcc.dctMatrix(dtype, c.coefficients, c.mel_bands)
    plan = MfccPlan(config=c, window_coefs=dt.convert(window, dtype), filter_pos=pos,
                    filter_lengths=lengths, filter_coefs=coefs, dct_coefs=np.asarray(dct))
    for arr in (plan.window_coefs, plan.filter_pos, plan.filter_lengths, plan.filter_coefs,
                plan.dct_coefs):
        arr.setflags(write=False)
    return plan


def mfcc_instance(plan: MfccPlan):
    """An initialised arm_mfcc_instance_{f32,q15} (CMSIS: arm_mfcc_init_<N>_{f32,q15})."""
    c = plan.config
    if c.variant == "q15":
        inst, init = dsp.arm_mfcc_instance_q15(), dsp.arm_mfcc_init_q15
    else:
        inst, init = dsp.arm_mfcc_instance_f32(), dsp.arm_mfcc_init_f32
    status = init(inst, c.fft_length, c.mel_bands, c.coefficients, plan.dct_coefs,
                  plan.filter_pos, plan.filter_lengths, plan.filter_coefs, plan.window_coefs)
    if status != 0:
        raise McuforgeError(f"arm_mfcc_init rejected fft_length={c.fft_length} (status {status})")
    return inst


def mfcc_frame(frame: np.ndarray, plan: MfccPlan, instance) -> np.ndarray:
    """One frame (frame_length,) float32 -> (coefficients,) float32 through the cmsisdsp wheel
    (f32: the reference only, see wheel_mfcc_f32_batch; the block's f32 is host_dsp's).

    f32, CMSIS: buf = [frame, zeros]; arm_mfcc_f32(&S, buf, out, tmp)         (buf is scratch)
    q15, CMSIS: buf = [frame * 32768 as q15, zeros]; arm_mfcc_q15(&S, buf, q, tmp);
                out = (float)q * (1/128)
    """
    c = plan.config
    if c.variant == "q15":
        buf = np.zeros(c.fft_length, dtype=np.int16)
        buf[:c.frame_length] = (frame.astype(np.float64) * PCM_SCALE).astype(np.int16)
        status, q = dsp.arm_mfcc_q15(instance, buf, np.zeros(c.fft_length, dtype=np.int32))
        if status != 0:
            raise McuforgeError(f"arm_mfcc_q15 failed with status {status}")
        return q.astype(F32) * Q15_OUTPUT_SCALE
    buf = np.zeros(c.fft_length, dtype=F32)
    buf[:c.frame_length] = frame
    return dsp.arm_mfcc_f32(instance, buf, np.zeros(c.fft_length, dtype=F32))


def _check(windows: np.ndarray, plan: MfccPlan, batch: bool) -> np.ndarray:
    c = plan.config
    windows = np.asarray(windows)
    if windows.ndim == (2 if batch else 1):
        windows = windows[..., None]
    lead = "(N, " if batch else "("
    if windows.ndim != (3 if batch else 2) or windows.shape[-2:] != (c.window_length, 1):
        raise McuforgeError(f"mfcc features: window shape {windows.shape} != {lead}"
                            f"{c.window_length}, 1) (window_ms x sample rate, one audio channel); "
                            f"re-window the data with this features config")
    if not np.issubdtype(windows.dtype, np.floating):
        raise McuforgeError(f"mfcc features: window dtype {windows.dtype} must be float32")
    windows = windows[..., 0].astype(F32, copy=False)
    if c.variant == "q15":
        pcm = windows.astype(np.float64) * PCM_SCALE
        if np.any(pcm != np.round(pcm)) or np.any(pcm < -32768) or np.any(pcm > 32767):
            raise McuforgeError("mfcc features (variant q15): samples must be int16 PCM / 32768 "
                                "(the audio ingest writes them so); re-ingest, or use variant: f32")
    return windows


def _frames(samples: np.ndarray, plan: MfccPlan, instance) -> np.ndarray:
    c = plan.config
    out = np.empty(plan.output_shape, dtype=F32)
    for f in range(c.n_frames):
        out[f] = mfcc_frame(samples[f * c.hop_length: f * c.hop_length + c.frame_length], plan,
                            instance)
    return out


def clip_normalize(features: np.ndarray, plan: MfccPlan) -> np.ndarray:
    """features.clip_norm over (N, frames, coefficients): `mean` subtracts from each coefficient its
    mean over the clip's frames (cepstral mean normalisation, against speaker / channel shift).
    Float32 as the C twin (mfcc.c clip_normalize): sum frame by frame in order, / frames, subtract."""
    if plan.config.clip_norm == "none":
        return features
    acc = np.zeros((features.shape[0], features.shape[2]), dtype=F32)
    for f in range(features.shape[1]):
        acc += features[:, f]
    return features - (acc / F32(features.shape[1]))[:, None, :]


def mfcc_features(window: np.ndarray, plan: MfccPlan) -> np.ndarray:
    """One window (T,) or (T, 1) -> (frames, coefficients) float32."""
    return mfcc_features_batch(_check(window, plan, batch=False)[None], plan)[0]


def _wheel_batch(samples: np.ndarray, plan: MfccPlan) -> np.ndarray:
    instance = mfcc_instance(plan)
    out = np.empty((len(samples), *plan.output_shape), dtype=F32)
    for i, window in enumerate(samples):
        out[i] = _frames(window, plan, instance)
    return out


def mfcc_features_batch(windows: np.ndarray, plan: MfccPlan) -> np.ndarray:
    """(N, T, 1) -> (N, frames, coefficients) float32: f32 in one host_dsp call (the C loop over
    windows and frames inside), q15 through the cmsisdsp API with one instance for the batch."""
    samples = _check(windows, plan, batch=True)
    if plan.config.variant == "f32":
        return clip_normalize(host_dsp.mfcc_f32_batch(samples, plan), plan)
    return clip_normalize(_wheel_batch(samples, plan), plan)


def wheel_mfcc_f32_batch(windows: np.ndarray, plan: MfccPlan) -> np.ndarray:
    """The reference: the cmsisdsp wheel's arm_mfcc_f32 on the same windows (f32 plans)."""
    return clip_normalize(_wheel_batch(_check(windows, plan, batch=True), plan), plan)


def feature_names(plan: MfccPlan) -> list[str]:
    """Per-coefficient names (the standardiser's unit: the last axis): mfcc_0.. or log_mel_0.."""
    prefix = "mfcc" if plan.config.output == "mfcc" else "log_mel"
    return [f"{prefix}_{i}" for i in range(plan.config.coefficients)]


def plan_constants(plan: MfccPlan) -> dict:
    """Every constant the C twin needs (arrays as the kernels use them)."""
    c = plan.config
    return {
        "window_length": c.window_length, "q15": int(c.variant == "q15"),
        "clip_norm": int(c.clip_norm == "mean"),
        "frame_length": c.frame_length, "hop_length": c.hop_length, "n_frames": c.n_frames,
        "fft_length": c.fft_length, "mel_bands": c.mel_bands, "coefficients": c.coefficients,
        "n_filter_coefs": len(plan.filter_coefs), "window_coefs": plan.window_coefs.copy(),
        "filter_pos": plan.filter_pos.copy(), "filter_lengths": plan.filter_lengths.copy(),
        "filter_coefs": plan.filter_coefs.copy(), "dct_coefs": plan.dct_coefs.copy(),
    }


def _error_stats(values: np.ndarray, reference: np.ndarray) -> dict:
    """Per value: abs = |values - reference|, rel = abs / max(|reference|, 1)."""
    err = np.abs(values.astype(np.float64) - reference)
    rel = err / np.maximum(np.abs(reference), 1.0)
    empty = not err.size
    return {key: None if empty else float(value) for key, value in (
        ("max_abs_err", err.max(initial=0)), ("mean_abs_err", err.mean() if err.size else 0),
        ("max_rel_err", rel.max(initial=0)), ("mean_rel_err", rel.mean() if rel.size else 0))}


def q15_error_vs_f32(windows: np.ndarray, cfg: dict, sample_rate_hz: float) -> dict:
    """What variant q15 costs: its features against arm_mfcc_f32's on the same windows."""
    q15 = mfcc_features_batch(windows, make_mfcc_plan({**cfg, "variant": "q15"}, sample_rate_hz))
    f32 = mfcc_features_batch(windows, make_mfcc_plan({**cfg, "variant": "f32"}, sample_rate_hz))
    return {"windows": len(windows), **_error_stats(q15, f32)}


def f32_error_vs_wheel(windows: np.ndarray, cfg: dict, sample_rate_hz: float) -> dict:
    """The f32 features (device float semantics) against the cmsisdsp wheel's arm_mfcc_f32: the
    same CMSIS-DSP MFCC up to summation order and the log's last bit."""
    plan = make_mfcc_plan(cfg, sample_rate_hz)
    ours, wheel = mfcc_features_batch(windows, plan), wheel_mfcc_f32_batch(windows, plan)
    differ = int(np.sum(ours.view(np.uint32) != wheel.view(np.uint32)))
    return {"windows": len(windows), "values_differing": differ, **_error_stats(ours, wheel)}


def variant_report(windows: np.ndarray, cfg: dict, sample_rate_hz: float) -> dict:
    """For reports/verify.json when the block is mfcc: {"mfcc_q15_vs_f32": ...} (variant q15, its
    cost) or {"mfcc_f32_vs_cmsisdsp_wheel": ...} (variant f32, against the reference)."""
    if cfg.get("block") != "mfcc":
        return {}
    if cfg.get("variant") == "q15":
        return {"mfcc_q15_vs_f32": q15_error_vs_f32(windows, cfg, sample_rate_hz)}
    return {"mfcc_f32_vs_cmsisdsp_wheel": f32_error_vs_wheel(windows, cfg, sample_rate_hz)}
