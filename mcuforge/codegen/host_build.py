"""Compile generated native C with the host gcc into a batch harness and run it.

The harness reads N int8 input vectors from stdin and writes the N int8 outputs to stdout, so
thousands of inputs run in one process. Odd-numbered vectors are written in place into the
arena input slot (`<prefix>_input_buffer()`), even ones are passed as a separate buffer, so
both hand-over paths are exercised.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from mcuforge.errors import McuforgeError

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "firmware" / "runtime"
CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic")

_HARNESS = r"""/* Batch harness: stdin = N x INPUT_SIZE int8, stdout = N x OUTPUT_SIZE int8. */
#include <stdio.h>
#include <stdint.h>
#include "@IDENT@.h"

int main(void)
{
    static int8_t input[@MACRO@_INPUT_SIZE];
    static int8_t output[@MACRO@_OUTPUT_SIZE];
    unsigned long index = 0;
    for (;;) {
        int status;
        size_t got = fread(input, 1, sizeof input, stdin);
        if (got == 0)
            break;
        if (got != sizeof input) {
            fprintf(stderr, "truncated input vector %lu\n", index);
            return 3;
        }
        if (index % 2 == 1) {
            int8_t *slot = @PREFIX@_input_buffer();
            int32_t i;
            for (i = 0; i < @MACRO@_INPUT_SIZE; ++i)
                slot[i] = input[i];
            status = @PREFIX@_invoke(slot, output);
        } else {
            status = @PREFIX@_invoke(input, output);
        }
        if (status != 0) {
            fprintf(stderr, "invoke failed with %d on vector %lu\n", status, index);
            return 4;
        }
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output)
            return 5;
        ++index;
    }
    return 0;
}
"""


def runtime_sources() -> list[Path]:
    return sorted((RUNTIME_DIR / "src").glob("*.c"))


def build_host(model_dir: Path, ident: str, build_dir: Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile runtime + `<ident>.c` + harness with the warning-free flags; return the executable."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    harness = build_dir / "harness_main.c"
    harness.write_text(_HARNESS.replace("@IDENT@", ident).replace("@MACRO@", f"MCUFORGE_{ident.upper()}")
                       .replace("@PREFIX@", f"mcuforge_{ident}"))
    exe = build_dir / f"{ident}_harness"
    cmd = ["gcc", *CFLAGS, *extra_flags, "-I", str(RUNTIME_DIR / "include"), "-I", str(model_dir),
           *map(str, runtime_sources()), str(Path(model_dir) / f"{ident}.c"), str(harness), "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise McuforgeError(f"host build failed:\n{' '.join(cmd)}\n{result.stderr}")
    return exe


def run_host(exe: Path, inputs: np.ndarray, output_size: int) -> np.ndarray:
    """Run the harness on a (N, input_size) int8 array; return (N, output_size) int8."""
    batch = np.ascontiguousarray(inputs, dtype=np.int8)
    result = subprocess.run([str(exe)], input=batch.tobytes(), capture_output=True)
    if result.returncode != 0:
        raise McuforgeError(f"{exe} exited {result.returncode}: {result.stderr.decode(errors='replace')}")
    return np.frombuffer(result.stdout, dtype=np.int8).reshape(len(batch), output_size)


def native_outputs(model_bytes: bytes, inputs: np.ndarray, work_dir: Path, name: str = "model",
                   extra_flags: tuple[str, ...] = ()) -> np.ndarray:
    """Generate, compile and run the native C for a model on (N, input_size) int8 inputs."""
    from mcuforge.codegen.emit_native import generate_native

    work_dir = Path(work_dir)
    summary = generate_native(model_bytes, work_dir / "generated", labels=[], name=name)
    exe = build_host(work_dir / "generated", summary["name"], work_dir / "build", extra_flags)
    return run_host(exe, np.asarray(inputs, dtype=np.int8).reshape(len(inputs), -1), summary["output_size"])
