"""The specialised DEPTHWISE_CONV_2D (firmware/runtime/include/mcuforge/dwconv_fast.h): the
portable kernel's Step turned into a per-layer instantiation with literal constants.

The input offset moves into the bias as for CONV_2D (conv_fast.fold_bias), per channel over the
fh x fw taps of the [fy][fx][ch] filter; edge pixels point their invalid taps at `zp_row`, c bytes
of the input zero point, which add w * zp and so cancel the folded offset of those taps.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcuforge.codegen.conv_fast import fold_bias, output_stage
from mcuforge.codegen.steps import ConstArray, Step

KERNEL = "mf_dwconv_fast_s8"
MAX_TAPS = 64  # MF_DW_MAX_TAPS in dwconv_fast.h: an edge pixel's tap pointers live on the stack


def geometry(p: dict) -> dict:
    """The literal arguments of mf_dwconv_fast_s8 after its pointers, in its parameter order
    (without the conv_fast.output_stage ones, which specialise_depthwise appends)."""
    i, f, o = p["input"], p["filter"], p["output"]
    return dict(in_h=i["h"], in_w=i["w"], c=i["c"], fh=f["h"], fw=f["w"], out_h=o["h"], out_w=o["w"],
                sh=p["stride_h"], sw=p["stride_w"], dh=p["dilation_h"], dw=p["dilation_w"], pad_h=p["pad_h"],
                pad_w=p["pad_w"], output_offset=p["output_offset"], act_min=p["act_min"], act_max=p["act_max"])


def specialise_depthwise(step: Step) -> Step:
    """The portable DEPTHWISE_CONV_2D step as a specialised one, or the step unchanged when it does
    not apply (batch > 1, depth_multiplier > 1, more than MAX_TAPS taps, or a negative multiplier)."""
    p = step.params
    consts = {c.suffix: c for c in step.consts}
    taps = p["filter"]["h"] * p["filter"]["w"]
    if (p["input"]["n"] != 1 or p["depth_multiplier"] != 1 or taps > MAX_TAPS
            or min(consts["multiplier"].values) < 0):
        return step
    g = geometry(p)
    c = g["c"]
    weights = np.asarray(consts["filter"].values, dtype=np.int64).reshape(taps, c)
    bias = consts["bias"].values if "bias" in consts else None
    folded = fold_bias(bias, tuple(weights.T.ravel()), c, p["input_offset"])
    g.update(output_stage(bias, weights, consts["shift"].values))
    zp_row = ConstArray("zp_row", "int8_t", (-p["input_offset"],) * c)
    new_consts = (consts["filter"], ConstArray("bias_folded", "int32_t", folded), consts["multiplier"],
                  consts["shift"], zp_row)
    args = (step.args[0], ("const", "filter"), ("const", "bias_folded"), ("const", "multiplier"),
            ("const", "shift"), ("const", "zp_row"))
    return replace(step, kernel=KERNEL, params_type="", params=g, args=args, consts=new_consts, specialised=True)
