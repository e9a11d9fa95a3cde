"""Host verification of the generated C against the device semantics (the tflite_micro interpreter).

- `check_native`: compile the native model C (runtime + generated sources, host gcc, warnings are
  errors) into the batch harness, run every test window through it and through tflite_micro, and
  count bit-identical int8 logits, argmax agreement and the C model's accuracy.
- `compare_features`: when the C feature twin exists (`mcuforge.codegen.emit_features` and
  `firmware/features/`), compile it with a small harness and compare its features with the
  Python ones. Without it, `features_status()` says so; nothing is faked.
"""
from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np

from mcuforge.codegen.c_names import c_identifier
from mcuforge.codegen.host_build import CFLAGS, build_host, run_host
from mcuforge.errors import McuforgeError
from mcuforge.codegen.tflm_runtime import io_quantization, quantize_input, run_int8

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FEATURES_DIR = PROJECT_ROOT / "firmware" / "features"
SKIPPED_NO_TWIN = "skipped: no C feature twin yet"


def model_inputs(model_bytes: bytes, x: np.ndarray) -> tuple[dict, np.ndarray]:
    """(io quantisation, the float model inputs quantised as the model's QUANTIZE does, (N, size))."""
    quant = io_quantization(model_bytes)
    inputs = quantize_input(np.asarray(x, np.float32), quant["input"]["scale"], quant["input"]["zero_point"])
    return quant, inputs.reshape(len(x), -1)


def check_native(model_bytes: bytes, generated_dir: Path, name: str, x: np.ndarray, y: np.ndarray,
                 work_dir: Path) -> dict:
    """Compile `<name>.c` in generated_dir with the runtime and compare it with tflite_micro on x."""
    ident = c_identifier(name)
    if not (Path(generated_dir) / f"{ident}.c").exists():
        raise McuforgeError(f"{generated_dir}/{ident}.c not found: run the codegen stage (codegen.name={name})")
    quant, inputs = model_inputs(model_bytes, x)
    output_size = int(np.prod(quant["output"]["shape"]))
    exe = build_host(Path(generated_dir), ident, Path(work_dir) / "build")
    c_logits = run_host(exe, inputs, output_size)
    ref_logits = run_int8(model_bytes, inputs).reshape(len(inputs), output_size)
    c_class, ref_class = c_logits.argmax(axis=1), ref_logits.argmax(axis=1)
    y = np.asarray(y)
    diff = np.abs(c_logits.astype(np.int16) - ref_logits.astype(np.int16))
    windows = len(inputs)
    return {
        "windows": windows,
        "logits_exact": int(np.sum(np.all(c_logits == ref_logits, axis=1))),
        "logits_max_abs_diff": int(diff.max()) if windows else 0,
        "agreement": float(np.mean(c_class == ref_class)) if windows else None,
        "accuracy_int8_c": float(np.mean(c_class == y)) if windows else None,
        "accuracy_int8_tflm": float(np.mean(ref_class == y)) if windows else None,
        "cflags": " ".join(CFLAGS),
    }


def feature_twin_available(features_dir: Path = FEATURES_DIR) -> bool:
    """True when both halves of the C feature twin exist: the emitter module and its C sources."""
    return (importlib.util.find_spec("mcuforge.codegen.emit_features") is not None
            and (Path(features_dir) / "include" / "mcuforge" / "features.h").is_file()
            and any((Path(features_dir) / "src").glob("*.c")))


_FEATURES_HARNESS = r"""/* stdin: N x WINDOW floats; stdout per window: FEATURES floats, then FEATURES int8. */
#include <stdint.h>
#include <stdio.h>
#include "mcuforge/features.h"

int main(void)
{
    static float window[MF_WINDOW_SIZE];
    static float features[MF_FEATURE_SIZE];
    static int8_t model_input[MF_FEATURE_SIZE];
    unsigned long index = 0;
    for (;;) {
        int status;
        size_t got = fread(window, sizeof(float), MF_WINDOW_SIZE, stdin);
        if (got == 0)
            break;
        if (got != MF_WINDOW_SIZE)
            return 3;
        status = mcuforge_features_float(window, features);
        if (status == 0)
            status = mcuforge_features(window, model_input);
        if (status != 0) {
            fprintf(stderr, "feature twin returned %d on window %lu\n", status, index);
            return 4;
        }
        if (fwrite(features, sizeof(float), MF_FEATURE_SIZE, stdout) != MF_FEATURE_SIZE ||
            fwrite(model_input, 1, MF_FEATURE_SIZE, stdout) != MF_FEATURE_SIZE)
            return 5;
        ++index;
    }
    return 0;
}
"""
# The twin transcribes numpy float32 expressions one IEEE operation each: no fused multiply-add.
TWIN_CFLAGS = ("-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra")


