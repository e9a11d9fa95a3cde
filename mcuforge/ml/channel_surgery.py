"""Rebuild a smaller model with only the kept channels and copy their weights: each prunable
layer's kernel keeps its kept output channels and the input slices of the previous layer's kept
channels; biases and BatchNormalization parameters follow their channels."""
from __future__ import annotations

import copy

import numpy as np

from mcuforge.errors import McuforgeError
from mcuforge.ml.channel_chain import Unit


def pruned_arch(arch: dict, units: list[Unit], widths: list[int], name: str) -> dict:
    """`arch` (conf/model) with the hidden widths replaced: conv blocks' filters, then dense units."""
    convs, denses = list(arch.get("conv", [])), list(arch.get("dense", []))
    hidden = units[:-1]
    if [u.name[:4] == "conv" for u in hidden] != [True] * len(convs) + [False] * len(denses):
        raise McuforgeError(f"prune.method=channels cannot map the layers of model.{name}.arch="
                            f"{arch.get('arch')!r} onto its config (conv, then dense); use prune=magnitude")
    out = copy.deepcopy(arch)
    if convs:
        out["conv"] = [{**block, "filters": int(w)} for block, w in zip(convs, widths[:len(convs)])]
    out["dense"] = [int(w) for w in widths[len(convs):]]
    return out


def copy_kept(keras, source, target, units: list[Unit], keep: list[np.ndarray]) -> None:
    """Set `target`'s weights (same layers as `source`, narrower) from `source`'s kept channels."""
    outputs = {u.index: k for u, k in zip(units, [*keep, np.arange(units[-1].width)])}
    flowing = np.arange(units[0].in_width)
    for i, (src, dst) in enumerate(zip(source.layers, target.layers)):
        if type(src) is not type(dst):
            raise McuforgeError(f"rebuilt model differs from the original at layer {src.name} "
                                f"({type(src).__name__} vs {type(dst).__name__})")
        weights = src.get_weights()
        if i in outputs:
            out = outputs[i]
            kernel = np.take(np.take(weights[0], flowing, axis=-2), out, axis=-1)
            dst.set_weights([kernel, *[np.take(w, out, axis=-1) for w in weights[1:]]])
            flowing = out
        elif weights:   # BatchNormalization: gamma, beta, moving mean, moving variance
            dst.set_weights([np.take(w, flowing, axis=-1) for w in weights])
