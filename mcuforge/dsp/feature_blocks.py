"""The DSP block chosen by `features.block`: raw windows, spectral features or MFCCs per window."""
from __future__ import annotations

import numpy as np

from mcuforge.errors import McuforgeError

BLOCKS = ("raw", "spectral", "mfcc")


def compute_block(windows: np.ndarray, cfg: dict, sample_rate_hz: float) -> np.ndarray:
    """(N, T, C) float32 windows → model inputs before normalisation."""
    block = cfg.get("block")
    if block == "raw":
        return windows.astype(np.float32)
    if block == "spectral":
        from mcuforge.dsp.spectral import make_spectral_plan, spectral_features_batch

        plan = make_spectral_plan(cfg, sample_rate_hz, windows.shape[2])
        return spectral_features_batch(windows, plan)
    if block == "mfcc":
        from mcuforge.dsp.mfcc import make_mfcc_plan, mfcc_features_batch

        return mfcc_features_batch(windows, make_mfcc_plan(cfg, sample_rate_hz))
    raise McuforgeError(f"features.block={block!r} is unknown; choose one of {', '.join(BLOCKS)} "
                        "(conf/features/)")


def block_feature_names(cfg: dict, sample_rate_hz: float, channels: list[str]) -> list[str]:
    if cfg["block"] == "raw":
        return list(channels)
    if cfg["block"] == "mfcc":
        from mcuforge.dsp.mfcc import feature_names as mfcc_names, make_mfcc_plan

        return mfcc_names(make_mfcc_plan(cfg, sample_rate_hz))
    from mcuforge.dsp.spectral import feature_names, make_spectral_plan

    return feature_names(make_spectral_plan(cfg, sample_rate_hz, len(channels)), channels)
