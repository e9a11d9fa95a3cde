"""Offline design of the spectral block's constant tables (numpy/scipy only; never run on device).

Everything here is computed once per plan in float64 and rounded to float32 at the end, so the
tables the Python kernels use are bit-identical to the ones written into the C header.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import signal


def butter_df2t_coeffs(filter_type: str, order: int, cutoff_hz: float,
                       sample_rate_hz: float) -> np.ndarray:
    """Butterworth filter as CMSIS df2T biquad coefficients, float32 of shape (n_stages, 5).

    Each row is [b0, b1, b2, -a1, -a2] of one second-order section of
    scipy.signal.butter(order, cutoff_hz, btype, fs=sample_rate_hz, output='sos')
    (CMSIS adds the feedback terms, scipy subtracts them, hence the sign flip; a0 is 1).
    An odd order yields a first-order last section with b2 = a2 = 0.
    """
    sos = signal.butter(order, cutoff_hz, btype=filter_type, fs=sample_rate_hz, output="sos")
    coeffs = np.column_stack([sos[:, 0], sos[:, 1], sos[:, 2], -sos[:, 4], -sos[:, 5]])
    return np.ascontiguousarray(coeffs, dtype=np.float32)


def hann_window(fft_length: int) -> np.ndarray:
    """The periodic Hann window scipy.signal.welch uses (get_window('hann', N)), float32."""
    return signal.get_window("hann", fft_length).astype(np.float32)


def welch_n_segments(window_length: int, fft_length: int, step: int) -> int:
    """How many Welch segments fit in one window (scipy's count: trailing samples are dropped)."""
    return (window_length - fft_length) // step + 1


def welch_psd_scale(hann: np.ndarray, sample_rate_hz: float, n_segments: int) -> np.ndarray:
    """Per-bin factor turning the SUM over segments of |X_k|^2 into a one-sided PSD (units^2/Hz).

    Equal to scipy.signal.welch(scaling='density'): 1 / (fs * sum(w^2)), averaged over the
    segments (1 / n_segments), and doubled for every bin except DC and Nyquist. Shape (N/2+1,).
    """
    n = len(hann)
    win = hann.astype(np.float64)
    scale = np.full(n // 2 + 1, 1.0 / (sample_rate_hz * float(np.dot(win, win)) * n_segments))
    scale[1:n // 2] *= 2.0
    return scale.astype(np.float32)


def _exact(value: float) -> Fraction:
    """The decimal a user wrote (0.1 stays 1/10, not the nearest binary double)."""
    return Fraction(str(value))


def band_bin_ranges(band_edges_hz: list[float], fft_length: int,
                    sample_rate_hz: float) -> list[tuple[int, int]]:
    """For each consecutive pair (lo, hi) of edges, the half-open bin range [start, stop) of the
    bins k whose centre frequency f_k = k * fs / N satisfies lo <= f_k < hi.

    Exact rational arithmetic, so an edge that falls exactly on a bin centre is handled as the
    inequality says rather than as float rounding happens to fall.
    """
    fs = _exact(sample_rate_hz)
    n_bins = fft_length // 2 + 1
    ranges = []
    for lo, hi in zip(band_edges_hz[:-1], band_edges_hz[1:]):
        start = math.ceil(_exact(lo) * fft_length / fs)
        stop = math.ceil(_exact(hi) * fft_length / fs)
        ranges.append((min(start, n_bins), min(stop, n_bins)))
    return ranges
