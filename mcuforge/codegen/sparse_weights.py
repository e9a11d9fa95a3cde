"""Bitmap-compressed weights for magnitude-pruned layers, chosen per layer only when smaller.

The C side is firmware/runtime/src/sparse.c (mf_conv2d_sparse_s8, mf_fully_connected_sparse_s8);
this module writes exactly the arrays those kernels read:

- bitmap: per output channel, ceil(K / 32) uint32 words; bit k set <=> weight k != 0
  (K = filter_h * filter_w * in_c for a conv, accum_depth for a fully-connected layer);
- values: the non-zero int8 weights, channel after channel, in k order;
- start: per output channel, the index of its first value;
- conv only, shared by all channels: k_offset[k] = input offset of tap (fy, fx, c) from the
  window's origin (dilation included), k_tap[k] = fy * filter_w + fx.

A zero weight adds nothing to TFLM's int32 accumulator, so the result is bit-identical.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcuforge.codegen.steps import ConstArray, Step

CTYPE_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4}
MAX_TAPS = 64  # MF_SPARSE_MAX_TAPS in firmware/runtime/include/mcuforge/kernels.h
SPARSE_KERNELS = {"mf_conv2d_s8": "mf_conv2d_sparse_s8", "mf_fully_connected_s8": "mf_fully_connected_sparse_s8"}


def const_bytes(consts) -> int:
    """Bytes of the weights every core stores (a guarded copy in one core's layout is not counted:
    that core's ELF size shows it)."""
    return sum(len(c.values) * CTYPE_BYTES[c.ctype] for c in consts if not c.guard)


def bitmap_arrays(weights: np.ndarray) -> tuple[ConstArray, ConstArray, ConstArray]:
    """(bitmap, values, start) for an (out_channels, K) int8 weight matrix."""
    out_c, k = weights.shape
    words = (k + 31) // 32
    bits = np.zeros((out_c, words * 32), dtype=np.uint64)
    bits[:, :k] = weights != 0
    packed = (bits.reshape(out_c, words, 32) << np.arange(32, dtype=np.uint64)).sum(axis=2)
    nonzero = weights[weights != 0]  # row-major: channel after channel, k order
    counts = (weights != 0).sum(axis=1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (ConstArray("bitmap", "uint32_t", tuple(int(v) for v in packed.reshape(-1))),
            ConstArray("values", "int8_t", tuple(int(v) for v in nonzero)),
            ConstArray("start", "int32_t", tuple(int(v) for v in start)))


def _conv_tables(params: dict) -> tuple[ConstArray, ConstArray] | None:
    fh, fw, c = params["filter"]["h"], params["filter"]["w"], params["input"]["c"]
    fy, fx, ch = np.meshgrid(np.arange(fh), np.arange(fw), np.arange(c), indexing="ij")
    offset = ((fy * params["dilation_h"] * params["input"]["w"] + fx * params["dilation_w"]) * c + ch).reshape(-1)
    if fh * fw > MAX_TAPS or offset.max() > np.iinfo(np.int16).max:
        return None
    return (ConstArray("k_offset", "int16_t", tuple(int(v) for v in offset)),
            ConstArray("k_tap", "uint8_t", tuple(int(v) for v in (fy * fw + fx).reshape(-1))))


def choose_weight_storage(step: Step) -> Step:
    """The step with bitmap-compressed weights if that is smaller than dense, else the step itself."""
    if step.kernel not in SPARSE_KERNELS:
        return step
    dense_name = "filter" if step.kernel == "mf_conv2d_s8" else "weights"
    consts = {c.suffix: c for c in step.consts}
    if step.kernel == "mf_fully_connected_s8":
        if step.params["weights_offset"] != 0:
            return step
        out_c = step.params["output_depth"]
        tables = ()
    else:
        out_c = step.params["output"]["c"]
        tables = _conv_tables(step.params)
        if tables is None:
            return step
    weights = np.asarray(consts[dense_name].values, dtype=np.int8).reshape(out_c, -1)
    sparse = bitmap_arrays(weights) + tables
    if const_bytes(sparse) >= len(consts[dense_name].values):
        return step
    operand = next(i for i, (kind, v) in enumerate(step.args) if kind == "const" and v == dense_name)
    args = step.args[:operand] + tuple(("const", c.suffix) for c in sparse) + step.args[operand + 1:]
    kept = tuple(c for c in step.consts if c.suffix != dense_name)
    return replace(step, kernel=SPARSE_KERNELS[step.kernel], args=args, consts=sparse + kept)
