"""The bench models (benchmarks/models/*.tflite), their documented input and golden logits.

The documented input is x[i] = ((i*13+5) % 101) - 50 (firmware/baremetal/bench_main.c,
benchmarks/codegen.py). GOLDEN is not a hand-written guess: it is the tflite_micro interpreter's
int8 output for that input (`tflm_outputs(model, documented_input(size)[None])[0]`), which
tests/test_codegen_native.py::test_golden_logits_are_tflite_micros_output recomputes at test time
and compares with this table and with benchmarks/codegen.py's EXPECTED. The native C (host and
QEMU) is then held to these numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "models"
GOLDEN = {
    "conv1d": [-7, -63, -26, 111, 25, -94, -95],
    "dense": [28, 27, 6, 26, 17, 10, 42],
}


def bench_bytes(name: str) -> bytes:
    path = BENCH_DIR / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"bench model {path} not present")
    return path.read_bytes()


def documented_input(size: int) -> np.ndarray:
    return np.array([((i * 13 + 5) % 101) - 50 for i in range(size)], dtype=np.int8)


def tflm_golden(name: str) -> list[int]:
    """tflite_micro's int8 logits for the documented input of bench model `name`."""
    from mcuforge.codegen.model_reader import read_model
    from mcuforge.codegen.tflm_reference import tflm_outputs

    model = bench_bytes(name)
    graph = read_model(model)
    return tflm_outputs(model, documented_input(graph.tensors[graph.inputs[0]].size)[None])[0].tolist()
