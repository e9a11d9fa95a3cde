"""The device-side arithmetic of the spectral block, one small pure function per step.

Every function takes float32 numpy arrays and returns float32, and does its arithmetic through
CMSIS-DSP's C functions in the order its docstring lists, so the C twin is a line-by-line
transcription calling the same CMSIS-DSP C functions. They are called through
mcuforge.dsp.cmsis_host (`dsp` here): the cmsisdsp Python API's names and results, over CMSIS-DSP
compiled with the device's float semantics (mcuforge.dsp.host_dsp), so the features are the
Cortex-M's bit for bit (the cmsisdsp wheel, -O3 -ffast-math, sums in another order). The few
scalar operations CMSIS has no function for (a division, a product of two scalars) are done on
np.float32 values, i.e. the same single IEEE float32 operation a `float32_t` expression performs
in C (compile the twin with -ffp-contract=off so the compiler does not fuse them into FMAs).
Scalar results (arm_mean_f32, arm_rms_f32, arm_accumulate_f32) are Python floats holding the
float32 value exactly; arm_sqrt_f32 returns (status, value); inputs are never modified.
"""
from __future__ import annotations

import numpy as np

from mcuforge.dsp import cmsis_host as dsp

F32 = np.float32

# A variance this small relative to mean^2 is float32 rounding noise of a constant signal:
# the summed mean of a float32 constant is itself not exact (e.g. 100 x 123.456f averages to
# 123.45601f), so m2 is a few ulps^2 instead of 0. Below this skew and kurtosis are 0.
CONSTANT_VAR_TOL = F32(1e-10)
# Added to band powers before the log so an empty spectrum gives log10(1e-10) = -10, not -inf.
LOG_FLOOR = F32(1e-10)
# log10(x) = ln(x) / ln(10); CMSIS has only the natural log (arm_vlog_f32).
INV_LN10 = F32(1.0 / np.log(10.0))


