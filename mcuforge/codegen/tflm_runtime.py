"""Device semantics on the host: the tflite_micro interpreter (no TensorFlow import).

A too-small arena segfaults the interpreter, so arena sizes are probed in a subprocess:
    python -m mcuforge.codegen.tflm_runtime MODEL.tflite ARENA_BYTES    (prints the allocation report)
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from mcuforge.errors import McuforgeError

PROBE_ARENA_BYTES = 4 * 1024 * 1024
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def _interpreter(model: bytes, arena_bytes: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=arena_bytes)


def _run_probe(model_path: Path, arena_bytes: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcuforge.codegen.tflm_runtime", str(model_path), str(arena_bytes)],
                          capture_output=True, text=True, check=False)


def probe_arena_bytes(model_path: str | Path, granularity: int = 16) -> dict[str, int]:
    """TFLM's arena for this model on the host: `allocated` is its own allocation total, `minimal`
    the smallest arena (to `granularity` bytes) the interpreter accepts, found by bisection."""
    model_path = Path(model_path)
    probe = _run_probe(model_path, PROBE_ARENA_BYTES)
    found = _TOTAL.search(probe.stdout + probe.stderr)
    if probe.returncode != 0 or not found:
        raise McuforgeError(f"{model_path}: tflite_micro could not run the model "
                            f"(exit {probe.returncode}): {probe.stderr.strip()[-500:]}")
    allocated = int(found.group(1))
    low, high = allocated // 2, allocated * 2  # low fails or is smaller than needed; high works
    while not _works(model_path, high):
        high *= 2
    while high - low > granularity:
        mid = (low + high) // 2
        if _works(model_path, mid):
            high = mid
        else:
            low = mid
    return {"allocated": allocated, "minimal": high}


def _works(model_path: Path, arena_bytes: int) -> bool:
    run = _run_probe(model_path, arena_bytes)
    return run.returncode == 0 and _TOTAL.search(run.stdout + run.stderr) is not None


def io_quantization(model: bytes) -> dict:
    """Input/output shapes and (scale, zero point) of a single-input single-output int8 model."""
    interp = _interpreter(model, PROBE_ARENA_BYTES)
    details = {"input": interp.get_input_details(0), "output": interp.get_output_details(0)}
    out = {}
    for name, d in details.items():
        q = d["quantization_parameters"]
        out[name] = {"shape": [int(s) for s in d["shape"]], "scale": float(q["scales"][0]),
                     "zero_point": int(q["zero_points"][0]), "dtype": np.dtype(d["dtype"]).name}
    return out


def quantize_input(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 → int8 as TFLite's QUANTIZE does: round half away from zero, then saturate."""
    scaled = x.astype(np.float32) / np.float32(scale)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def run_int8(model: bytes, inputs_int8: np.ndarray, arena_bytes: int = PROBE_ARENA_BYTES) -> np.ndarray:
    """Invoke the model once per input (batch axis first); returns the int8 outputs stacked."""
    interp = _interpreter(model, arena_bytes)
    shape = interp.get_input_details(0)["shape"]
    outputs = []
    for sample in inputs_int8:
        interp.set_input(sample.reshape(shape).astype(np.int8), 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(outputs).astype(np.int8)


def predict_classes(model: bytes, x_float: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float model inputs → (int8 logits, class index) with device semantics."""
    quant = io_quantization(model)["input"]
    logits = run_int8(model, quantize_input(x_float, quant["scale"], quant["zero_point"]))
    return logits, logits.argmax(axis=1)


def device_logits(model: bytes, x_float: np.ndarray) -> np.ndarray:
    """The int8 logits the device must compute for float inputs of any shape: one row per window."""
    x = np.asarray(x_float, np.float32)
    return predict_classes(model, x.reshape(len(x), -1))[0].reshape(len(x), -1)


def _probe_main(argv: list[str]) -> None:
    model = Path(argv[0]).read_bytes()
    interp = _interpreter(model, int(argv[1]))
    details = interp.get_input_details(0)
    interp.set_input(np.zeros(details["shape"], np.int8), 0)
    interp.invoke()
    interp.print_allocations()


if __name__ == "__main__":
    _probe_main(sys.argv[1:])
