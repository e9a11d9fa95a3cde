"""Generate `mcuforge_features_config.h`: every constant the C feature twin needs.

    generate_features(normalization, features_cfg, sample_rate_hz, input_quant, out_dir) -> path

The header holds only macros (scalars, and array initialisers such as
`#define MCUFORGE_FEATURES_HANN_WINDOW { ... }` that firmware/features/src/features.c turns into
its static const tables), so it can be included from any translation unit without unused-data
warnings. Floats are written as C99 hexadecimal literals of their float32 value (exact), with the
decimal in a comment for scalars; the bytes depend only on the inputs (no timestamps, no paths).

Block `raw`: window length, channels, per-channel mean/std. Block `spectral`: everything
mcuforge.dsp.spectral.plan_constants returns, plus per-feature mean/std. Block `mfcc`: the tables of
mcuforge.dsp.mfcc.plan_constants (float32, or q15 integers), plus per-coefficient mean/std. All: the
int8 input quantisation (scale, zero point).
"""
from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from mcuforge import atomic
from mcuforge.codegen import input_table
from mcuforge.errors import McuforgeError

HEADER_NAME = "mcuforge_features_config.h"
PREFIX = "MCUFORGE_FEATURES"
BLOCK_IDS = {"raw": 0, "spectral": 1, "mfcc": 2}
# The CMSIS-DSP functions features.c calls (mcuforge.dsp.cmsis_dsp_sources.cmsis_dsp_sources input).
CMSIS_FUNCTIONS = (
    "arm_biquad_cascade_df2T_init_f32", "arm_biquad_cascade_df2T_f32", "arm_mean_f32",
    "arm_offset_f32", "arm_mult_f32", "arm_rms_f32", "arm_sqrt_f32", "arm_rfft_fast_init_f32",
    "arm_rfft_fast_f32", "arm_cmplx_mag_squared_f32", "arm_add_f32", "arm_accumulate_f32",
    "arm_scale_f32", "arm_vlog_f32")
_VALUES_PER_LINE = 4


def cmsis_functions(block: str) -> tuple[str, ...]:
    """The CMSIS-DSP functions the C twin of `block` calls (empty: no CMSIS-DSP needed)."""
    if block == "spectral":
        return CMSIS_FUNCTIONS
    if block == "mfcc":
        from mcuforge.dsp.mfcc import CMSIS_FUNCTIONS as MFCC_FUNCTIONS

        return MFCC_FUNCTIONS
    return ()


def c_float(value) -> str:
    """Exact C99 literal of the float32 nearest `value`, e.g. 0x1.99999ap-4f."""
    value32 = np.float32(value)
    if not np.isfinite(value32):
        raise McuforgeError(f"features header: constant {value!r} is not a finite float32")
    if value32 == 0:
        return "-0.0f" if math.copysign(1.0, float(value32)) < 0 else "0.0f"
    mantissa, exponent = float(value32).hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def _scalar_float(name: str, value) -> str:
    return f"#define {PREFIX}_{name} ({c_float(value)}) /* {float(np.float32(value)):.9g} */"


def _scalar_int(name: str, value: int) -> str:
    return f"#define {PREFIX}_{name} {int(value)}"


def _array(name: str, values, fmt) -> list[str]:
    """`#define PREFIX_NAME { v0, v1, ... }` over several lines (at least one element)."""
    items = [fmt(v) for v in np.asarray(values).reshape(-1)]
    if not items:
        raise McuforgeError(f"features header: {name} would be an empty C array")
    lines = [f"#define {PREFIX}_{name} {{ \\"]
    for start in range(0, len(items), _VALUES_PER_LINE):
        chunk = ", ".join(items[start:start + _VALUES_PER_LINE])
        more = "," if start + _VALUES_PER_LINE < len(items) else ""
        lines.append(f"    {chunk}{more} \\")
    lines.append("}")
    return lines


def _float_array(name: str, values) -> list[str]:
    return _array(name, np.asarray(values, dtype=np.float32), c_float)


