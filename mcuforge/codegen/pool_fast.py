"""The specialised pooling and MEAN layers (firmware/runtime/include/mcuforge/pool_fast.h):
the portable kernel's Step turned into a per-layer instantiation with literal constants."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mcuforge.codegen.steps import Step


def specialise_pool(step: Step) -> Step:
    """MAX_POOL_2D / AVERAGE_POOL_2D at batch 1 -> mf_pool_fast_s8 (else unchanged)."""
    p = step.params
    i, o = p["input"], p["output"]
    if i["n"] != 1:
        return step
    literals = dict(in_h=i["h"], in_w=i["w"], c=i["c"], out_h=o["h"], out_w=o["w"], fh=p["filter_h"],
                    fw=p["filter_w"], sh=p["stride_h"], sw=p["stride_w"], pad_h=p["pad_h"], pad_w=p["pad_w"],
                    act_min=p["act_min"], act_max=p["act_max"], is_max=int(step.kernel == "mf_max_pool_s8"))
    return replace(step, kernel="mf_pool_fast_s8", params_type="", params=literals, specialised=True)


def specialise_mean(step: Step) -> Step:
    """MEAN whose reduced axes are one contiguous block -> mf_mean_fast_s8 (else unchanged)."""
    p = step.params
    axes = [k for k in range(4) if p["reduce"][k]]
    if not axes or axes != list(range(axes[0], axes[-1] + 1)):
        return step
    dims = p["dims"]
    literals = dict(outer=int(np.prod(dims[:axes[0]])), mid=int(np.prod(dims[axes[0]:axes[-1] + 1])),
                    inner=int(np.prod(dims[axes[-1] + 1:])), input_zp=p["input_zp"], output_zp=p["output_zp"],
                    multiplier=p["multiplier"], shift=p["shift"])
    return replace(step, kernel="mf_mean_fast_s8", params_type="", params=literals, specialised=True)
