"""Which kernel steps may write their output over their own input, and how far.

A kernel that walks its output in NHWC raster order, pixel by pixel, reads for output pixel p
only input pixels at or after a known first address, and every later pixel reads further on.
So the output may start *inside* the input's bytes, as long as each pixel's write lands below
the first input byte that this pixel or any later one still reads. With the output placed
`d` bytes after the input's start (d may be negative), the step is safe for every d <= A, where

    A = min over output pixels p of ( first_read(p..end) - end_of_write(p) )

first_read(p..end) = smallest input byte offset read by pixel p or a later pixel, and
end_of_write(p) = (p + 1) * bytes_per_pixel (for a kernel working on blocks of B pixels, p runs
over each block's first pixel and end_of_write is the block's end). Pixels whose window lies past the input's end
(no read) impose nothing. The bound holds for any order of work *within* a pixel (reads of
pixel p may interleave with its own writes, which all stay below everything p reads) and for
kernels that block several pixels together once the bound is taken per block (a block's writes
must stay below the first byte its first pixel reads). The runtime kernels listed in
``PIXEL_KERNELS`` walk their output that way; tests/test_inplace.py runs models whose plans
overlap at the bound against the tflite_micro interpreter (and 8 bytes past it breaks them).
"""
from __future__ import annotations

import numpy as np

from mcuforge.codegen.steps import Step

def _portable(p: dict, window: tuple[int, int]) -> dict:
    return dict(n=p["input"]["n"], ih=p["input"]["h"], iw=p["input"]["w"], ic=p["input"]["c"],
                oh=p["output"]["h"], ow=p["output"]["w"], oc=p["output"]["c"], fh=window[0], fw=window[1],
                sh=p["stride_h"], sw=p["stride_w"], dh=p.get("dilation_h", 1), dw=p.get("dilation_w", 1),
                pad_h=p["pad_h"], pad_w=p["pad_w"])


def _literals(g: dict) -> dict:
    """The specialised layers' literal arguments (mcuforge.codegen.conv_fast / dwconv_fast / pool_fast), batch 1."""
    return dict(n=1, ih=g["in_h"], iw=g["in_w"], ic=g["c"], oh=g["out_h"], ow=g["out_w"],
                oc=g.get("out_c", g["c"]), fh=g["fh"], fw=g["fw"], sh=g["sh"], sw=g["sw"], dh=g.get("dh", 1),
                dw=g.get("dw", 1), pad_h=g["pad_h"], pad_w=g["pad_w"])


# kernel -> (window geometry from the step's params, pixels per block: a kernel that computes
# several output pixels together writes all of them before reading the next block)
PIXEL_KERNELS = {
    "mf_conv2d_s8": (lambda p: _portable(p, (p["filter"]["h"], p["filter"]["w"])), 1),
    "mf_depthwise_conv2d_s8": (lambda p: _portable(p, (p["filter"]["h"], p["filter"]["w"])), 1),
    "mf_max_pool_s8": (lambda p: _portable(p, (p["filter_h"], p["filter_w"])), 1),
    "mf_avg_pool_s8": (lambda p: _portable(p, (p["filter_h"], p["filter_w"])), 1),
    "mf_conv_fast_s8": (_literals, 2),   # two output pixels per block (conv_fast.h)
    "mf_pool_fast_s8": (_literals, 1),
    "mf_dwconv_fast_s8": (_literals, 1),  # one pixel at a time, raster order (dwconv_fast.h)
}


def max_displacement(step: Step) -> int | None:
    """A (see module doc) for a step whose single tensor input may be overwritten, else None."""
    if step.kernel not in PIXEL_KERNELS:
        return None
    geometry, block = PIXEL_KERNELS[step.kernel]
    g = geometry(step.params)
    n, ih, iw, ic, oh, ow, oc = (g[k] for k in ("n", "ih", "iw", "ic", "oh", "ow", "oc"))
    fh, fw, dh, dw = g["fh"], g["fw"], g["dh"], g["dw"]
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    y0 = oy.ravel() * g["sh"] - g["pad_h"]
    x0 = ox.ravel() * g["sw"] - g["pad_w"]
    # a window reads something iff some tap row and some tap column are inside the input
    rows_in = (y0 + (fh - 1) * dh >= 0) & (y0 < ih)
    cols_in = (x0 + (fw - 1) * dw >= 0) & (x0 < iw)
    first = ((np.clip(y0, 0, None) * iw + np.clip(x0, 0, None)) * ic).astype(np.int64)
    none = np.iinfo(np.int64).max
    reads = np.concatenate([np.where(rows_in & cols_in, first + b * ih * iw * ic, none) for b in range(n)])
    suffix_first = np.minimum.accumulate(reads[::-1])[::-1]
    # a block's writes end with its last pixel and must stay below its first pixel's reads onward
    pixels = np.arange(len(reads), dtype=np.int64)
    block_end = np.minimum((pixels // block + 1) * block, len(reads))
    end_of_write = block_end * oc
    bounded = (suffix_first != none) & (pixels % block == 0)
    if not bounded.any():
        return None
    return int((suffix_first[bounded] - end_of_write[bounded]).min())
