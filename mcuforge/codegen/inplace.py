"""Which kernel steps may write their output over their own input, and how far.

A kernel that walks its output in NHWC raster order, pixel by pixel, reads for output pixel p
only input pixels at or after a known first address, and every later pixel reads further on.
So the output may start *inside* the input's bytes, as long as each pixel's write lands below
the first input byte that this pixel or any later one still reads. With the output placed
`d` bytes after the input's start (d may be negative), the step is safe for every d <= A, where

    A = min over output pixels p of ( first_read(p..end) - end_of_write(p) )

first_read(p..end) = smallest input byte offset read by pixel p or a later pixel, and
end_of_write(p) = (p + 1) * bytes_per_pixel. Pixels whose window lies past the input's end
(no read) impose nothing. The bound holds for any order of work *within* a pixel (reads of
pixel p may interleave with its own writes, which all stay below everything p reads) and for
kernels that block several pixels together, as long as pixels are completed in raster order.
The runtime kernels listed in ``PIXEL_KERNELS`` do that; tests/test_inplace.py runs each of
them in place at d = A on random shapes and compares with the out-of-place result.
"""
from __future__ import annotations

import numpy as np

from mcuforge.codegen.steps import Step

# kernel -> where its params keep the window geometry (filter size key pair)
PIXEL_KERNELS = {
    "mf_conv2d_s8": "filter",
    "mf_depthwise_conv2d_s8": "filter",
    "mf_max_pool_s8": "pool",
    "mf_avg_pool_s8": "pool",
}


def _window(step: Step) -> tuple[int, int]:
    p = step.params
    if PIXEL_KERNELS[step.kernel] == "filter":
        return p["filter"]["h"], p["filter"]["w"]
    return p["filter_h"], p["filter_w"]


def max_displacement(step: Step) -> int | None:
    """A (see module doc) for a step whose single tensor input may be overwritten, else None."""
    if step.kernel not in PIXEL_KERNELS:
        return None
    p = step.params
    n, ih, iw, ic = (p["input"][k] for k in "nhwc")
    oh, ow, oc = (p["output"][k] for k in "hwc")
    fh, fw = _window(step)
    dh, dw = p.get("dilation_h", 1), p.get("dilation_w", 1)
    oy, ox = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    y0 = oy.ravel() * p["stride_h"] - p["pad_h"]
    x0 = ox.ravel() * p["stride_w"] - p["pad_w"]
    # a window reads something iff some tap row and some tap column are inside the input
    rows_in = (y0 + (fh - 1) * dh >= 0) & (y0 < ih)
    cols_in = (x0 + (fw - 1) * dw >= 0) & (x0 < iw)
    first = ((np.clip(y0, 0, None) * iw + np.clip(x0, 0, None)) * ic).astype(np.int64)
    none = np.iinfo(np.int64).max
    reads = np.concatenate([np.where(rows_in & cols_in, first + b * ih * iw * ic, none) for b in range(n)])
    suffix_first = np.minimum.accumulate(reads[::-1])[::-1]
    end_of_write = (np.arange(len(reads), dtype=np.int64) + 1) * oc
    bounded = suffix_first != none
    if not bounded.any():
        return None
    return int((suffix_first[bounded] - end_of_write[bounded]).min())
