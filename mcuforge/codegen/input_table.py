"""Per-channel threshold tables that turn standardise + quantise into integer compares.

    table = threshold_table(mean, std, scale, zero_point)   # int32 (channels, 256)
    q = lookup(x, table[c])                                  # == quantize_input(standardize(x)) for channel c

The feature twin's last step, q(x) = quantize_input((x - mean) / std) (mcuforge.data.normalization.standardize,
mcuforge.codegen.tflm_runtime.quantize_input: float32 subtract, two float32 divisions, round half away,
+ zero point, saturate), is non-decreasing in x: every step is (std > 0, scale > 0). So for each
channel it is a step function with at most 255 steps, fixed by the smallest x reaching each of the
values -127..127. Found here by bisection over float32 bit patterns with the float32 Python twins
themselves, they make q(x) = -128 + #{thresholds <= x}: a binary search of integer compares on the
device (firmware/features/src/features.c), bit-exact by construction, no soft-float division.

Floats are compared as integers through key(): the bit pattern for x >= +0, the pattern with the
magnitude bits flipped for x <= -0 -- a signed int32 order that equals the float order, with -0
one below +0 (both give the same q, so the search over keys treats them as distinct points).
NaN keys (outside [key(-inf), key(+inf)]) are not in the table: the C twin sends them down the
float path. Table row j (0..255) holds the threshold of value j - 128; row 0 is INT32_MIN (every
key reaches -128); a value no finite or infinite input reaches gets NEVER.
"""
from __future__ import annotations

import numpy as np

from mcuforge.codegen.tflm_runtime import quantize_input
from mcuforge.data.normalization import standardize
from mcuforge.errors import McuforgeError

ROWS = 256
KEY_MINUS_INF = -0x7F800001  # key(-inf): 0xFF800000 ^ 0x7FFFFFFF as int32
KEY_PLUS_INF = 0x7F800000
NEVER = KEY_PLUS_INF + 1     # above every non-NaN key
INT32_MIN = -(1 << 31)


def key(x: np.ndarray) -> np.ndarray:
    """int32 keys whose signed order is the float32 order of x (see module doc)."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, bits ^ 0x7FFFFFFF, bits).astype(np.int32)


def from_key(k: np.ndarray) -> np.ndarray:
    """The float32 values of int32 keys (inverse of key)."""
    k = np.asarray(k, np.int64)
    return np.where(k < 0, k ^ 0x7FFFFFFF, k).astype(np.int32).view(np.float32)


def quantize_channel(x: np.ndarray, mean: np.float32, std: np.float32, scale: float, zero_point: int) -> np.ndarray:
    """The Python twins for one channel: quantize_input(standardize(x)) as int8 (int16 array)."""
    scaler = {"mean": np.float32(mean), "std": np.float32(std)}
    with np.errstate(over="ignore", invalid="ignore"):  # +-inf inputs and huge quotients are part of the domain
        return quantize_input(standardize(np.asarray(x, np.float32), scaler), scale, zero_point).astype(np.int16)


def channel_thresholds(mean, std, scale: float, zero_point: int) -> np.ndarray:
    """Row j = the smallest key whose q is >= j - 128 (j = 1..255), row 0 = INT32_MIN."""
    values = np.arange(-127, 128, dtype=np.int64)

    def q(keys: np.ndarray) -> np.ndarray:
        return quantize_channel(from_key(keys), mean, std, scale, zero_point).astype(np.int64)

    lo = np.full(values.shape, KEY_MINUS_INF, np.int64)
    hi = np.full(values.shape, KEY_PLUS_INF, np.int64)
    reached_at_lo = q(lo) >= values
    never = q(hi) < values
    # invariant where searching: q(lo) < v <= q(hi); the answer is hi when hi - lo == 1
    while True:
        open_ = (hi - lo > 1) & ~reached_at_lo & ~never
        if not open_.any():
            break
        mid = (lo + hi) // 2
        up = q(mid) >= values
        hi = np.where(open_ & up, mid, hi)
        lo = np.where(open_ & ~up, mid, lo)
    thresholds = np.where(reached_at_lo, KEY_MINUS_INF, np.where(never, NEVER, hi))
    return np.concatenate([[INT32_MIN], thresholds]).astype(np.int64)


def threshold_table(mean, std, scale: float, zero_point: int) -> np.ndarray:
    """(channels, 256) int32 thresholds for per-channel float32 mean/std and the int8 input quantisation."""
    mean = np.asarray(mean, np.float32).reshape(-1)
    std = np.asarray(std, np.float32).reshape(-1)
    if not np.all(std > 0) or not np.float32(scale) > 0:
        raise McuforgeError(f"input threshold table: std {std.tolist()} and scale {scale!r} must be positive "
                            f"(q(x) is then non-decreasing)")
    return np.stack([channel_thresholds(m, s, scale, zero_point) for m, s in zip(mean, std)]).astype(np.int32)


def lookup(x: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The C twin's binary search (features.c quantize_by_table) in numpy: -128 + #{row[j] <= key(x), j >= 1}."""
    k = key(x).astype(np.int64)
    index = np.zeros(k.shape, np.int64)
    for step in (128, 64, 32, 16, 8, 4, 2, 1):
        index = np.where(row.astype(np.int64)[index + step] <= k, index + step, index)
    return (index - 128).astype(np.int16)
