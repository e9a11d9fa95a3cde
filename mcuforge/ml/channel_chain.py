"""A Keras model seen as a chain of prunable layers (convolutions and Dense), with what channel
pruning needs: each layer's width, its input width, its fan (output pixels × kernel area), the
BatchNormalization that follows it, and the MACs and parameters as a function of the widths.

Only chains are supported: between two prunable layers, the channel axis must pass through
unchanged (ReLU, pooling, global pooling, dropout, BatchNormalization). Reshape and Flatten are
allowed before the first prunable layer only (they shape the input, whose channels stay whole).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcuforge.errors import McuforgeError


@dataclass
class Unit:
    index: int            # position in model.layers
    name: str             # conv0, conv1, …, dense0, …, logits (stable across rebuilds)
    width: int            # output channels (filters or units)
    in_width: int         # input channels
    area: int             # kernel area (1 for Dense)
    fan: int              # output pixels × kernel area: MACs = fan · in_width · width
    bn: int | None        # index of the BatchNormalization that scales this layer's output


def _passes_channels(keras, layer) -> bool:
    kinds = (keras.layers.InputLayer, keras.layers.ReLU, keras.layers.Activation, keras.layers.Dropout,
             keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.AveragePooling1D,
             keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling1D,
             keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling1D,
             keras.layers.GlobalMaxPooling2D)
    return isinstance(layer, kinds)


def chain(keras, model) -> list[Unit]:
    """The prunable layers in order; the last one (the logits) is never pruned."""
    units: list[Unit] = []
    counts = {"conv": 0, "dense": 0}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense)):
            kind = "dense" if isinstance(layer, keras.layers.Dense) else "conv"
            kernel = layer.kernel.shape
            area = int(np.prod(kernel[:-2]))
            pixels = int(np.prod(layer.output.shape[1:-1]))
            units.append(Unit(i, f"{kind}{counts[kind]}", int(kernel[-1]), int(kernel[-2]), area,
                              pixels * area, None))
            counts[kind] += 1
        elif isinstance(layer, keras.layers.BatchNormalization) and units and units[-1].bn is None:
            units[-1].bn = i
        elif isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)) and not units:
            continue
        elif not _passes_channels(keras, layer):
            raise McuforgeError(f"prune.method=channels cannot prune model {model.name!r}: its layer "
                                f"{layer.name} ({type(layer).__name__}) does not pass channels through "
                                "unchanged; use prune=magnitude for this architecture")
    if len(units) < 2:
        raise McuforgeError(f"prune.method=channels: model {model.name!r} has no hidden layer to prune; "
                            "use prune=magnitude or a model with convolutions or hidden Dense layers")
    units[-1].name = "logits"
    return units


def cost(units: list[Unit], widths: list[int], what: str = "macs") -> int:
    """MACs (or parameters: kernels + biases) of the chain with hidden widths `widths`
    (one per unit but the last)."""
    total, in_width = 0, units[0].in_width
    for unit, width in zip(units, [*widths, units[-1].width]):
        if what == "macs":
            total += unit.fan * in_width * width
        else:
            total += unit.area * in_width * width + width
        in_width = width
    return total
