"""The model-alone runs of benchmarks/zephyr_bench.py (BOARD:BACKEND:MODEL): which model, the inputs
firmware/ builds with MCUFORGE_MODEL_ALONE (mcuforge_inputs.cmake, the generated model, the host's
expected output in mcuforge_model_alone.h), src/main_model.c's console lines, and the per-model summary
of the runs (`model_alone` in reports/bench_codegen.json's `zephyr` section)."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mcuforge import atomic  # noqa: E402
from mcuforge.codegen.c_names import c_identifier  # noqa: E402
from mcuforge.firmware import zephyr_build  # noqa: E402
import codegen as bench_codegen  # noqa: E402  (benchmarks/codegen.py: bench_input, convert_teacher)

BENCH_MODELS = ROOT / "benchmarks/models"
ALONE_MODELS = {"teacher": None, "kws_student": BENCH_MODELS / "kws_dscnn.tflite",
                "conv1d": BENCH_MODELS / "conv1d.tflite", "dense": BENCH_MODELS / "dense.tflite"}
ALONE_LINE = re.compile(r"model alone: status (-?\d+), (\d+) cycles, first invoke status (-?\d+), (\d+) cycles, "
                        r"output (\w+)")
OUTPUT_LINE = re.compile(r"^output:((?: -?\d+)*)\s*$", re.M)

def model_name(model: str) -> str:
    return model if model in ALONE_MODELS else c_identifier(Path(model).stem)


def alone_inputs_cmake(name: str, backend: str) -> str:
    """mcuforge_inputs.cmake for the model-alone app (firmware/CMakeLists.txt reads it)."""
    return (f"# Written by benchmarks/zephyr_bench.py: {name} alone, {backend}. Do not edit.\n"
            f"set(MCUFORGE_MODEL {name})\n"
            f"set(MCUFORGE_BACKEND {'native' if backend == 'native' else 'tflm'})\n"
            f"set(MCUFORGE_TFLM_CMSIS_NN {'ON' if backend == 'tflm_cmsis_nn' else 'OFF'})\n"
            "set(MCUFORGE_MODEL_ALONE ON)\n"
            "set(MCUFORGE_FEATURE_SOURCES)\nset(MCUFORGE_FEATURE_INCLUDES)\nset(MCUFORGE_FEATURE_DEFINES)\n")


def alone_header(name: str, expected: list[int]) -> str:
    """mcuforge_model_alone.h: the host's int8 output for the benchmark input (src/main_model.c checks it)."""
    values = ", ".join(str(int(v)) for v in expected)
    return (f"/* Written by benchmarks/zephyr_bench.py: {name}'s int8 output on x[i] = ((i*13+5) % 101) - 50 from\n"
            " * mcuforge.codegen.tflm_runtime.run_int8 on the host. Do not edit. */\n"
            "#ifndef MCUFORGE_MODEL_ALONE_H\n#define MCUFORGE_MODEL_ALONE_H\n\n#include <stdint.h>\n\n"
            f"static const int8_t mf_alone_expected[{len(expected)}] = {{{values}}};\n\n#endif\n")


def alone_model_path(model: str, work: Path, teacher_tflite: Path | None) -> Path:
    if model == "teacher":
        return teacher_tflite or bench_codegen.convert_teacher(work / "teacher_int8.tflite")
    path = ALONE_MODELS.get(model) or Path(model)
    if not path.is_file():
        raise SystemExit(f"model {model!r}: {path} is not a file")
    return path


def alone_inputs(path: Path, name: str, backend: str, work: Path) -> tuple[Path, Path, list[int]]:
    """(inputs dir, generated dir, expected output) of one model alone in backend."""
    from mcuforge.codegen.emit_native import generate_native
    from mcuforge.codegen.emit_tflm import generate_tflm
    from mcuforge.codegen.tflm_runtime import probe_arena_bytes, run_int8

    model = path.read_bytes()
    base = work / f"alone-{name}-{backend}"
    inputs, generated = base / "inputs", base / "generated"
    for folder in (inputs, generated):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    if backend == "native":
        summary = generate_native(model, generated, [], name)
    else:
        margin = yaml.safe_load((ROOT / "conf/codegen/tflm.yaml").read_text())["arena_margin_bytes"]
        summary = generate_tflm(model, generated, [], name, probe_arena_bytes(path)["minimal"] + int(margin))
    x = bench_codegen.bench_input(summary["input_size"])
    expected = run_int8(model, x[np.newaxis]).reshape(-1).tolist()
    atomic.write_text(inputs / "mcuforge_inputs.cmake", alone_inputs_cmake(name, backend))
    atomic.write_text(inputs / "mcuforge_model_alone.h", alone_header(name, expected))
    return inputs, generated, expected


def parse_alone_console(text: str) -> dict:
    """src/main_model.c's lines: status, cycles of the measured (second) and first invoke, the output."""
    line, output = ALONE_LINE.search(text), OUTPUT_LINE.search(text)
    result = zephyr_build.RESULT_LINE.search(text)
    if line is None or output is None or result is None:
        raise SystemExit("the model-alone app printed no 'model alone:' / 'output:' / 'mcuforge: PASS|FAIL' "
                         "line:\n" + "\n".join(text.splitlines()[-20:]))
    return {"result": result[1], "status": int(line[1]), "cycles": int(line[2]), "first_invoke_status": int(line[3]),
            "first_invoke_cycles": int(line[4]), "output": [int(v) for v in output[1].split()]}


def alone_summary(runs: dict) -> dict:
    """Per model and board, from the model-alone runs present: each backend's instructions and flash / RAM
    increments over the board's hello_world, and native over TFLM + CMSIS-NN (None where a run is missing)."""
    summary = {}
    for key, run in sorted(runs.items()):
        if "model" not in run:
            continue
        hello = runs.get(f"{run['board']}:hello_world")
        entry = summary.setdefault(run["model"], {}).setdefault(run["board"], {})
        entry[run["backend"]] = {
            "instructions": run["instructions_per_invoke"], "output_exact": run["output_exact"],
            "flash_increment": run["flash_bytes"] - hello["flash_bytes"] if hello else None,
            "ram_increment": run["ram_bytes"] - hello["ram_bytes"] if hello else None}
    for boards in summary.values():
        for entry in boards.values():
            ours, cmsis = entry.get("native"), entry.get("tflm_cmsis_nn")
            entry["native_over_tflm_cmsis_nn"] = {
                metric: round(ours[metric] / cmsis[metric], 4) if ours and cmsis and ours[metric] is not None
                and cmsis[metric] else None for metric in ("instructions", "flash_increment", "ram_increment")}
    return summary
