"""SpecAugment-style masking of the augmented train copies' feature maps (conf/augment/audio.yaml),
seeded and deterministic. Recorded clips, val and test are never masked.

Each augmented (frames, coefficients) map gets `spec_time_masks` runs of 0..spec_time_width whole
frames and `spec_freq_masks` runs of 0..spec_freq_width coefficients set to 0 — after
standardisation, 0 is the train mean, so a mask removes information without adding an outlier.
"""
from __future__ import annotations

import numpy as np

from mcuforge.errors import McuforgeError

KEYS = ("spec_time_masks", "spec_time_width", "spec_freq_masks", "spec_freq_width")


def _settings(cfg: dict) -> dict[str, int]:
    out = {}
    for key in KEYS:
        value = cfg.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise McuforgeError(f"augment.{key}={value!r} must be an integer >= 0 (conf/augment/audio.yaml)")
        out[key] = value
    return out


def _run(rng: np.random.Generator, size: int, width: int) -> slice:
    length = int(rng.integers(0, min(width, size) + 1))
    start = int(rng.integers(0, size - length + 1))
    return slice(start, start + length)


def mask_augmented(x: np.ndarray, augmented: np.ndarray, cfg: dict) -> np.ndarray:
    """(N, frames, coefficients) standardised maps -> a copy with the augmented rows masked."""
    s = _settings(cfg)
    if not (s["spec_time_masks"] or s["spec_freq_masks"]):
        return x
    if x.ndim != 3:
        raise McuforgeError(f"augment.spec_*_masks need (frames, coefficients) maps, got features of shape "
                            f"{x.shape[1:]}; set them to 0 for this features block")
    rng = np.random.default_rng(cfg["seed"] + 1)
    out = x.copy()
    for i in np.flatnonzero(augmented):
        for _ in range(s["spec_time_masks"]):
            out[i, _run(rng, x.shape[1], s["spec_time_width"]), :] = 0
        for _ in range(s["spec_freq_masks"]):
            out[i, :, _run(rng, x.shape[2], s["spec_freq_width"])] = 0
    return out
