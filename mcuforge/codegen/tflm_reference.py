"""Reference outputs from the tflite_micro interpreter (the semantics the device runs).

Too small an arena segfaults the process, so the default arena is generous (1 MiB, or more
for large models); probe exact sizes in a subprocess, never here.
"""
from __future__ import annotations

import numpy as np


def tflm_outputs(model_bytes: bytes, inputs: np.ndarray, arena_size: int | None = None) -> np.ndarray:
    """Run each row of `inputs` (N, input_size) int8 through TFLM; return (N, output_size) int8."""
    from tflite_micro.python.tflite_micro import runtime

    if arena_size is None:
        arena_size = max(1 << 20, 16 * len(model_bytes))
    interpreter = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)
    shape = tuple(int(d) for d in interpreter.get_input_details(0)["shape"])
    rows = []
    for row in np.asarray(inputs, dtype=np.int8):
        interpreter.set_input(row.reshape(shape), 0)
        interpreter.invoke()
        rows.append(np.asarray(interpreter.get_output(0), dtype=np.int8).reshape(-1))
    return np.stack(rows)
