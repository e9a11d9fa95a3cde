"""The `spectral` feature block: per window and per axis, filter -> mean removal -> stats ->
Welch PSD -> band powers, all arithmetic through CMSIS-DSP (see kernels.py for the call order).

    plan = make_spectral_plan(cfg, sample_rate_hz, n_channels)   # validate + precompute constants
    feats = spectral_features(window, plan)                      # (T, C) -> (F,) float32
    feats = spectral_features_batch(windows, plan)               # (N, T, C) -> (N, F) float32
    names = feature_names(plan, channels)                        # F names, e.g. acc_x_rms
    consts = plan_constants(plan)                                # every constant the C twin needs

Feature layout: for each channel in order, [stats in config order..., band powers in edge order...].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcuforge.dsp import design, kernels
from mcuforge.dsp.config import SpectralConfig, validate_spectral_config
from mcuforge.errors import McuforgeError

F32 = np.float32
# Stable ids for the stats, for the generated C header (stat_ids in plan_constants).
STAT_IDS = {"mean": 0, "std": 1, "rms": 2, "skew": 3, "kurtosis": 4}
MOMENT_STATS = frozenset({"std", "skew", "kurtosis"})


@dataclass(frozen=True, eq=False)
class SpectralPlan:
    """Validated config plus every precomputed constant. Pure data (picklable)."""
    config: SpectralConfig
    biquad_coeffs: np.ndarray | None      # float32 (n_stages, 5) [b0, b1, b2, -a1, -a2], or None
    hann: np.ndarray                      # float32 (fft_length,)
    n_segments: int
    psd_scale: np.ndarray                 # float32 (fft_length/2 + 1,)
    bin_start: np.ndarray                 # int32 (n_bands,)
    bin_stop: np.ndarray                  # int32 (n_bands,), exclusive
    bin_width_hz: np.float32

    @property
    def n_bands(self) -> int:
        return len(self.bin_start)

    @property
    def n_features_per_channel(self) -> int:
        return len(self.config.stats) + self.n_bands

    @property
    def n_features(self) -> int:
        return self.config.n_channels * self.n_features_per_channel


def make_spectral_plan(cfg: dict, sample_rate_hz: float, n_channels: int) -> SpectralPlan:
    """Validate the config (McuforgeError naming the field) and precompute all constants."""
    c = validate_spectral_config(cfg, sample_rate_hz, n_channels)
    coeffs = None
    if c.filter_type != "none":
        coeffs = design.butter_df2t_coeffs(c.filter_type, c.filter_order, c.cutoff_hz,
                                           c.sample_rate_hz)
    hann = design.hann_window(c.fft_length)
    n_segments = design.welch_n_segments(c.window_length, c.fft_length, c.fft_step)
    ranges = design.band_bin_ranges(list(c.band_edges_hz), c.fft_length, c.sample_rate_hz)
    bin_width = c.sample_rate_hz / c.fft_length
    for (lo, hi), (start, stop) in zip(zip(c.band_edges_hz[:-1], c.band_edges_hz[1:]), ranges):
        if stop <= start:
            raise McuforgeError(
                f"features.band_edges_hz: band {lo:g}-{hi:g} Hz contains no FFT bin (bins are "
                f"{bin_width:g} Hz apart with fft_length={c.fft_length} at {c.sample_rate_hz:g} Hz); "
                f"use a longer features.fft_length or widen the band")
    for arr in (hann,) + (() if coeffs is None else (coeffs,)):
        arr.setflags(write=False)
    plan = SpectralPlan(
        config=c, biquad_coeffs=coeffs, hann=hann, n_segments=n_segments,
        psd_scale=design.welch_psd_scale(hann, c.sample_rate_hz, n_segments),
        bin_start=np.array([r[0] for r in ranges], dtype=np.int32),
        bin_stop=np.array([r[1] for r in ranges], dtype=np.int32),
        bin_width_hz=F32(bin_width))
    for arr in (plan.psd_scale, plan.bin_start, plan.bin_stop):
        arr.setflags(write=False)
    return plan


def axis_features(x: np.ndarray, plan: SpectralPlan) -> np.ndarray:
    """Features of one axis (T,) float32: [stats..., band powers...] float32."""
    c = plan.config
    if plan.biquad_coeffs is not None:
        x = kernels.biquad_filter(x, plan.biquad_coeffs)
    # `mean` is the axis mean before mean removal (after it, it would always be ~0): for an IMU
    # it carries the orientation of gravity.
    axis_mean = kernels.stat_mean(x) if "mean" in c.stats else None
    if c.remove_mean:
        x = kernels.remove_mean(x)
    stats = np.empty(len(c.stats), dtype=F32)
    if MOMENT_STATS.intersection(c.stats):
        mean, m2, m3, m4 = kernels.central_moments(x)
    for i, name in enumerate(c.stats):
        if name == "mean":
            stats[i] = axis_mean
        elif name == "rms":
            stats[i] = kernels.stat_rms(x)
        elif name == "std":
            stats[i] = kernels.std_from_moments(m2)
        elif name == "skew":
            stats[i] = kernels.skew_from_moments(mean, m2, m3)
        else:  # kurtosis
            stats[i] = kernels.kurtosis_from_moments(mean, m2, m4)
    psd = kernels.welch_psd(x, plan.hann, c.fft_step, plan.n_segments, plan.psd_scale)
    bands = kernels.band_powers(psd, plan.bin_start, plan.bin_stop, plan.bin_width_hz, c.log_power)
    return np.concatenate([stats, bands])


def _check_window(window: np.ndarray, plan: SpectralPlan, batch: bool) -> np.ndarray:
    window = np.asarray(window)
    c = plan.config
    shape = (c.window_length, c.n_channels)
    expected = ("(N, " if batch else "(") + f"{shape[0]}, {shape[1]})"
    if window.shape[-2:] != shape or window.ndim != (3 if batch else 2):
        raise McuforgeError(f"spectral features: window shape {window.shape} != {expected} "
                            f"(window_ms x sample rate, channels); re-window the data with "
                            f"this features config")
    if not np.issubdtype(window.dtype, np.floating):
        raise McuforgeError(f"spectral features: window dtype {window.dtype} must be float32")
    return window.astype(F32, copy=False)


def spectral_features(window: np.ndarray, plan: SpectralPlan) -> np.ndarray:
    """One window (T, C) float32 -> (n_features,) float32: per channel [stats..., bands...]."""
    window = _check_window(window, plan, batch=False)
    axes = np.ascontiguousarray(window.T)  # (C, T): each axis contiguous, as on device
    return np.concatenate([axis_features(axes[ch], plan) for ch in range(axes.shape[0])])


def spectral_features_batch(windows: np.ndarray, plan: SpectralPlan) -> np.ndarray:
    """(N, T, C) -> (N, n_features) float32, a loop over spectral_features."""
    windows = _check_window(windows, plan, batch=True)
    out = np.empty((windows.shape[0], plan.n_features), dtype=F32)
    for i in range(windows.shape[0]):
        out[i] = spectral_features(windows[i], plan)
    return out


def _hz(value: float) -> str:
    return f"{value:g}"


def feature_names(plan: SpectralPlan, channels: list[str]) -> list[str]:
    """Names in feature order, e.g. acc_x_rms, acc_x_band_0.5_1.5hz."""
    channels = list(channels)
    if len(channels) != plan.config.n_channels:
        raise McuforgeError(f"spectral features: {len(channels)} channel names given for a plan "
                            f"of {plan.config.n_channels} channels; pass dataset.channels")
    edges = plan.config.band_edges_hz
    per_channel = list(plan.config.stats) + [
        f"band_{_hz(lo)}_{_hz(hi)}hz" for lo, hi in zip(edges[:-1], edges[1:])]
    return [f"{ch}_{suffix}" for ch in channels for suffix in per_channel]


def plan_constants(plan: SpectralPlan) -> dict[str, np.ndarray | int | float]:
    """Every constant the C twin needs. Float scalars are the exact float32 values (as Python
    floats); arrays are float32/int32 as used by the kernels."""
    c = plan.config
    coeffs = plan.biquad_coeffs
    return {
        "sample_rate_hz": c.sample_rate_hz,
        "window_length": c.window_length,
        "n_channels": c.n_channels,
        "n_features_per_channel": plan.n_features_per_channel,
        "n_features": plan.n_features,
        "filter_enabled": int(coeffs is not None),
        "filter_highpass": int(c.filter_type == "highpass"),
        "n_biquad_stages": 0 if coeffs is None else int(coeffs.shape[0]),
        "biquad_coeffs": (np.zeros(0, dtype=F32) if coeffs is None
                          else coeffs.reshape(-1).copy()),
        "remove_mean": int(c.remove_mean),
        "n_stats": len(c.stats),
        "stat_ids": np.array([STAT_IDS[s] for s in c.stats], dtype=np.int32),
        "constant_var_tol": float(kernels.CONSTANT_VAR_TOL),
        "fft_length": c.fft_length,
        "fft_step": c.fft_step,
        "n_segments": plan.n_segments,
        "n_psd_bins": c.fft_length // 2 + 1,
        "hann_window": plan.hann.copy(),
        "psd_scale": plan.psd_scale.copy(),
        "n_bands": plan.n_bands,
        "band_bin_start": plan.bin_start.copy(),
        "band_bin_stop": plan.bin_stop.copy(),
        "bin_width_hz": float(plan.bin_width_hz),
        "log_power": int(c.log_power),
        "log_floor": float(kernels.LOG_FLOOR),
        "inv_ln10": float(kernels.INV_LN10),
    }
