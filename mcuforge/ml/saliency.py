"""How much each output channel of a prunable layer matters: prune.saliency = l1 or l2 (the norm of
the channel's filter), or bn (|gamma| of the BatchNormalization that follows the layer, the filter's
L1 norm for layers without one)."""
from __future__ import annotations

import numpy as np

from mcuforge.ml.channel_chain import Unit

METHODS = ("l1", "l2", "bn")


def channel_saliency(model, unit: Unit, method: str) -> np.ndarray:
    """One non-negative score per output channel of `unit` (float64, length unit.width)."""
    if method == "bn" and unit.bn is not None:
        return np.abs(model.layers[unit.bn].gamma.numpy().astype(np.float64))
    kernel = model.layers[unit.index].kernel.numpy().astype(np.float64)
    flat = kernel.reshape(-1, kernel.shape[-1])
    if method == "l2":
        return np.sqrt(np.sum(flat ** 2, axis=0))
    return np.sum(np.abs(flat), axis=0)
