"""The DS-CNN (mcuforge.ml.architectures, conf/model/dscnn.yaml) through the native backend: the
generated C equals the tflite_micro interpreter bit for bit, on the configured student at a tiny
MFCC shape and on random DS-CNN variants (odd shapes, strides, kernel sizes, block counts), with
BatchNormalization statistics randomised so the folding into the convolutions is not trivial."""
from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import yaml

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from mcuforge.codegen.model_reader import read_model  # noqa: E402
from mcuforge.ml.architectures import build_model  # noqa: E402
from mcuforge.ml.quantization import convert_int8  # noqa: E402
from test_kernels import _tf, assert_native_equals_tflm  # noqa: E402

from conftest import ROOT  # noqa: E402

TINY_MFCC = (13, 10)   # frames × coefficients of the tiny test config (1 s at the default 16 ms hop is 61 × 10)


def _randomise_batch_norm(model, rng) -> None:
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2.0, var.shape)])


def dscnn_int8(arch: dict, input_shape: tuple[int, ...], n_classes: int, seed: int) -> bytes:
    keras = _tf().keras
    keras.utils.set_random_seed(seed)
    model = build_model(keras, arch, input_shape, n_classes, "student")
    rng = np.random.default_rng(seed)
    _randomise_batch_norm(model, rng)
    representative = rng.normal(0.0, 1.0, size=(24, *input_shape)).astype(np.float32)
    return convert_int8(_tf(), model, representative)  # the quantize stage's own conversion


@functools.lru_cache(maxsize=None)
def configured_student(input_shape: tuple[int, ...] = TINY_MFCC) -> bytes:
    arch = yaml.safe_load((ROOT / "conf" / "model" / "dscnn.yaml").read_text())["student"]
    return dscnn_int8(arch, input_shape, 8, seed=3)


def _variant(seed: int) -> tuple[dict, tuple[int, ...], int]:
    rng = np.random.default_rng(500 + seed)
    frames, coeffs = int(rng.integers(6, 30)), int(rng.integers(4, 14))
    arch = {"arch": "dscnn", "dense": [], "dropout": 0.1,
            "first_conv": {"filters": int(rng.choice([4, 8, 12])),
                           "kernel": [int(rng.integers(1, 11)), int(rng.integers(1, 5))],
                           "stride": [int(rng.integers(1, 3)), int(rng.integers(1, 3))]},
            "blocks": [int(rng.choice([4, 8, 16])) for _ in range(int(rng.integers(1, 4)))]}
    return arch, (frames, coeffs), int(rng.integers(3, 13))


def test_configured_student_lowers_to_the_dscnn_op_sequence():
    ops = [op.opcode for op in read_model(configured_student()).operators]
    configured = yaml.safe_load((ROOT / "conf" / "model" / "dscnn.yaml").read_text())["student"]["blocks"]
    blocks = ["DEPTHWISE_CONV_2D", "CONV_2D"] * len(configured)
    assert ops == ["RESHAPE", "CONV_2D", *blocks, "MEAN", "FULLY_CONNECTED"], ops


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "dsp"])
def test_configured_student_matches_tflm(dsp, tmp_path):
    flags = ("-DMF_EMULATE_DSP",) if dsp else ()
    assert_native_equals_tflm(configured_student(), tmp_path, count=64, seed=11, extra_flags=flags)


def test_full_size_student_matches_tflm(tmp_path):
    """61 frames × 10 coefficients: the 1 s MFCC map of the default features=mfcc (32 ms frames, 16 ms hop)."""
    assert_native_equals_tflm(configured_student((61, 10)), tmp_path, count=16, seed=12)


@pytest.mark.parametrize("seed", range(6))
def test_dscnn_variant_matches_tflm(seed, tmp_path):
    arch, shape, classes = _variant(seed)
    model = dscnn_int8(arch, shape, classes, seed)
    flags = ("-DMF_EMULATE_DSP",) if seed % 2 else ()
    assert_native_equals_tflm(model, tmp_path, count=32, seed=seed, extra_flags=flags)
