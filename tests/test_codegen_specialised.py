"""The codegen side of the specialised layers (mcuforge.codegen.conv_fast / pool_fast): the
input offset folded into the bias, the literal geometry, and the fall-backs to the portable
kernels. Bit-exactness of the C bodies against tflite_micro is tests/test_kernels.py (host, both
the portable and the emulated-DSP loops) and tests/test_baremetal.py (QEMU Cortex-M0+, M3, M4 and RV32IMC)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcuforge.codegen.conv_fast import (MAX_SCRATCH, armv6m_requant_table, armv6m_rows, fold_bias, geometry,
                                        nudged_rounding, specialise_conv)
from mcuforge.codegen.dwconv_fast import specialise_depthwise
from mcuforge.codegen.pool_fast import specialise_mean, specialise_pool
from mcuforge.codegen.steps import ConstArray, Step


def _conv_step(ih=10, iw=1, c=3, kh=3, kw=1, oc=2, pad_h=1, n=1, bias=(5, -7), offset=128) -> Step:
    rng = np.random.default_rng(ih * 100 + c)
    weights = tuple(int(v) for v in rng.integers(-127, 128, size=oc * kh * kw * c))
    consts = (ConstArray("filter", "int8_t", weights),)
    args = (("tensor", 0), ("const", "filter"), ("null", None), ("const", "multiplier"), ("const", "shift"))
    if bias is not None:
        consts += (ConstArray("bias", "int32_t", bias),)
        args = args[:2] + (("const", "bias"),) + args[3:]
    consts += (ConstArray("multiplier", "int32_t", (1 << 30,) * oc), ConstArray("shift", "int32_t", (-3,) * oc))
    params = dict(input=dict(n=n, h=ih, w=iw, c=c), filter=dict(n=oc, h=kh, w=kw, c=c),
                  output=dict(n=n, h=ih, w=iw, c=oc), stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                  pad_h=pad_h, pad_w=0, depth_multiplier=1, input_offset=offset, output_offset=-128,
                  act_min=-128, act_max=127)
    return Step(op_index=1, opcode="CONV_2D", kernel="mf_conv2d_s8", params_type="mf_conv_params", params=params,
                args=args, consts=consts, output=1, macs=0)


def test_fold_bias_is_the_int32_sum_with_the_offset():
    weights = (1, -2, 3, 127, 127, 127)
    assert fold_bias((10, -10), weights, 2, 128) == (10 + 128 * 2, -10 + 128 * 381)
    assert fold_bias(None, weights, 2, -1) == (-2, -381)
    # wraps like the C int32 accumulator
    assert fold_bias(((1 << 31) - 1, 0), (1, 0, 0, 0, 0, 0), 2, 1) == (-(1 << 31), 0)


def test_one_dimensional_conv_reads_patches_in_place():
    step = specialise_conv(_conv_step())
    assert step.specialised and step.kernel == "mf_conv_fast_s8"
    g = step.params
    assert (g["contiguous"], g["pdist"], g["input_zp"]) == (1, 3, -128)
    assert step.scratch_bytes == 20  # max(pdist, n) + n = 18, rounded up to whole words
    consts = {c.suffix: c.values for c in step.consts}
    assert "bias" not in consts and consts["bias_folded"] == fold_bias((5, -7), consts["filter"], 2, 128)
    assert [v for _, v in step.args] == [0, "filter", "filter_rows", "bias_folded", "multiplier", "shift",
                                         "requant_table"]
    guarded = {c.suffix: c.guard for c in step.consts if c.guard}
    assert guarded == {"filter_rows": "MF_ARMV6M", "requant_table": "MF_ARMV6M"}  # ARMv6-M's own copies


def test_armv6m_layouts():
    """filter_rows: groups of five output channels, each [tap][channel] (one LDM per tap); the
    requant table: per channel the multiplier's 11/11/9-bit split, 2^(8+s) and 9+s."""
    weights = np.arange(7 * 3).reshape(7, 3)  # [oc][k]
    assert armv6m_rows(weights) == (0, 3, 6, 9, 12, 1, 4, 7, 10, 13, 2, 5, 8, 11, 14, 15, 18, 16, 19, 17, 20)
    stage = dict(right_shifts_only=1, nudged=1, below_2p20=1)
    m = (5 << 22) + (3 << 11) + 7
    assert armv6m_requant_table(stage, (m, 1 << 30), (-1, -22)) == (7, 3, 5, 1 << 9, 10, 0, 0, 256, 1 << 30, 31)
    step = specialise_conv(_conv_step())
    assert step.params["below_2p20"] == 1  # |bias| + 255 * sum |w| < 2^20
    big = specialise_conv(_with_consts(_conv_step(), bias=(1 << 20, 0)))
    assert big.params["below_2p20"] == 0 and ("null", None) in big.args  # no table: the generic stage


