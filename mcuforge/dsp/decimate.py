"""Decimation by 2 of int16 PCM: the Python twin of firmware/src/decimate.c (the Zephyr microphone
source's 16 kHz -> 8 kHz step; the filter and its exact arithmetic are described in decimate.h).

    pcm8k = decimate2(pcm16k)          # int16, len = ceil(len / 2)
    taps = halfband_taps()             # the 31 Q15 taps, derived from their design
"""
from __future__ import annotations

import numpy as np

N_TAPS = 31
TAPS = np.array([-56, 0, 96, 0, -221, 0, 462, 0, -878, 0, 1609, 0, -3176, 0, 10342, 16412,
                 10342, 0, -3176, 0, 1609, 0, -878, 0, 462, 0, -221, 0, 96, 0, -56], np.int64)


def halfband_taps(n_taps: int = N_TAPS) -> np.ndarray:
    """The design TAPS (and decimate.c's table) come from: Hamming-windowed sinc, cut-off fs/4,
    scaled to Q15, rounded, centre tap adjusted so the taps sum to 32768."""
    n = np.arange(n_taps) - (n_taps - 1) // 2
    h = 0.5 * np.sinc(n / 2) * np.hamming(n_taps)
    q = np.rint(h / h.sum() * 32768).astype(np.int64)
    q[(n_taps - 1) // 2] += 32768 - q.sum()
    return q


def decimate2(pcm: np.ndarray) -> np.ndarray:
    """y[n] = clamp_int16((sum_k TAPS[k] * x[2n + k - 30] + 16384) >> 15), x[i < 0] = 0."""
    x = np.concatenate([np.zeros(N_TAPS - 1, np.int64), np.asarray(pcm, np.int16).astype(np.int64)])
    n_out = (len(x) - (N_TAPS - 1) + 1) // 2
    idx = 2 * np.arange(n_out)[:, None] + np.arange(N_TAPS)[None, :]
    acc = (x[idx] * TAPS[None, :]).sum(axis=1) if n_out else np.zeros(0, np.int64)
    return np.clip((acc + 16384) >> 15, -32768, 32767).astype(np.int16)
