"""The specialised CONV_2D (firmware/runtime/include/mcuforge/conv_fast.h): from the portable
kernel's Step to one whose constants are baked into a per-layer instantiation.

The input offset moves into the bias here: bias_folded[oc] = bias[oc] + input_offset *
sum_k w[oc][k], wrapped to int32 like the C accumulator, and padded taps read the input zero
point (they add w * 0, as TFLM's skipped taps do). The filter keeps its [oc][kh][kw][ic] bytes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcuforge.codegen.steps import ConstArray, Step

KERNEL = "mf_conv_fast_s8"
MAX_SCRATCH = 4096  # larger patches stay on the portable kernel (its working set is the input)


def wrap_int32(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in ((values.astype(np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)))


def fold_bias(bias: tuple[int, ...] | None, weights: tuple[int, ...], out_c: int, input_offset: int) -> tuple[int, ...]:
    """bias[oc] + input_offset * sum of filter oc's weights, modulo 2^32 (the C int32 sum)."""
    w = np.asarray(weights, dtype=np.int64).reshape(out_c, -1)
    b = np.zeros(out_c, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    return wrap_int32(b + input_offset * w.sum(axis=1))


def nudged_rounding(bias: tuple[int, ...] | None, weights: np.ndarray, shifts: tuple[int, ...]) -> int:
    """1 when the output stage may round with mf_rounding_divide_by_pot_nudged: every shift <= -1
    and, per channel, acc_bound + 2^(-shift - 1) <= INT32_MAX, where acc_bound = |bias| + 255 *
    sum_t |w[t]| bounds TFLM's accumulator (|x + input_offset| <= 255), and so the doubling high
    multiply's result h <= max(acc, 0) (multiplier < 2^31). weights: [taps][channels] (a
    convolution's [oc][k] filter transposed). Used by conv_fast and dwconv_fast."""
    bound = acc_bound(bias, weights)
    r = -np.asarray(shifts, dtype=np.int64)
    return int(bool((r >= 1).all() and (bound + (1 << (np.clip(r, 1, 62) - 1)) <= (1 << 31) - 1).all()))


def acc_bound(bias: tuple[int, ...] | None, weights: np.ndarray) -> np.ndarray:
    """Per channel, |bias| + 255 * sum_t |w[t]|: a bound on TFLM's accumulator (|x + input_offset|
    <= 255). weights: [taps][channels]."""
    b = np.zeros(weights.shape[1], dtype=np.int64) if bias is None else np.abs(np.asarray(bias, dtype=np.int64))
    return b + 255 * np.abs(weights.astype(np.int64)).sum(axis=0)


def acc_below_2p20(bias: tuple[int, ...] | None, weights: np.ndarray) -> int:
    """1 when every channel's accumulator is below 2^20 in magnitude, so the output stage may take
    mf_srdhm_below_2p20 (three 32-bit multiplies on ARMv6-M). weights: [taps][channels]."""
    return int(bool((acc_bound(bias, weights) < (1 << 20)).all()))


def output_stage(bias: tuple[int, ...] | None, weights: np.ndarray, shifts: tuple[int, ...]) -> dict:
    """The output-stage literals that close the argument lists of mf_conv_fast_s8 and
    mf_dwconv_fast_s8: right_shifts_only (every per-channel shift <= 0, so the kernel's left-shift
    path folds away), nudged (nudged_rounding) and below_2p20 (acc_below_2p20). weights:
    [taps][channels]."""
    return dict(right_shifts_only=int(all(v <= 0 for v in shifts)), nudged=nudged_rounding(bias, weights, shifts),
                below_2p20=acc_below_2p20(bias, weights))


def armv6m_requant_table(stage: dict, multipliers: tuple[int, ...], shifts: tuple[int, ...]) -> tuple[int, ...] | None:
    """Per channel {b0, b1, b2, 2^(8+s), 9+s} for mf_requantize_table_s8 (fixedpoint.h): the
    multiplier split in 11/11/9 bits and s = -shift, or None unless the output stage `stage` is
    right_shifts_only, nudged and below_2p20 and every s is in [1, 22] (its int32 bound)."""
    m = np.asarray(multipliers, dtype=np.int64)
    s = -np.asarray(shifts, dtype=np.int64)
    if not (stage["right_shifts_only"] and stage["nudged"] and stage["below_2p20"]) or (m < 0).any() \
            or (s < 1).any() or (s > 22).any():
        return None
    table = np.stack([m & 0x7FF, (m >> 11) & 0x7FF, m >> 22, np.left_shift(1, 8 + s), 9 + s], axis=1)
    return tuple(int(v) for v in table.reshape(-1))


def armv6m_rows(weights: np.ndarray) -> tuple[int, ...]:
    """The [oc][k] filter as mf_rows_armv6m reads it (mcuforge/dot_armv6m.h): groups of up to five
    output channels, each group [k][channel] in int32, one LDM per tap; group oc0 starts at oc0 * k."""
    groups = [weights[g:g + 5].T.reshape(-1) for g in range(0, weights.shape[0], 5)]
    return tuple(int(v) for v in np.concatenate(groups))


def geometry(p: dict) -> dict:
    """The literal arguments of mf_conv_fast_s8 after its pointers, in its parameter order (without
    the output_stage ones, which specialise_conv appends)."""
    i, f, o = p["input"], p["filter"], p["output"]
    n = f["h"] * f["w"] * i["c"]
    rows_adjacent = f["h"] == 1 or p["dilation_h"] * i["w"] == f["w"]
    contiguous = int(rows_adjacent and (f["w"] == 1 or p["dilation_w"] == 1))
    if contiguous:
        pdist = p["stride_w"] * i["c"] if o["w"] > 1 else p["stride_h"] * i["w"] * i["c"]
    else:
        pdist = n
    return dict(in_h=i["h"], in_w=i["w"], c=i["c"], fh=f["h"], fw=f["w"], out_h=o["h"], out_w=o["w"],
                out_c=o["c"], sh=p["stride_h"], sw=p["stride_w"], dh=p["dilation_h"], dw=p["dilation_w"],
                pad_h=p["pad_h"], pad_w=p["pad_w"], input_zp=-p["input_offset"], contiguous=contiguous,
                pdist=pdist, output_offset=p["output_offset"], act_min=p["act_min"], act_max=p["act_max"])


def specialise_conv(step: Step) -> Step:
    """The portable CONV_2D step as a specialised one, or the step unchanged when it does not apply
    (batch > 1, a patch pair larger than MAX_SCRATCH, or a negative multiplier: the kernel assumes
    none, as TFLite's QuantizeMultiplier never makes one)."""
    p = step.params
    consts = {c.suffix: c for c in step.consts}
    if p["input"]["n"] != 1 or min(consts["multiplier"].values) < 0:
        return step
    g = geometry(p)
    n = g["fh"] * g["fw"] * g["c"]
    scratch = max(g["pdist"], n) + n
    scratch = (scratch + 3) & ~3  # whole words: the DSP loop loads 4 bytes at a time
    if scratch > MAX_SCRATCH:
        return step
    bias = consts["bias"].values if "bias" in consts else None
    folded = fold_bias(bias, consts["filter"].values, g["out_c"], p["input_offset"])
    weights = np.asarray(consts["filter"].values, dtype=np.int64).reshape(g["out_c"], -1)
    g.update(output_stage(bias, weights.T, consts["shift"].values))
    # ARMv6-M's own layouts (mcuforge/dot.h MF_ARMV6M_ONLY: other cores pass a null pointer)
    armv6m = (ConstArray("filter_rows", "int32_t", armv6m_rows(weights), guard="MF_ARMV6M"),)
    table = armv6m_requant_table(g, consts["multiplier"].values, consts["shift"].values)
    if table is not None:
        armv6m += (ConstArray("requant_table", "int32_t", table, guard="MF_ARMV6M"),)
    new_consts = (consts["filter"], ConstArray("bias_folded", "int32_t", folded), consts["multiplier"],
                  consts["shift"]) + armv6m
    args = (step.args[0], ("const", "filter"), ("const", "filter_rows"), ("const", "bias_folded"),
            ("const", "multiplier"), ("const", "shift"), ("const", "requant_table") if table else ("null", None))
    return replace(step, kernel=KERNEL, params_type="", params=g, args=args, consts=new_consts, specialised=True,
                   scratch_bytes=scratch)
