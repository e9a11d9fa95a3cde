"""Per-feature standardisation fitted on the train split only; compiled into the firmware later."""
from __future__ import annotations

import numpy as np


def fit_standardizer(train_x: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and std over every axis but the last (per channel for raw windows, per feature otherwise).

    A constant feature gets std 1 so it maps to 0 instead of dividing by zero.
    """
    axes = tuple(range(train_x.ndim - 1))
    mean = train_x.astype(np.float64).mean(axis=axes)
    std = train_x.astype(np.float64).std(axis=axes)
    std[std < 1e-12] = 1.0
    return {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}


def standardize(x: np.ndarray, scaler: dict[str, np.ndarray]) -> np.ndarray:
    """(x - mean) / std in float32, the order the C twin uses."""
    return ((x.astype(np.float32) - scaler["mean"]) / scaler["std"]).astype(np.float32)