def test_two_dimensional_conv_gathers_patches():
    g = geometry(_conv_step(ih=6, iw=5, kw=3).params)
    assert g["contiguous"] == 0 and g["pdist"] == 3 * 3 * 3


def _with_consts(step: Step, **values) -> Step:
    consts = tuple(ConstArray(c.suffix, c.ctype, values.get(c.suffix, c.values)) for c in step.consts)
    return replace(step, consts=consts)


def test_output_stage_literals_follow_the_multipliers_and_shifts():
    """right_shifts_only = 1 lets the kernel drop the left-shift path: only when no shift is > 0;
    a negative multiplier (which TFLite never makes) keeps the portable kernel, whose output
    stage handles it."""
    assert specialise_conv(_conv_step()).params["right_shifts_only"] == 1  # shifts -3, -3
    assert specialise_conv(_with_consts(_conv_step(), shift=(-3, 2))).params["right_shifts_only"] == 0
    assert specialise_conv(_with_consts(_conv_step(), shift=(0, -1))).params["right_shifts_only"] == 1
    assert specialise_conv(_conv_step()).params["nudged"] == 1  # shifts -3: the bound holds
    assert specialise_conv(_with_consts(_conv_step(), shift=(0, -1))).params["nudged"] == 0  # a shift of 0
    negative = _with_consts(_conv_step(), multiplier=(1 << 30, -(1 << 30)))
    assert specialise_conv(negative) is negative


def test_conv_without_bias_and_fallbacks():
    assert specialise_conv(_conv_step(bias=None)).consts[1].values == fold_bias(None, _conv_step().consts[0].values,
                                                                                2, 128)
    assert not specialise_conv(_conv_step(n=2)).specialised  # batches stay on the portable kernel
    big = _conv_step(ih=40, c=64, kh=33, oc=1, bias=(0,))
    assert 2 * 33 * 64 > MAX_SCRATCH and specialise_conv(big) is big


def test_pool_and_mean_literals():
    pool = Step(op_index=2, opcode="MAX_POOL_2D", kernel="mf_max_pool_s8", params_type="mf_pool_params",
                params=dict(input=dict(n=1, h=8, w=1, c=4), output=dict(n=1, h=4, w=1, c=4), filter_h=2, filter_w=1,
                            stride_h=2, stride_w=1, pad_h=0, pad_w=0, act_min=-128, act_max=127),
                args=(("tensor", 0),), consts=(), output=1, macs=0)
    fast = specialise_pool(pool)
    assert fast.specialised and fast.params["is_max"] == 1 and fast.params["fh"] == 2
    mean = Step(op_index=3, opcode="MEAN", kernel="mf_mean_s8", params_type="mf_mean_params",
                params=dict(dims=[1, 5, 6, 4], reduce=[0, 1, 1, 0], input_zp=3, output_zp=-1, multiplier=1 << 30,
                            shift=-2), args=(("tensor", 0),), consts=(), output=1, macs=0)
    assert specialise_mean(mean).params == dict(outer=1, mid=30, inner=4, input_zp=3, output_zp=-1,
                                                multiplier=1 << 30, shift=-2)
    split = Step(**{**mean.__dict__, "params": {**mean.params, "reduce": [0, 1, 0, 1]}})
    assert specialise_mean(split) is split  # non-contiguous axes stay on the portable kernel


def _dw_step(ih=4, iw=3, c=5, kh=3, kw=3, dm=1, n=1, bias=(5, -7, 0, 1, 2), offset=128, shift=-3) -> Step:
    oc = c * dm
    rng = np.random.default_rng(ih * 10 + c)
    weights = tuple(int(v) for v in rng.integers(-127, 128, size=kh * kw * oc))
    consts = (ConstArray("filter", "int8_t", weights),)
    args = (("tensor", 0), ("const", "filter"), ("null", None), ("const", "multiplier"), ("const", "shift"))
    if bias is not None:
        consts += (ConstArray("bias", "int32_t", bias[:oc]),)
        args = args[:2] + (("const", "bias"),) + args[3:]
    consts += (ConstArray("multiplier", "int32_t", (1 << 30,) * oc), ConstArray("shift", "int32_t", (shift,) * oc))
    params = dict(input=dict(n=n, h=ih, w=iw, c=c), filter=dict(n=1, h=kh, w=kw, c=oc),
                  output=dict(n=n, h=ih, w=iw, c=oc), stride_h=1, stride_w=2, dilation_h=2, dilation_w=1,
                  pad_h=1, pad_w=1, depth_multiplier=dm, input_offset=offset, output_offset=-128,
                  act_min=-128, act_max=127)
    return Step(op_index=1, opcode="DEPTHWISE_CONV_2D", kernel="mf_depthwise_conv2d_s8",
                params_type="mf_conv_params", params=params, args=args, consts=consts, output=1, macs=0)