def _int_array(name: str, values) -> list[str]:
    return _array(name, np.asarray(values, dtype=np.int64), lambda v: str(int(v)))


def _scaler(normalization: dict, expected: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(normalization.get("mean", []), dtype=np.float32).reshape(-1)
    std = np.asarray(normalization.get("std", []), dtype=np.float32).reshape(-1)
    if len(mean) != expected or len(std) != expected:
        raise McuforgeError(f"data/features/normalization.json: mean/std have {len(mean)}/"
                            f"{len(std)} values, the features config gives {expected} {what}; "
                            f"re-run the features stage with this config")
    if np.any(std == 0):
        raise McuforgeError("data/features/normalization.json: a std is 0; re-run the features "
                            "stage (fit_standardizer maps constant features to std 1)")
    return mean, std


def _quantization(input_quant: dict) -> list[str]:
    scale, zero_point = input_quant.get("scale"), input_quant.get("zero_point")
    if not isinstance(scale, (int, float)) or not np.float32(scale) > 0:
        raise McuforgeError(f"model input scale={scale!r} must be a positive number")
    if not isinstance(zero_point, (int, np.integer)) or not -128 <= zero_point <= 127:
        raise McuforgeError(f"model input zero_point={zero_point!r} must be an int8")
    return ["/* int8 model input: q = sat8(round_half_away(x / scale) + zero_point) "
            "(mcuforge.codegen.tflm_runtime.quantize_input) */",
            _scalar_float("INPUT_SCALE", scale), _scalar_int("INPUT_ZERO_POINT", zero_point)]


def _window_length(features_cfg: dict, sample_rate_hz: float) -> int:
    samples = Fraction(str(features_cfg.get("window_ms"))) * Fraction(str(sample_rate_hz)) / 1000
    if samples.denominator != 1 or samples <= 0:
        raise McuforgeError(f"features.window_ms={features_cfg.get('window_ms')!r} at "
                            f"{sample_rate_hz:g} Hz is not a whole number of samples")
    return int(samples)


def _raw_lines(normalization: dict, features_cfg: dict, sample_rate_hz: float) -> list[str]:
    n_channels = len(normalization.get("mean", []))
    mean, std = _scaler(normalization, n_channels, "channels")
    window_length = _window_length(features_cfg, sample_rate_hz)
    shape = normalization.get("input_shape")
    if shape is not None and list(shape) != [window_length, n_channels]:
        raise McuforgeError(f"data/features/normalization.json: input_shape {shape} != "
                            f"[{window_length}, {n_channels}] from features.window_ms; re-run the "
                            f"features stage with this config")
    return [
        "/* block raw: the window itself, standardised per channel */",
        _scalar_int("WINDOW_LENGTH", window_length),
        _scalar_int("N_CHANNELS", n_channels),
        _scalar_int("N_FEATURES", window_length * n_channels),
        _scalar_int("N_SCALER", n_channels),
        "", "/* per-channel standardisation (x - mean) / std */",
        *_float_array("SCALER_MEAN", mean), *_float_array("SCALER_STD", std),
    ]


def _spectral_plan(normalization: dict, features_cfg: dict, sample_rate_hz: float):
    from mcuforge.dsp.spectral import make_spectral_plan

    n_features = len(normalization.get("mean", []))
    per_channel = make_spectral_plan(features_cfg, sample_rate_hz, 1).n_features_per_channel
    if n_features == 0 or n_features % per_channel:
        raise McuforgeError(f"data/features/normalization.json: {n_features} features is not a "
                            f"multiple of the {per_channel} features per channel of this spectral "
                            f"config; re-run the features stage with this config")
    return make_spectral_plan(features_cfg, sample_rate_hz, n_features // per_channel)


def _spectral_lines(normalization: dict, features_cfg: dict, sample_rate_hz: float) -> list[str]:
    from mcuforge.dsp.spectral import STAT_IDS, plan_constants

    k = plan_constants(_spectral_plan(normalization, features_cfg, sample_rate_hz))
    mean, std = _scaler(normalization, k["n_features"], "features")
    lines = [
        "/* block spectral (mcuforge.dsp.spectral.plan_constants) */",
        _scalar_int("WINDOW_LENGTH", k["window_length"]),
        _scalar_int("N_CHANNELS", k["n_channels"]),
        _scalar_int("N_FEATURES_PER_CHANNEL", k["n_features_per_channel"]),
        _scalar_int("N_FEATURES", k["n_features"]),
        _scalar_int("N_SCALER", k["n_features"]),
        _scalar_float("SAMPLE_RATE_HZ", k["sample_rate_hz"]),
        "", "/* Butterworth df2T cascade, rows [b0, b1, b2, -a1, -a2] */",
        _scalar_int("FILTER_ENABLED", k["filter_enabled"]),
        _scalar_int("FILTER_HIGHPASS", k["filter_highpass"]),
        _scalar_int("N_BIQUAD_STAGES", k["n_biquad_stages"]),
    ]
    if k["filter_enabled"]:
        lines += _float_array("BIQUAD_COEFFS", k["biquad_coeffs"])
    lines += ["", "/* statistics, in feature order */",
              _scalar_int("REMOVE_MEAN", k["remove_mean"]),
              *[_scalar_int(f"STAT_{name.upper()}", ident) for name, ident in STAT_IDS.items()],
              _scalar_int("N_STATS", k["n_stats"])]
    if k["n_stats"]:
        lines += _int_array("STAT_IDS", k["stat_ids"])
    lines += [
        _scalar_float("CONSTANT_VAR_TOL", k["constant_var_tol"]),
        "", "/* Welch PSD */",
        _scalar_int("FFT_LENGTH", k["fft_length"]),
        _scalar_int("FFT_STEP", k["fft_step"]),
        _scalar_int("N_SEGMENTS", k["n_segments"]),
        _scalar_int("N_PSD_BINS", k["n_psd_bins"]),
        *_float_array("HANN_WINDOW", k["hann_window"]),
        *_float_array("PSD_SCALE", k["psd_scale"]),
        "", "/* band powers: bins [start, stop) */",
        _scalar_int("N_BANDS", k["n_bands"]),
        *_int_array("BAND_BIN_START", k["band_bin_start"]),
        *_int_array("BAND_BIN_STOP", k["band_bin_stop"]),
        _scalar_float("BIN_WIDTH_HZ", k["bin_width_hz"]),
        _scalar_int("LOG_POWER", k["log_power"]),
        _scalar_float("LOG_FLOOR", k["log_floor"]),
        _scalar_float("INV_LN10", k["inv_ln10"]),
        "", "/* per-feature standardisation (x - mean) / std */",
        *_float_array("SCALER_MEAN", mean), *_float_array("SCALER_STD", std),
    ]
    return lines


def _mfcc_lines(normalization: dict, features_cfg: dict, sample_rate_hz: float) -> list[str]:
    from mcuforge.dsp.mfcc import make_mfcc_plan, plan_constants

    k = plan_constants(make_mfcc_plan(features_cfg, sample_rate_hz))
    mean, std = _scaler(normalization, k["coefficients"], "coefficients")
    table = _int_array if k["q15"] else _float_array
    n_features = k["n_frames"] * k["coefficients"]
    return [
        "/* block mfcc (mcuforge.dsp.mfcc.plan_constants): CMSIS-DSP arm_mfcc_"
        + ("q15 */" if k["q15"] else "f32 */"),
        _scalar_int("WINDOW_LENGTH", k["window_length"]),
        _scalar_int("N_CHANNELS", 1),
        _scalar_int("N_FEATURES", n_features),
        _scalar_int("N_SCALER", k["coefficients"]),
        _scalar_int("MFCC_Q15", k["q15"]),
        _scalar_int("MFCC_CLIP_NORM", k["clip_norm"]),
        *[_scalar_int(name.upper(), k[name]) for name in (
            "frame_length", "hop_length", "n_frames", "fft_length", "mel_bands", "n_filter_coefs")],
        _scalar_int("N_COEFFS", k["coefficients"]),
        *table("MFCC_WINDOW", k["window_coefs"]),
        *_int_array("MFCC_FILTER_POS", k["filter_pos"]),
        *_int_array("MFCC_FILTER_LENGTHS", k["filter_lengths"]),
        *table("MFCC_FILTER_COEFS", k["filter_coefs"]),
        *table("MFCC_DCT", k["dct_coefs"]),
        "", "/* per-coefficient standardisation (x - mean) / std */",
        *_float_array("SCALER_MEAN", mean), *_float_array("SCALER_STD", std),
    ]


_BLOCK_LINES = {"raw": _raw_lines, "spectral": _spectral_lines, "mfcc": _mfcc_lines}


def _input_table_lines(normalization: dict, input_quant: dict, max_bytes: int) -> list[str]:
    """The standardise + quantise threshold table (mcuforge.codegen.input_table), when it fits max_bytes."""
    if not isinstance(max_bytes, int) or max_bytes < 0:
        raise McuforgeError(f"firmware.input_table_max_bytes={max_bytes!r} must be a whole number of bytes >= 0 "
                            f"(0: no table)")
    mean = np.asarray(normalization["mean"], dtype=np.float32).reshape(-1)
    if len(mean) * input_table.ROWS * 4 > max_bytes:
        return []
    table = input_table.threshold_table(mean, normalization["std"], input_quant["scale"], input_quant["zero_point"])
    return ["", f"/* q(x) = -128 + #{{j >= 1: table[channel][j] <= key(x)}} (mcuforge.codegen.input_table): "
                f"{table.size * 4} B, used on cores without an FPU */",
            *_array("INPUT_TABLE", table, lambda v: str(int(v)) if v != input_table.INT32_MIN else "(-2147483647 - 1)")]


def features_header_text(normalization: dict, features_cfg: dict, sample_rate_hz: float,
                         input_quant: dict, input_table_max_bytes: int = 0) -> str:
    """The text of mcuforge_features_config.h (deterministic); with input_table_max_bytes > 0 also the
    threshold table of the int8 input quantisation when it fits in that many bytes."""
    if not isinstance(features_cfg, dict) or features_cfg.get("block") not in BLOCK_IDS:
        block = features_cfg.get("block") if isinstance(features_cfg, dict) else features_cfg
        raise McuforgeError(f"features.block={block!r}: the C feature twin supports "
                            f"{', '.join(BLOCK_IDS)}")
    block = features_cfg["block"]
    recorded = normalization.get("block")
    if recorded is not None and recorded != block:
        raise McuforgeError(f"data/features/normalization.json was made with block {recorded!r}, "
                            f"features.block is {block!r}; re-run the features stage")
    body = _BLOCK_LINES[block](normalization, features_cfg, sample_rate_hz)
    lines = [
        "/* Generated by mcuforge.codegen.emit_features; do not edit. */",
        "/* Constants of the feature twin firmware/features/src/features.c. */",
        "#ifndef MCUFORGE_FEATURES_CONFIG_H",
        "#define MCUFORGE_FEATURES_CONFIG_H",
        "",
        *[_scalar_int(f"BLOCK_{name.upper()}", ident) for name, ident in BLOCK_IDS.items()],
        _scalar_int("BLOCK", BLOCK_IDS[block]),
        "",
        *body,
        "",
        *_quantization(input_quant),
        *_input_table_lines(normalization, input_quant, input_table_max_bytes),
        "",
        "#endif /* MCUFORGE_FEATURES_CONFIG_H */",
        "",
    ]
    return "\n".join(lines)


def generate_features(normalization: dict, features_cfg: dict, sample_rate_hz: float,
                      input_quant: dict, out_dir: Path, input_table_max_bytes: int = 0) -> Path:
    """Write out_dir/mcuforge_features_config.h atomically; return its path."""
    text = features_header_text(normalization, features_cfg, sample_rate_hz, input_quant, input_table_max_bytes)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / HEADER_NAME
    atomic.write_text(path, text)
    return path