def _gcc(args: list[str], what: str) -> None:
    result = subprocess.run(["gcc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise McuforgeError(f"C feature twin: {what} failed:\ngcc {' '.join(args)}\n{result.stderr[-3000:]}")


def build_feature_twin(gen_dir: Path, features_dir: Path, block: str, window_size: int, feature_size: int,
                       build_dir: Path) -> Path:
    """Compile firmware/features/src/*.c (+ the CMSIS-DSP sources for blocks spectral and mfcc, with
    the flags of the cmsisdsp wheel, see mcuforge.dsp.cmsis_dsp_sources) and the batch harness."""
    build_dir.mkdir(parents=True, exist_ok=True)
    features_dir = Path(features_dir)
    includes = [Path(gen_dir), features_dir / "include", features_dir / "src"]
    defines: list[str] = []
    link: list[str] = ["-lm"]
    objects = []
    from mcuforge.codegen.emit_features import cmsis_functions

    if cmsis_functions(block):
        from mcuforge.dsp import cmsis_dsp_sources as cmsis

        root = cmsis.cmsis_dsp_root()
        cmsis_includes = [f"-I{d}" for d in cmsis.include_dirs(root)]
        for i, src in enumerate(cmsis.cmsis_dsp_sources(cmsis_functions(block), root)):
            obj = build_dir / f"cmsis_{i}_{src.stem}.o"
            _gcc([*cmsis.WHEEL_DEFINES, *cmsis.WHEEL_CFLAGS, *cmsis.SECTION_FLAGS, *cmsis_includes,
                  "-c", str(src), "-o", str(obj)], f"compiling {src.name}")
            objects.append(obj)
        includes += cmsis.include_dirs(root)
        defines = list(cmsis.WHEEL_DEFINES)
        link = [*cmsis.GC_LINK_FLAGS, *cmsis.WHEEL_LIBS]
    inc = [f"-I{d}" for d in includes]
    sizes = [f"-DMF_WINDOW_SIZE={window_size}", f"-DMF_FEATURE_SIZE={feature_size}"]
    harness = build_dir / "features_harness.c"
    harness.write_text(_FEATURES_HARNESS)
    for src in [*sorted((features_dir / "src").glob("*.c")), harness]:
        obj = build_dir / f"twin_{src.stem}.o"
        _gcc([*TWIN_CFLAGS, *defines, *sizes, *inc, "-c", str(src), "-o", str(obj)], f"compiling {src.name}")
        objects.append(obj)
    exe = build_dir / "features_harness"
    _gcc([*map(str, objects), "-o", str(exe), *link], "linking")
    return exe


def compare_features(windows: np.ndarray, x: np.ndarray, normalization: dict, features_cfg: dict,
                     sample_rate_hz: float, input_quant: dict, work_dir: Path,
                     features_dir: Path = FEATURES_DIR) -> dict:
    """Run the C feature twin on the raw test windows and compare with the Python model inputs `x`.

    The twin's float features (before standardisation) are standardised here with the
    normalization.json mean/std in float32, as the features stage does, and compared with x:
    features_max_rel_err = max |c - py| / max(|py|, 1) over every feature of every window (an
    absolute error for standardised values below 1, a relative one above). features_int8_exact
    counts windows whose int8 model input from C equals quantize_input(x) exactly."""
    from mcuforge.codegen.emit_features import generate_features

    work_dir = Path(work_dir)
    gen_dir = work_dir / "features_generated"
    generate_features(normalization, features_cfg, sample_rate_hz, input_quant, gen_dir)
    windows = np.ascontiguousarray(windows, dtype=np.float32)
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    window_size, feature_size = int(np.prod(windows.shape[1:])), x.shape[1]
    exe = build_feature_twin(gen_dir, features_dir, features_cfg.get("block"), window_size, feature_size,
                             work_dir / "features_build")
    ran = subprocess.run([str(exe)], input=windows.tobytes(), capture_output=True)
    if ran.returncode != 0:
        raise McuforgeError(f"C feature twin harness exited {ran.returncode}: "
                            f"{ran.stderr.decode(errors='replace')[-2000:]}")
    record = np.dtype([("f", np.float32, (feature_size,)), ("q", np.int8, (feature_size,))])
    out = np.frombuffer(ran.stdout, dtype=record)
    if len(out) != len(windows):
        raise McuforgeError(f"C feature twin gave {len(out)} results for {len(windows)} windows")
    mean = np.asarray(normalization["mean"], np.float32).reshape(-1)
    std = np.asarray(normalization["std"], np.float32).reshape(-1)
    reps = feature_size // len(mean)  # raw: per channel (feature i -> channel i % channels)
    c_std = ((out["f"] - np.tile(mean, reps)) / np.tile(std, reps)).astype(np.float32)
    abs_err = np.abs(c_std.astype(np.float64) - x)
    expected_int8 = quantize_input(x, input_quant["scale"], input_quant["zero_point"])
    c_int8 = out["q"]
    return {
        "features_max_rel_err": float(np.max(abs_err / np.maximum(np.abs(x), 1.0))) if len(x) else None,
        "features_max_abs_err": float(abs_err.max()) if len(x) else None,
        "features_int8_exact": int(np.sum(np.all(c_int8 == expected_int8, axis=1))),
        "features_int8_max_abs_diff": int(np.abs(c_int8.astype(np.int16) - expected_int8).max()) if len(x) else 0,
        "features_check": "compared",
    }


def features_status(**kwargs) -> dict:
    """compare_features(**kwargs) if the twin exists, else the explicit 'skipped' record."""
    if not feature_twin_available(kwargs.get("features_dir", FEATURES_DIR)):
        return {"features_max_rel_err": None, "features_check": SKIPPED_NO_TWIN}
    return compare_features(**kwargs)