def test_depthwise_folds_the_offset_per_channel_over_its_taps():
    step = _dw_step()
    fast = specialise_depthwise(step)
    assert fast.specialised and fast.kernel == "mf_dwconv_fast_s8" and fast.scratch_bytes == 0
    consts = {c.suffix: c.values for c in fast.consts}
    w = np.asarray(consts["filter"]).reshape(9, 5)  # [fy][fx][ch]
    assert consts["bias_folded"] == tuple(int(b + 128 * w[:, ch].sum()) for ch, b in enumerate((5, -7, 0, 1, 2)))
    assert consts["zp_row"] == (-128,) * 5  # edge taps read the input zero point
    assert [value for _, value in fast.args] == [0, "filter", "bias_folded", "multiplier", "shift", "zp_row"]
    g = fast.params
    assert (g["sh"], g["sw"], g["dh"], g["dw"], g["pad_h"], g["pad_w"], g["c"]) == (1, 2, 2, 1, 1, 1, 5)
    assert g["right_shifts_only"] == 1
    assert specialise_depthwise(_dw_step(shift=1)).params["right_shifts_only"] == 0
    assert specialise_depthwise(_dw_step(bias=None)).consts[1].values == tuple(
        int(128 * w[:, ch].sum()) for ch in range(5))


def test_depthwise_fallbacks():
    for step in (_dw_step(dm=2), _dw_step(n=2), _dw_step(kh=9, kw=8, ih=9, iw=8)):
        assert specialise_depthwise(step) is step
    negative = _with_consts(_dw_step(), multiplier=(1 << 30, -(1 << 30), 1, 1, 1))
    assert specialise_depthwise(negative) is negative


def test_depthwise_op_cases_lower_to_the_specialised_kernel():
    from mcuforge.codegen.lowering import lower_graph
    from mcuforge.codegen.model_reader import read_model
    from test_kernels import op_case_model

    def kernels(case):
        return [s.kernel for s in lower_graph(read_model(op_case_model(case))) if s.opcode == "DEPTHWISE_CONV_2D"]

    for case in ("depthwise_pad1_small_c5", "depthwise_stride2_same_relu6", "depthwise_dilation2_c8",
                 "depthwise_per_tensor_5x1", "depthwise_stride2_valid"):
        assert kernels(case) == ["mf_dwconv_fast_s8"], case
    assert kernels("depthwise_dm2_same_relu") == ["mf_depthwise_conv2d_s8"]  # depth_multiplier 2: portable
    # the three output stages: general (positive shifts), right shifts with the nudged division
    stages = {case: [(s.params["right_shifts_only"], s.params["nudged"])
                     for s in lower_graph(read_model(op_case_model(case))) if s.opcode == "DEPTHWISE_CONV_2D"]
              for case in ("depthwise_left_shift_relu6", "depthwise_dilation2_c8")}
    assert stages == {"depthwise_left_shift_relu6": [(0, 0)], "depthwise_dilation2_c8": [(1, 1)]}


def test_nudged_rounding_needs_right_shifts_and_a_bounded_accumulator():
    w = np.array([[100, -3], [-100, 0]])  # [taps][channels]: sum |w| = 200 and 3
    assert nudged_rounding((0, 0), w, (-1, -31)) == 1
    assert nudged_rounding(None, w, (0, -5)) == 0  # a shift of 0: no nudge to add
    # channel 0: bound 255 * 200 + |bias|; the nudge 2^(r-1) must fit below INT32_MAX beside it
    edge = (1 << 31) - 1 - 255 * 200 - (1 << 4)
    assert nudged_rounding((edge, 0), w, (-5, -1)) == 1
    assert nudged_rounding((-(edge + 1), 0), w, (-5, -1)) == 0
    assert specialise_depthwise(_dw_step()).params["nudged"] == 1
    assert specialise_depthwise(_dw_step(shift=0)).params["nudged"] == 0
