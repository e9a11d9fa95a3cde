"""The tests' own check of a stage's int8 logits: float model inputs quantised as TFLite's QUANTIZE
does (round half away from zero, saturate), run through the tflite_micro interpreter, and compared
here, so a comparison bug inside the stage under test cannot pass."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mcuforge.arrays import load_arrays
from mcuforge.codegen.host_build import build_host, run_host
from mcuforge.codegen.tflm_reference import tflm_outputs

SAMPLE = [0, 1, 5, 11]  # test windows compared in the tests themselves


def int8_inputs(model: bytes, x: np.ndarray) -> np.ndarray:
    """(N, input_size) int8: x quantised with the model's input scale and zero point."""
    from tflite_micro.python.tflite_micro import runtime

    details = runtime.Interpreter.from_bytes(bytes(model), arena_size=1 << 20).get_input_details(0)
    scale = np.float32(details["quantization_parameters"]["scales"][0])
    zero_point = int(details["quantization_parameters"]["zero_points"][0])
    scaled = np.asarray(x, np.float32).reshape(len(x), -1) / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def assert_logits_match(model: bytes, x: np.ndarray, logits: np.ndarray) -> None:
    """logits (N, classes) int8 == tflite_micro's on the same float inputs, row for row."""
    expected = tflm_outputs(model, int8_inputs(model, x))
    assert logits.shape == expected.shape, (logits.shape, expected.shape)
    differ = np.flatnonzero((logits != expected).any(axis=1))
    assert differ.size == 0, (f"{differ.size}/{len(x)} windows differ; first {differ[0]}: "
                              f"{logits[differ[0]].tolist()} vs tflite_micro {expected[differ[0]].tolist()}")


def assert_generated_c_matches(root: Path, build_dir: Path, ident: str = "model") -> None:
    """A workspace's firmware/generated/<ident>.c, compiled and run here on SAMPLE of its test windows
    (data/features/test.npz), against tflite_micro run on models/model_int8.tflite here."""
    model = (root / "models/model_int8.tflite").read_bytes()
    x = load_arrays(root / "data/features/test.npz")["x"][SAMPLE]
    labels = json.loads((root / "data/features/normalization.json").read_text())["labels"]
    exe = build_host(root / "firmware/generated", ident, build_dir)
    assert_logits_match(model, x, run_host(exe, int8_inputs(model, x), len(labels)))
