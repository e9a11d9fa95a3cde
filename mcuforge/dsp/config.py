"""Validate the `features:` section for the spectral block (conf/features/spectral.yaml).

Every error is an McuforgeError naming the dotted field (features.<key>), the bad value and the fix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from mcuforge.errors import McuforgeError

PREFIX = "features"
FILTER_TYPES = ("none", "lowpass", "highpass")
STATS = ("mean", "std", "rms", "skew", "kurtosis")
MAX_FILTER_ORDER = 8
# arm_rfft_fast_init_f32 supports 32..4096; 1024 is this block's upper bound.
MIN_FFT_LENGTH = 32
MAX_FFT_LENGTH = 1024
KEYS = ("block", "window_ms", "stride_ms", "filter", "remove_mean", "stats", "fft_length",
        "overlap", "band_edges_hz", "log_power")
FILTER_KEYS = ("type", "cutoff_hz", "order")


@dataclass(frozen=True)
class SpectralConfig:
    sample_rate_hz: float
    n_channels: int
    window_ms: float
    stride_ms: float
    window_length: int
    filter_type: str
    cutoff_hz: float | None
    filter_order: int | None
    remove_mean: bool
    stats: tuple[str, ...]
    fft_length: int
    overlap: float
    fft_step: int
    band_edges_hz: tuple[float, ...]
    log_power: bool


def _err(field: str, message: str) -> McuforgeError:
    return McuforgeError(f"{PREFIX}.{field}{message}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(section: dict, key: str, field: str):
    if key not in section:
        raise McuforgeError(f"{PREFIX}.{field} is missing; add it to conf/features/spectral.yaml")
    return section[key]


def _bool(cfg: dict, key: str) -> bool:
    value = _require(cfg, key, key)
    if not isinstance(value, bool):
        raise _err(key, f"={value!r} must be true or false")
    return value


def _positive(cfg: dict, key: str) -> float:
    value = _require(cfg, key, key)
    if not _is_number(value) or value <= 0:
        raise _err(key, f"={value!r} must be a positive number")
    return float(value)


def _exact(value: float) -> Fraction:
    return Fraction(str(value))


def validate_spectral_config(cfg: dict, sample_rate_hz: float, n_channels: int) -> SpectralConfig:
    """Check every field of the spectral block's config; return it normalised and typed."""
    if not isinstance(cfg, dict):
        raise McuforgeError(f"{PREFIX} must be a mapping (conf/features/spectral.yaml), "
                            f"got {type(cfg).__name__}")
    if not _is_number(sample_rate_hz) or sample_rate_hz <= 0:
        raise McuforgeError(f"dataset.sample_rate_hz={sample_rate_hz!r} must be a positive number")
    if not _is_int(n_channels) or n_channels < 1:
        raise McuforgeError(f"dataset.channels: need at least one channel, got {n_channels!r}")
    unknown = sorted(set(cfg) - set(KEYS))
    if unknown:
        raise _err(unknown[0], f" is not a spectral-block setting; allowed: {', '.join(KEYS)}")
    block = _require(cfg, "block", "block")
    if block != "spectral":
        raise _err("block", f"={block!r}: this validator is for block: spectral")

    nyquist = sample_rate_hz / 2
    window_ms = _positive(cfg, "window_ms")
    stride_ms = _positive(cfg, "stride_ms")
    samples = _exact(window_ms) * _exact(sample_rate_hz) / 1000
    if samples.denominator != 1:
        raise _err("window_ms", f"={window_ms:g} at {sample_rate_hz:g} Hz is {float(samples):g} "
                   f"samples; choose window_ms so window_ms * sample_rate_hz / 1000 is a whole number")
    window_length = int(samples)

    filt = _require(cfg, "filter", "filter")
    if not isinstance(filt, dict):
        raise _err("filter", f"={filt!r} must be a mapping with type, cutoff_hz, order")
    unknown = sorted(set(filt) - set(FILTER_KEYS))
    if unknown:
        raise _err(f"filter.{unknown[0]}", f" is not a filter setting; allowed: "
                   f"{', '.join(FILTER_KEYS)}")
    filter_type = _require(filt, "type", "filter.type")
    if filter_type not in FILTER_TYPES:
        raise _err("filter.type", f"={filter_type!r} must be one of {', '.join(FILTER_TYPES)}")
    cutoff_hz = order = None
    if filter_type != "none":
        cutoff_hz = _require(filt, "cutoff_hz", "filter.cutoff_hz")
        if not _is_number(cutoff_hz) or cutoff_hz <= 0:
            raise _err("filter.cutoff_hz", f"={cutoff_hz!r} must be a positive number of Hz")
        if cutoff_hz >= nyquist:
            raise _err("filter.cutoff_hz", f"={cutoff_hz:g} must be below Nyquist ({nyquist:g} Hz); "
                       f"lower it or set filter.type: none")
        cutoff_hz = float(cutoff_hz)
        order = _require(filt, "order", "filter.order")
        if not _is_int(order) or not 1 <= order <= MAX_FILTER_ORDER:
            raise _err("filter.order", f"={order!r} must be an integer from 1 to {MAX_FILTER_ORDER}")

    remove_mean = _bool(cfg, "remove_mean")

    stats = _require(cfg, "stats", "stats")
    if not isinstance(stats, list) or any(s not in STATS for s in stats):
        raise _err("stats", f"={stats!r} must be a list drawn from {', '.join(STATS)}")
    if len(set(stats)) != len(stats):
        raise _err("stats", f"={stats!r} lists a stat twice; list each once")

    fft_length = _require(cfg, "fft_length", "fft_length")
    if (not _is_int(fft_length) or fft_length < MIN_FFT_LENGTH or fft_length > MAX_FFT_LENGTH
            or fft_length & (fft_length - 1)):
        raise _err("fft_length", f"={fft_length!r} must be a power of two between {MIN_FFT_LENGTH} "
                   f"and {MAX_FFT_LENGTH} (arm_rfft_fast_f32 has no smaller size)")
    if fft_length > window_length:
        raise _err("fft_length", f"={fft_length} is longer than the window ({window_length} samples "
                   f"= window_ms {window_ms:g} at {sample_rate_hz:g} Hz); use a smaller fft_length "
                   f"or a longer window_ms")

    overlap = _require(cfg, "overlap", "overlap")
    if not _is_number(overlap) or not 0 <= overlap < 1:
        raise _err("overlap", f"={overlap!r} must be a number in [0, 1)")
    step = _exact(fft_length) * (1 - _exact(overlap))
    if step.denominator != 1:
        raise _err("overlap", f"={overlap:g} gives a Welch step of fft_length*(1-overlap) = "
                   f"{float(step):g} samples; choose overlap so the step is a whole number "
                   f"(e.g. 0, 0.5, 0.75)")

    edges = _require(cfg, "band_edges_hz", "band_edges_hz")
    if not isinstance(edges, list) or len(edges) < 2 or not all(_is_number(e) for e in edges):
        raise _err("band_edges_hz", f"={edges!r} must be a list of at least two numbers (Hz)")
    if any(e <= 0 for e in edges):
        raise _err("band_edges_hz", f"={edges!r} must all be > 0 Hz")
    if any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise _err("band_edges_hz", f"={edges!r} must be strictly increasing")
    if edges[-1] > nyquist:
        raise _err("band_edges_hz", f": last edge {edges[-1]:g} Hz is above Nyquist "
                   f"({nyquist:g} Hz); drop it or lower it")

    log_power = _bool(cfg, "log_power")

    return SpectralConfig(
        sample_rate_hz=float(sample_rate_hz), n_channels=n_channels, window_ms=window_ms,
        stride_ms=stride_ms, window_length=window_length, filter_type=filter_type,
        cutoff_hz=cutoff_hz, filter_order=order, remove_mean=remove_mean, stats=tuple(stats),
        fft_length=fft_length, overlap=float(overlap), fft_step=int(step),
        band_edges_hz=tuple(float(e) for e in edges), log_power=log_power)
