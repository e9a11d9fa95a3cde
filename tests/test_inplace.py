"""In-place arena planning: a step may write over its own dying input where the proof allows.

The proof (mcuforge.codegen.inplace) is checked three ways: by hand-computed bounds, by the
planner's placements respecting it, and by running the generated C with overlapping buffers
against the tflite_micro interpreter on models where the plan goes below the liveness bound.
"""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.codegen.arena_planner import Buffer, plan_arena
from mcuforge.codegen.inplace import max_displacement
from mcuforge.codegen.model_reader import read_model
from mcuforge.codegen.steps import Step, shape4
from tests.test_kernels import _keras_model, assert_native_equals_tflm, convert


def _step(kernel, in_shape, out_shape, window, stride=(1, 1), pad=(0, 0)):
    params = dict(input=shape4(in_shape), output=shape4(out_shape), stride_h=stride[0], stride_w=stride[1],
                  pad_h=pad[0], pad_w=pad[1])
    if kernel.startswith("mf_conv") or kernel.startswith("mf_depthwise"):
        params.update(filter=shape4((out_shape[-1], *window, in_shape[-1])), dilation_h=1, dilation_w=1)
    else:
        params.update(filter_h=window[0], filter_w=window[1])
    return Step(op_index=0, opcode="X", kernel=kernel, params_type="x", params=params, args=(), consts=(),
                output=1, macs=0)


def test_bounds_by_hand():
    # conv1d k=5 'same' (pad 2), 16 -> 32 channels, 50 pixels: pixel p reads from 16*max(p-2, 0)
    # and ends its write at 32*(p+1); the tightest pixel is the last: 16*47 - 32*50 = -848
    assert max_displacement(_step("mf_conv2d_s8", (1, 1, 50, 16), (1, 1, 50, 32), (1, 5), pad=(0, 2))) == -848
    # 1x1 conv with as many outputs as inputs: one pixel behind, because the kernel re-reads a
    # pixel's input for each group of output channels after writing the previous group
    assert max_displacement(_step("mf_conv2d_s8", (1, 5, 5, 8), (1, 5, 5, 8), (1, 1))) == -8
    # max pool 2, stride 2: pixel 0 reads input [0, 32) and writes 16 bytes -> 0 - 16
    assert max_displacement(_step("mf_max_pool_s8", (1, 1, 100, 16), (1, 1, 50, 16), (1, 2), (1, 2))) == -16
    # depthwise 3x3 'same' on 6x5x4: pixel (0,0) reads from 0; pixel (y,x) from row y-1, col x-1
    dw = _step("mf_depthwise_conv2d_s8", (1, 6, 5, 4), (1, 6, 5, 4), (3, 3), pad=(1, 1))
    first = [max(y - 1, 0) * 20 + max(x - 1, 0) * 4 for y in range(6) for x in range(5)]
    suffix = np.minimum.accumulate(np.array(first)[::-1])[::-1]
    assert max_displacement(dw) == int((suffix - 4 * (np.arange(30) + 1)).min())
    # the specialised depthwise layer (dwconv_fast.h) walks the same pixels one at a time: same bound
    fast = Step(op_index=0, opcode="X", kernel="mf_dwconv_fast_s8", params_type="", params=dict(
        in_h=6, in_w=5, c=4, fh=3, fw=3, out_h=6, out_w=5, sh=1, sw=1, dh=1, dw=1, pad_h=1, pad_w=1),
        args=(), consts=(), output=1, macs=0)
    assert max_displacement(fast) == max_displacement(dw)
    # kernels that read everything for every output (FC, mean, softmax) get no bound
    assert max_displacement(Step(0, "FULLY_CONNECTED", "mf_fully_connected_s8", "x", {}, (), (), 1, 0)) is None


def test_planner_respects_links_and_liveness():
    rng = np.random.default_rng(7)
    for trial in range(40):
        sizes = rng.integers(8, 400, size=7)
        buffers = [Buffer(key=i, size=int(s), first=i, last=i + 1) for i, s in enumerate(sizes)]
        links = {(i, i + 1): int(rng.integers(-int(sizes[i + 1]) + 1, 50)) for i in range(6) if rng.random() < 0.7}
        plan = plan_arena(buffers, links=links)
        off = plan.offsets
        for a in buffers:
            assert off[a.key] >= 0 and off[a.key] + a.size <= plan.arena_bytes
            for b in buffers:
                if a.key >= b.key or not a.overlaps(b):
                    continue
                disjoint = off[a.key] + a.size <= off[b.key] or off[b.key] + b.size <= off[a.key]
                linked = (a.key, b.key) in links and off[b.key] - off[a.key] <= links[a.key, b.key]
                assert disjoint or linked, (trial, a, b, off, links)
        assert set(plan.inplace_used) <= set(links)
        assert plan_arena(buffers, links={}).arena_bytes >= plan.lower_bound


def _dscnn_block(L, x):
    x = L.Conv2D(16, (4, 3), strides=2, padding="same", activation="relu")(x)
    for _ in range(2):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.AveragePooling2D((2, 2))(x)
    return L.Dense(4)(L.Flatten()(x))


def _conv1d_chain(L, x):
    x = L.Conv1D(8, 5, padding="same", activation="relu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(8, 3, padding="same", activation="relu")(x)
    x = L.Conv1D(8, 3, padding="same", activation="relu")(x)
    return L.Dense(3)(L.GlobalAveragePooling1D()(x))


CASES = {"dscnn_block": ((20, 10, 1), _dscnn_block), "conv1d_chain": ((40, 4), _conv1d_chain)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inplace_plan_goes_below_the_liveness_bound_and_stays_exact(case, tmp_path):
    from mcuforge.codegen.emit_native import generate_native

    input_shape, body = CASES[case]
    model = convert(_keras_model(11, input_shape, body), input_shape, seed=11)
    summary = generate_native(model, tmp_path / "plan", labels=[], name="m")
    assert summary["arena_inplace_steps"] >= 1, summary["arena_timeline"]
    assert summary["arena_bytes"] < summary["arena_lower_bound"]
    assert len(read_model(model).operators) >= 5
    assert_native_equals_tflm(model, tmp_path / "run", count=48, seed=3)
