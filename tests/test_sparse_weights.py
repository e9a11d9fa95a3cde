"""Bitmap-compressed weights for magnitude-pruned layers: smaller where sparse, exact always.

Keras models with a known fraction of their conv / dense weights zeroed (what tfmot's magnitude
pruning leaves behind) are converted to int8; the native C must equal the tflite_micro
interpreter bit for bit with the compressed layers, and compress only where it is smaller.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.codegen.sparse_weights import bitmap_arrays
from tests.test_kernels import _keras_model, assert_native_equals_tflm, convert


def test_bitmap_layout_by_hand():
    weights = np.zeros((2, 40), dtype=np.int8)
    weights[0, [0, 5, 33]] = [3, -4, 7]
    weights[1, 39] = -128
    bitmap, values, start = bitmap_arrays(weights)
    assert bitmap.values == ((1 << 0) | (1 << 5), 1 << 1, 0, 1 << 7)   # 2 words per channel
    assert values.values == (3, -4, 7, -128)
    assert start.values == (0, 3)


def _zero_weights(model, sparsity: float, seed: int):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights() and layer.__class__.__name__ in ("Conv1D", "Conv2D", "Dense"):
            kernel, *rest = layer.get_weights()
            kernel[rng.random(kernel.shape) < sparsity] = 0.0
            layer.set_weights([kernel, *rest])
    return model


def _pruned_net(L, x):
    x = L.Conv1D(16, 7, padding="same", activation="relu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(24, 5, padding="same", dilation_rate=2, activation="relu")(x)
    x = L.Conv1D(24, 3, strides=2, activation="relu")(x)
    return L.Dense(5)(L.Dense(32, activation="relu")(L.Flatten()(x)))


def _pruned_conv2d(L, x):
    x = L.Conv2D(12, (5, 3), strides=(2, 1), padding="same", activation="relu")(x)
    return L.Dense(4)(L.GlobalAveragePooling2D()(L.Conv2D(16, 3, padding="same")(x)))


CASES = {"conv1d_dense": ((40, 6), _pruned_net), "conv2d": ((14, 9, 2), _pruned_conv2d)}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("sparsity", [0.0, 0.7])
def test_compressed_where_smaller_and_exact(case, sparsity, tmp_path):
    from mcuforge.codegen.emit_native import generate_native

    input_shape, body = CASES[case]
    model = _zero_weights(_keras_model(5, input_shape, body), sparsity, seed=5)
    tflite = convert(model, input_shape, seed=5)
    summary = generate_native(tflite, tmp_path / "gen", labels=[], name="m")
    if sparsity == 0.0:
        assert summary["sparse_layers"] == 0          # dense weights: never compressed
    else:
        assert summary["sparse_layers"] >= 2
        dense = generate_native(convert(_keras_model(5, input_shape, body), input_shape, seed=5),
                                tmp_path / "dense", labels=[], name="m")
        assert summary["weights_bytes"] < 0.75 * dense["weights_bytes"]
    assert_native_equals_tflm(tflite, tmp_path / "run", count=48, seed=2)
