"""Validate the `features:` section for the mfcc block (conf/features/mfcc.yaml).

Every error is an McuforgeError naming the dotted field (features.<key>), the bad value and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass

from mcuforge.dsp.config import _exact, _is_int, _is_number
from mcuforge.errors import McuforgeError

CONF = "conf/features/mfcc.yaml"
KEYS = ("block", "window_ms", "stride_ms", "variant", "output", "frame_ms", "hop_ms", "fft_length",
        "mel_bands", "coefficients", "fmin_hz", "fmax_hz", "log_floor", "window", "clip_norm")
VARIANTS = ("f32", "q15")
OUTPUTS = ("mfcc", "log_mel")
WINDOWS = ("hann", "hamming")
# Per-clip cepstral normalisation over the window's frames (mcuforge.dsp.mfcc.clip_normalize).
CLIP_NORMS = ("none", "mean")
# arm_mfcc_init_<N>_f32 / _q15 exist for these lengths only.
FFT_LENGTHS = (32, 64, 128, 256, 512, 1024, 2048, 4096)
# arm_mfcc_f32 adds this before its log (arm_offset_f32(pTmp, 1.0e-6f, ...)); it has no parameter.
CMSIS_LOG_FLOOR = 1.0e-6


@dataclass(frozen=True)
class MfccConfig:
    sample_rate_hz: float
    window_ms: float
    stride_ms: float
    window_length: int      # samples per model window (one clip)
    variant: str
    output: str
    frame_length: int       # samples per frame (zero-padded to fft_length)
    hop_length: int
    fft_length: int
    mel_bands: int
    coefficients: int       # DCT outputs (= mel_bands for output log_mel)
    fmin_hz: float
    fmax_hz: float
    window: str
    clip_norm: str          # none | mean: subtract each coefficient's mean over the clip's frames

    @property
    def n_frames(self) -> int:
        return 1 + (self.window_length - self.frame_length) // self.hop_length


def _err(field: str, message: str) -> McuforgeError:
    return McuforgeError(f"features.{field}{message} ({CONF})")


def _get(cfg: dict, key: str):
    if key not in cfg:
        raise McuforgeError(f"features.{key} is missing; add it ({CONF} lists every mfcc setting)")
    return cfg[key]


def _choice(cfg: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = _get(cfg, key)
    if value not in allowed:
        raise _err(key, f"={value!r} must be one of {', '.join(allowed)}")
    return value


def _samples(cfg: dict, key: str, rate: float) -> int:
    value = _get(cfg, key)
    if not _is_number(value) or value <= 0:
        raise _err(key, f"={value!r} must be a positive number of milliseconds")
    samples = _exact(value) * _exact(rate) / 1000
    if samples.denominator != 1:
        raise _err(key, f"={value:g} at {rate:g} Hz is {float(samples):g} samples; choose it so "
                   f"{key} * sample_rate_hz / 1000 is a whole number")
    return int(samples)


def _count(cfg: dict, key: str, lowest: int) -> int:
    value = _get(cfg, key)
    if not _is_int(value) or value < lowest:
        raise _err(key, f"={value!r} must be an integer >= {lowest}")
    return value


def _hz(cfg: dict, key: str) -> float:
    value = _get(cfg, key)
    if not _is_number(value) or value < 0:
        raise _err(key, f"={value!r} must be a number of Hz >= 0")
    return float(value)


def validate_mfcc_config(cfg: dict, sample_rate_hz: float) -> MfccConfig:
    """Check every field of the mfcc block's config; return it normalised and typed."""
    if not isinstance(cfg, dict):
        raise McuforgeError(f"features must be a mapping ({CONF}), got {type(cfg).__name__}")
    if not _is_number(sample_rate_hz) or sample_rate_hz <= 0:
        raise McuforgeError(f"dataset.sample_rate_hz={sample_rate_hz!r} must be a positive number")
    unknown = sorted(set(cfg) - set(KEYS))
    if unknown:
        raise _err(unknown[0], f" is not an mfcc-block setting; allowed: {', '.join(KEYS)}")
    if _get(cfg, "block") != "mfcc":
        raise _err("block", f"={cfg['block']!r}: this validator is for block: mfcc")
    rate = float(sample_rate_hz)
    window_length = _samples(cfg, "window_ms", rate)
    _samples(cfg, "stride_ms", rate)
    variant = _choice(cfg, "variant", VARIANTS)
    output = _choice(cfg, "output", OUTPUTS)
    window = _choice(cfg, "window", WINDOWS)
    clip_norm = _choice(cfg, "clip_norm", CLIP_NORMS)
    frame = _samples(cfg, "frame_ms", rate)
    hop = _samples(cfg, "hop_ms", rate)
    if frame > window_length:
        raise _err("frame_ms", f"={cfg['frame_ms']:g} ({frame} samples) is longer than the window "
                   f"(window_ms {cfg['window_ms']:g} = {window_length} samples); shorten frame_ms")
    fft = _get(cfg, "fft_length")
    if not _is_int(fft) or fft not in FFT_LENGTHS:
        raise _err("fft_length", f"={fft!r} must be a power of two from {FFT_LENGTHS[0]} to "
                   f"{FFT_LENGTHS[-1]} (the lengths arm_mfcc_init_<N>_f32 exists for)")
    if frame > fft:
        raise _err("fft_length", f"={fft} is shorter than a frame ({frame} samples = frame_ms "
                   f"{cfg['frame_ms']:g}); use fft_length >= {frame} (frames are zero-padded)")
    mel_bands = _count(cfg, "mel_bands", 1)
    coefficients = _count(cfg, "coefficients", 1)
    if output == "mfcc" and coefficients > mel_bands:
        raise _err("coefficients", f"={coefficients} exceeds mel_bands={mel_bands}: the DCT has at "
                   f"most one output per mel band")
    if output == "log_mel":
        if variant == "q15":
            raise _err("output", "=log_mel needs variant: f32 (arm_mfcc_q15's DCT matrix is q15, "
                       "which cannot hold the 1.0 of an identity matrix); use output: mfcc")
        coefficients = mel_bands
    nyquist = rate / 2
    fmin, fmax = _hz(cfg, "fmin_hz"), _hz(cfg, "fmax_hz")
    if fmax > nyquist:
        raise _err("fmax_hz", f"={fmax:g} is above Nyquist ({nyquist:g} Hz at {rate:g} Hz); "
                   f"use at most {nyquist:g}")
    if fmin >= fmax:
        raise _err("fmin_hz", f"={fmin:g} must be below fmax_hz={fmax:g}")
    floor = _get(cfg, "log_floor")
    if not _is_number(floor) or float(floor) != CMSIS_LOG_FLOOR:
        raise _err("log_floor", f"={floor!r}: arm_mfcc_f32 adds {CMSIS_LOG_FLOOR:g} before its log "
                   f"and takes no parameter for it; set log_floor: {CMSIS_LOG_FLOOR:g}")
    return MfccConfig(
        sample_rate_hz=rate, window_ms=float(cfg["window_ms"]), stride_ms=float(cfg["stride_ms"]),
        window_length=window_length, variant=variant, output=output, frame_length=frame,
        hop_length=hop, fft_length=fft, mel_bands=mel_bands, coefficients=coefficients,
        fmin_hz=fmin, fmax_hz=fmax, window=window, clip_norm=clip_norm)
