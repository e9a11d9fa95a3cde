"""Fixed-length int16 audio clips, and the chain's float form of them (int16 PCM / 32768, exact).

Every clip becomes exactly `length` samples, cut or zero-padded around its energy centre (the
mean sample index weighted by the squared amplitude), so the spoken word sits mid-clip.
"""
from __future__ import annotations

import numpy as np

PCM_SCALE = np.float32(1.0 / 32768.0)   # exact in float32: the device multiplies by the same


def energy_centre(pcm: np.ndarray) -> float:
    """Mean sample index weighted by squared amplitude (the middle for an all-zero clip)."""
    energy = pcm.astype(np.float64) ** 2
    total = energy.sum()
    return (len(pcm) - 1) / 2 if total == 0 else float(np.arange(len(pcm)) @ energy / total)


def fit_clip(pcm: np.ndarray, length: int) -> np.ndarray:
    """`length` int16 samples centred on the clip's energy: trimmed if longer, zero-padded if shorter."""
    start = int(np.floor(energy_centre(pcm) - (length - 1) / 2 + 0.5))
    lo, hi = min(0, len(pcm) - length), max(0, len(pcm) - length)
    start = min(max(start, lo), hi)
    out = np.zeros(length, np.int16)
    src_from, dst_from = max(start, 0), max(-start, 0)
    count = min(len(pcm) - src_from, length - dst_from)
    out[dst_from:dst_from + count] = pcm[src_from:src_from + count]
    return out


def to_int16(values: np.ndarray) -> np.ndarray:
    """Round half to even and clip to the int16 range."""
    return np.clip(np.rint(values), -32768, 32767).astype(np.int16)


def to_float(pcm: np.ndarray) -> np.ndarray:
    """int16 PCM → float32 samples in [-1, 1), exactly pcm / 32768."""
    return pcm.astype(np.float32) * PCM_SCALE