def biquad_filter(x: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Butterworth cascade over one window, from zero initial state.

    CMSIS: arm_biquad_cascade_df2T_init_f32(&S, n_stages, coeffs, state)  [state zeroed]
           arm_biquad_cascade_df2T_f32(&S, x, y, T)
    coeffs: float32 (n_stages, 5) rows [b0, b1, b2, -a1, -a2].
    """
    return dsp.biquad_df2T_f32(coeffs, x)


def remove_mean(x: np.ndarray) -> np.ndarray:
    """x - mean(x).

    CMSIS: mean = arm_mean_f32(x, T)
           arm_offset_f32(x, -mean, y, T)
    """
    mean = F32(dsp.arm_mean_f32(x))
    return dsp.arm_offset_f32(x, -mean)


def stat_mean(x: np.ndarray) -> np.float32:
    """CMSIS: arm_mean_f32(x, T)."""
    return F32(dsp.arm_mean_f32(x))


def stat_rms(x: np.ndarray) -> np.float32:
    """CMSIS: arm_rms_f32(x, T)."""
    return F32(dsp.arm_rms_f32(x))


def central_moments(x: np.ndarray) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    """(mean, m2, m3, m4): population (biased) central moments, m_k = mean((x - mean)^k).

    CMSIS: mean = arm_mean_f32(x, T)
           arm_offset_f32(x, -mean, d, T)
           arm_mult_f32(d, d, d2, T);   m2 = arm_mean_f32(d2, T)
           arm_mult_f32(d2, d, d3, T);  m3 = arm_mean_f32(d3, T)
           arm_mult_f32(d2, d2, d4, T); m4 = arm_mean_f32(d4, T)
    """
    mean = F32(dsp.arm_mean_f32(x))
    d = dsp.arm_offset_f32(x, -mean)
    d2 = dsp.arm_mult_f32(d, d)
    m2 = F32(dsp.arm_mean_f32(d2))
    m3 = F32(dsp.arm_mean_f32(dsp.arm_mult_f32(d2, d)))
    m4 = F32(dsp.arm_mean_f32(dsp.arm_mult_f32(d2, d2)))
    return mean, m2, m3, m4


def is_constant(mean: np.float32, m2: np.float32) -> bool:
    """True when the variance is float32 rounding noise: m2 <= CONSTANT_VAR_TOL * mean * mean
    (includes m2 == 0). C: `m2 <= TOL * mean * mean` in float32."""
    return bool(m2 <= CONSTANT_VAR_TOL * mean * mean)


def std_from_moments(m2: np.float32) -> np.float32:
    """Population standard deviation sqrt(m2).  CMSIS: arm_sqrt_f32(m2, &std)."""
    _, root = dsp.arm_sqrt_f32(m2)
    return F32(root)


def skew_from_moments(mean: np.float32, m2: np.float32, m3: np.float32) -> np.float32:
    """skew = m3 / m2^1.5 (population, = scipy.stats.skew(bias=True)); 0 for a constant axis.

    CMSIS: arm_sqrt_f32(m2, &s); then float32 scalars: skew = m3 / (m2 * s)
    """
    if is_constant(mean, m2):
        return F32(0.0)
    _, root = dsp.arm_sqrt_f32(m2)
    return F32(m3 / (m2 * F32(root)))


def kurtosis_from_moments(mean: np.float32, m2: np.float32, m4: np.float32) -> np.float32:
    """Excess kurtosis m4 / m2^2 - 3 (= scipy.stats.kurtosis(bias=True, fisher=True));
    0 for a constant axis. Float32 scalars only: kurt = m4 / (m2 * m2) - 3.0f
    """
    if is_constant(mean, m2):
        return F32(0.0)
    return F32(m4 / (m2 * m2) - F32(3.0))


def stat_std(x: np.ndarray) -> np.float32:
    """central_moments, then std_from_moments."""
    return std_from_moments(central_moments(x)[1])


def stat_skew(x: np.ndarray) -> np.float32:
    """central_moments, then skew_from_moments."""
    mean, m2, m3, _ = central_moments(x)
    return skew_from_moments(mean, m2, m3)


def stat_kurtosis(x: np.ndarray) -> np.float32:
    """central_moments, then kurtosis_from_moments."""
    mean, m2, _, m4 = central_moments(x)
    return kurtosis_from_moments(mean, m2, m4)


def welch_psd(x: np.ndarray, hann: np.ndarray, step: int, n_segments: int,
              psd_scale: np.ndarray) -> np.ndarray:
    """One-sided Welch PSD, bins 0..N/2 (N = len(hann)), float32 of shape (N/2+1,).

    CMSIS, with acc[0..N/2] = 0 and for each segment s = 0..n_segments-1:
           arm_mult_f32(x + s*step, hann, w, N)
           arm_rfft_fast_f32(&rfft, w, X, 0)          X = [DC, Nyquist, re1, im1, ...]
           arm_cmplx_mag_squared_f32(X, P, N/2)       P[k] = |X_k|^2, k < N/2 (P[0] is wrong)
           arm_mult_f32(X, X, edge, 2)                edge = [DC^2, Nyquist^2]
           P[0] = edge[0]; P[N/2] = edge[1]
           arm_add_f32(acc, P, acc, N/2+1)
    then   arm_mult_f32(acc, psd_scale, psd, N/2+1)   (see design.welch_psd_scale)
    """
    n = hann.shape[0]
    acc = np.zeros(n // 2 + 1, dtype=F32)
    power = np.empty(n // 2 + 1, dtype=F32)
    for s in range(n_segments):
        windowed = dsp.arm_mult_f32(x[s * step: s * step + n], hann)
        spec = dsp.rfft_fast_f32(n, windowed)
        power[: n // 2] = dsp.arm_cmplx_mag_squared_f32(spec)
        edge = dsp.arm_mult_f32(spec[:2], spec[:2])
        power[0] = edge[0]
        power[n // 2] = edge[1]
        acc = dsp.arm_add_f32(acc, power)
    return dsp.arm_mult_f32(acc, psd_scale)


def band_powers(psd: np.ndarray, bin_start: np.ndarray, bin_stop: np.ndarray,
                bin_width_hz: np.float32, log_power: bool) -> np.ndarray:
    """Power in each band: the PSD summed over bins [start, stop) times the bin width,
    optionally as log10(power + 1e-10). float32 of shape (n_bands,).

    CMSIS: for each band b: band[b] = arm_accumulate_f32(psd + start[b], stop[b] - start[b])
           arm_scale_f32(band, bin_width_hz, band, n_bands)
    if log: arm_offset_f32(band, 1e-10f, band, n_bands)
           arm_vlog_f32(band, band, n_bands)   (natural log; ours, not CMSIS's logf loop:
                                                firmware/features/src/arm_vlog_f32.c)
           arm_scale_f32(band, 1/ln(10), band, n_bands)
    """
    sums = np.empty(len(bin_start), dtype=F32)
    for b, (start, stop) in enumerate(zip(bin_start, bin_stop)):
        sums[b] = dsp.arm_accumulate_f32(psd[start:stop])
    bands = dsp.arm_scale_f32(sums, bin_width_hz)
    if log_power:
        bands = dsp.arm_scale_f32(dsp.arm_vlog_f32(dsp.arm_offset_f32(bands, LOG_FLOOR)), INV_LN10)
    return bands
