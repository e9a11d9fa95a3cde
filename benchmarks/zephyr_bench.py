"""Zephyr figures for the `zephyr` section of reports/bench_codegen.json (run by hand: CI has no
Zephyr workspace, and `mcuforge bench codegen` keeps the recorded section).

    ZEPHYR_BASE=<ws>/zephyr python benchmarks/zephyr_bench.py BOARD:BACKEND[:MODEL] [...] [--work DIR]

BOARD: qemu_cortex_m3 or mps2/an386 (Cortex-M4 with DSP; Zephyr 4.1 runs it on Arm FVP only, so
this runs its zephyr.elf on QEMU's mps2-an386 machine with -icount shift=6 like qemu_cortex_m3).
BACKEND: native, tflm_cmsis_nn or tflm_reference -- or hello_world, Zephyr's own sample built the
same way, the baseline the flash/RAM increments are taken over. Needs `dvc repro firmware` first
(the default model, build/firmware_inputs/). Each pair: `west build` (nice -n 15) of firmware/ with
the pipeline's model in that backend, the run until `mcuforge: PASS|FAIL`, flash = text + data and
RAM = data + bss of zephyr.elf, the median cycles per inference (features + model) over the
compiled-in windows and the instructions they stand for (QEMU -icount shift=6: 64 ns of virtual
time per instruction, read by a CONFIG_SYS_CLOCK_HW_CYCLES_PER_SEC clock). Results are merged into
the report's `zephyr` section with the commands and the workspace's Zephyr / tflite-micro /
CMSIS-NN revisions, and issue 11's ratios are recomputed from the runs present (`ratios`).

MODEL (default `student`: the firmware app above, features + model): teacher (the quantize stage's
int8 conversion of models/teacher.npz, as benchmarks/codegen.py; or --teacher-tflite PATH),
kws_student, conv1d, dense (benchmarks/models/*.tflite) or a path to any int8 .tflite: the model
ALONE -- firmware/ with MCUFORGE_MODEL_ALONE (src/main_model.c), no features: one invoke on
x[i] = ((i*13+5) % 101) - 50 checked against the host TFLM's output (run_int8), the second invoke's
k_cycle_get_32 cycles. One build dir per board and backend serves every model (only the app
recompiles). Recorded as runs `BOARD:BACKEND:MODEL`; `model_alone` sums them up per model and board:
instructions, flash / RAM increments over hello_world, ours (native) over TFLM + CMSIS-NN.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mcuforge import atomic  # noqa: E402
from mcuforge.firmware import baremetal, zephyr_build  # noqa: E402
from zephyr_alone import (ALONE_MODELS, alone_inputs, alone_model_path, alone_summary, model_name,  # noqa: E402
                          parse_alone_console)

REPORT = ROOT / "reports/bench_codegen.json"
NS_PER_INSTRUCTION = 64  # -icount shift=6
# Issue 11's targets: native cycles <= this x TFLM + CMSIS-NN's, per board; increments <= this x
# TFLM-reference's (flash without the compiled-in test windows, which both builds hold).
CYCLES_TARGET = {"qemu_cortex_m3": 0.8, "mps2/an386": 1.0}
INCREMENT_TARGET = 0.5
WINDOW_SYMBOLS = "mcuforge_sample_"
BACKENDS = ("native", "tflm_cmsis_nn", "tflm_reference", "hello_world")
QEMU_M4 = ["qemu-system-arm", "-M", "mps2-an386", "-cpu", "cortex-m4", "-nographic", "-vga", "none",
           "-icount", "shift=6,align=off,sleep=off", "-kernel"]


def revisions(zephyr_base: Path) -> dict:
    """git HEAD of the workspace's zephyr/, tflite-micro and cmsis-nn checkouts."""
    ws = zephyr_base.resolve().parent
    found = {}
    for name, candidates in (("zephyr", [zephyr_base.resolve()]), ("tflite-micro", ws.glob("**/lib/tflite-micro")),
                             ("cmsis-nn", ws.glob("**/lib/cmsis-nn"))):
        for path in candidates:
            rev = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
            if rev.returncode == 0:
                found[name] = {"path": str(path.relative_to(ws)), "revision": rev.stdout.strip()}
                break
    return found


def app_inputs(backend: str, work: Path) -> tuple[Path, Path]:
    """(inputs dir, generated dir) for backend, from the native ones the firmware stage wrote."""
    if backend == "native":
        return ROOT / "build/firmware_inputs", ROOT / "firmware/generated"
    from stages import codegen

    inputs = work / f"inputs-{backend}"
    shutil.rmtree(inputs, ignore_errors=True)
    shutil.copytree(ROOT / "build/firmware_inputs", inputs)
    for cmake in inputs.glob("*.cmake"):
        text = re.sub(r"set\(MCUFORGE_BACKEND \w+\)", "set(MCUFORGE_BACKEND tflm)", cmake.read_text())
        text = re.sub(r"set\(MCUFORGE_TFLM_CMSIS_NN \w+\)",
                      f"set(MCUFORGE_TFLM_CMSIS_NN {'ON' if backend == 'tflm_cmsis_nn' else 'OFF'})", text)
        cmake.write_text(text)
    generated = work / "generated-tflm"
    shutil.rmtree(generated, ignore_errors=True)
    generated.mkdir(parents=True)
    labels = json.loads((ROOT / codegen.NORMALIZATION).read_text())["labels"]
    codegen.tflm((ROOT / "models/model_int8.tflite").read_bytes(), labels, "model", 0, generated)
    return inputs, generated


def run_until_result(cmd: list[str], timeout: float) -> str:
    """Run QEMU until the application's PASS/FAIL line (Zephyr never exits by itself), then stop it."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        output = zephyr_build.read_until_result(proc, timeout)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    return output.decode(errors="replace")


def hz_per_cycle_clock(build: Path) -> int:
    """CONFIG_SYS_CLOCK_HW_CYCLES_PER_SEC of a Zephyr build (the clock k_cycle_get_32 counts)."""
    found = re.search(r"^CONFIG_SYS_CLOCK_HW_CYCLES_PER_SEC=(\d+)$", (build / "zephyr/.config").read_text(), re.M)
    if not found:
        raise SystemExit(f"{build}/zephyr/.config has no CONFIG_SYS_CLOCK_HW_CYCLES_PER_SEC: not a Cortex-M build?")
    return int(found[1])


def instructions(cycles: int, hz: int) -> int:
    """Instructions that take `cycles` ticks of an hz clock when each one is NS_PER_INSTRUCTION ns."""
    return round(cycles * 1e9 / (hz * NS_PER_INSTRUCTION))


def window_bytes(elf: Path) -> int:
    """Flash held by the compiled-in test windows (the mcuforge_sample_* arrays)."""
    return sum(size for name, (_, size) in baremetal.symbols(elf, kinds="rR").items() if name.startswith(WINDOW_SYMBOLS))


def measure_hello_world(board: str, work: Path, env: dict, cmake_args: list[str], toolchain: str) -> dict:
    """Zephyr's samples/hello_world for board, built the same way: the baseline of the increments."""
    build = work / f"{board.replace('/', '_')}-hello_world"
    sample = Path(env["ZEPHYR_BASE"]) / "samples/hello_world"
    cmd = [*zephyr_build.west_command(), "build", "-b", board, str(sample), "-d", str(build), "-p", "auto", "--",
           *cmake_args]
    result = subprocess.run(["nice", "-n", "15", *cmd], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n" + "\n".join((result.stdout + result.stderr).splitlines()[-30:]))
    sizes = baremetal.elf_sizes(build / "zephyr/zephyr.elf")
    return {"board": board, "backend": "hello_world", "toolchain": toolchain,
            "flash_bytes": sizes["text"] + sizes["data"], "ram_bytes": sizes["data"] + sizes["bss"],
            "commands": [" ".join(["nice -n 15", "west", *cmd[cmd.index("build"):]])]}


def run_board(board: str, build: Path, elf: Path, env: dict) -> tuple[list[str], str]:
    """(the command, its console) of one run of a build until its PASS/FAIL line."""
    if board == "mps2/an386":
        cmd = [*QEMU_M4, str(elf)]
        return cmd, run_until_result(cmd, timeout=1800)
    cmd = [*zephyr_build.west_command(), "build", "-d", str(build), "-t", "run"]
    return cmd, zephyr_build.run_on_qemu(build, env, timeout=1800)


def build_command(board: str, build: Path, inputs: Path, generated: Path, cmake_args: list[str]) -> str:
    return (f"nice -n 15 west build -b {board} firmware -d {build} -p auto -- -DMCUFORGE_INPUTS_DIR={inputs} "
            f"-DMCUFORGE_GENERATED_DIR={generated} {' '.join(cmake_args)}")


def measure(board: str, backend: str, work: Path) -> dict:
    env, cmake_args, toolchain = zephyr_build.toolchain_setup(dict(os.environ))
    if backend == "hello_world":
        return measure_hello_world(board, work, env, cmake_args, toolchain)
    inputs, generated = app_inputs(backend, work)
    build = work / f"{board.replace('/', '_')}-{backend}"
    elf = zephyr_build.west_build(board, build, inputs, generated, env, cmake_args)
    sizes = baremetal.elf_sizes(elf)
    cmd, console = run_board(board, build, elf, env)
    parsed = zephyr_build.parse_console(console)
    cycles = [w["cycles"] for w in parsed["per_window"]]
    median = int(statistics.median(cycles)) if cycles else None
    hz = hz_per_cycle_clock(build)
    return {"board": board, "backend": backend, "toolchain": toolchain,
            "flash_bytes": sizes["text"] + sizes["data"], "ram_bytes": sizes["data"] + sizes["bss"],
            "window_bytes": window_bytes(elf),
            "result": parsed["result"], "windows": parsed["windows"], "logits_exact": parsed["logits_exact"],
            "cycles_per_inference_median": median, "cycle_clock_hz": hz,
            "instructions_per_inference_median": instructions(median, hz) if median is not None else None,
            "commands": [build_command(board, build, inputs, generated, cmake_args), " ".join(cmd)]}


def parse_run(spec: str) -> tuple[str, str, str]:
    """BOARD:BACKEND[:MODEL] -> (board, backend, model); model `student` (the default) is the firmware app."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise SystemExit(f"run {spec!r}: expected BOARD:BACKEND or BOARD:BACKEND:MODEL, e.g. mps2/an386:native:teacher")
    board, backend, model = parts[0], parts[1], parts[2] if len(parts) == 3 else "student"
    if backend not in BACKENDS:
        raise SystemExit(f"run {spec!r}: backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "hello_world" and model != "student":
        raise SystemExit(f"run {spec!r}: hello_world has no model (the baseline is one per board: {board}:hello_world)")
    if model != "student" and model not in ALONE_MODELS and not model.endswith(".tflite"):
        raise SystemExit(f"run {spec!r}: model {model!r} is not student, {', '.join(ALONE_MODELS)} or a .tflite path")
    return board, backend, model


def run_key(board: str, backend: str, model: str) -> str:
    """The report's key: the default app keeps BOARD:BACKEND; a model alone is BOARD:BACKEND:NAME."""
    return f"{board}:{backend}" if model == "student" else f"{board}:{backend}:{model_name(model)}"


def measure_alone(board: str, backend: str, model: str, work: Path, teacher_tflite: Path | None) -> dict:
    env, cmake_args, toolchain = zephyr_build.toolchain_setup(dict(os.environ))
    name, path = model_name(model), alone_model_path(model, work, teacher_tflite)
    inputs, generated, expected = alone_inputs(path, name, backend, work)
    build = work / f"{board.replace('/', '_')}-{backend}-alone"
    elf = zephyr_build.west_build(board, build, inputs, generated, env, cmake_args)
    sizes = baremetal.elf_sizes(elf)
    cmd, console = run_board(board, build, elf, env)
    parsed = parse_alone_console(console)
    hz = hz_per_cycle_clock(build)
    return {"board": board, "backend": backend, "model": name,
            "model_path": str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path),
            "model_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "toolchain": toolchain,
            "flash_bytes": sizes["text"] + sizes["data"], "ram_bytes": sizes["data"] + sizes["bss"],
            "result": parsed["result"], "output": parsed["output"], "expected_output": expected,
            "output_exact": parsed["output"] == expected and parsed["result"] == "PASS",
            "cycles_per_invoke": parsed["cycles"], "first_invoke_cycles": parsed["first_invoke_cycles"],
            "cycle_clock_hz": hz, "instructions_per_invoke": instructions(parsed["cycles"], hz),
            "commands": [build_command(board, build, inputs, generated, cmake_args), " ".join(cmd)]}


def ratio(ours: float | None, theirs: float | None, target: float) -> dict:
    """ours / theirs against target (<= is met), or why it is missing."""
    if ours is None or theirs is None or theirs <= 0:
        return {"value": None, "target": target, "met": None, "note": "not measured: a run it needs is missing"}
    value = round(ours / theirs, 4)
    return {"value": value, "target": target, "met": value <= target}


def issue_ratios(runs: dict) -> dict:
    """Issue 11's targets per board from the runs present: native cycles over TFLM + CMSIS-NN's, and
    native's flash / RAM increment over hello_world (test windows excluded) over TFLM-reference's."""
    ratios = {}
    for board in sorted({run["board"] for run in runs.values()}):
        get = lambda backend: runs.get(f"{board}:{backend}")  # noqa: E731
        native, cmsis, reference, hello = get("native"), get("tflm_cmsis_nn"), get("tflm_reference"), get("hello_world")

        def increment(run, key):
            if run is None or hello is None:
                return None
            return run[key] - hello[key] - (run.get("window_bytes", 0) if key == "flash_bytes" else 0)

        cycles = lambda run: run and run.get("cycles_per_inference_median")  # noqa: E731
        ratios[board] = {
            "native_over_tflm_cmsis_nn_cycles": ratio(cycles(native), cycles(cmsis), CYCLES_TARGET.get(board, 1.0)),
            "native_over_tflm_reference_flash_increment": ratio(increment(native, "flash_bytes"),
                                                                increment(reference, "flash_bytes"), INCREMENT_TARGET),
            "native_over_tflm_reference_ram_increment": ratio(increment(native, "ram_bytes"),
                                                              increment(reference, "ram_bytes"), INCREMENT_TARGET),
        }
    return ratios


def merge(section: dict, key: str, result: dict) -> None:
    """A measured run replaces any recorded or not-measured entry of the same key; ratios follow."""
    section["runs"][key] = result
    for stale in ("recorded", "not_measured"):
        if key in section.get(stale, {}):
            del section[stale][key]
        if stale in section and not section[stale]:
            del section[stale]
    section["ratios"] = issue_ratios(section["runs"])
    section["model_alone"] = alone_summary(section["runs"])


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="BOARD:BACKEND[:MODEL]")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--teacher-tflite", type=Path, default=None, help="an already converted int8 teacher")
    args = parser.parse_args(argv)
    specs = [parse_run(spec) for spec in args.runs]
    zephyr_base = Path(os.environ.get("ZEPHYR_BASE", ""))
    if not (zephyr_base / "VERSION").is_file():
        raise SystemExit("set ZEPHYR_BASE to a workspace's zephyr/ (docs/zephyr.md)")
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-zephyr-bench-"))
    report = json.loads(REPORT.read_text())
    section = report.setdefault("zephyr", {"runs": {}})
    section["revisions"] = revisions(zephyr_base)
    section["zephyr_version"] = " ".join((zephyr_base / "VERSION").read_text().split())
    section["method"] = ("cycles: the application's k_cycle_get_32 per inference (features + model) under "
                         "QEMU -icount shift=6 (deterministic, instruction-proportional; compare runs with each "
                         "other only; instructions = cycles at the board's cycle clock over 64 ns each); "
                         "flash/RAM: text+data / data+bss of zephyr.elf (kernel, 16 test windows of "
                         "window_bytes, stacks and arena included); ratios: issue 11's targets, increments over "
                         "the board's hello_world built the same way, test windows excluded")
    section["method_model_alone"] = (
        "runs BOARD:BACKEND:MODEL: firmware/ with MCUFORGE_MODEL_ALONE (src/main_model.c), the model alone on "
        "x[i] = ((i*13+5) % 101) - 50, output checked against the host TFLM's; cycles: k_cycle_get_32 around the "
        "second invoke (TFLM builds its interpreter in the first) under QEMU -icount shift=6, instructions as above; "
        "flash/RAM of zephyr.elf (kernel, stacks, arena included); model_alone: increments over the board's "
        "hello_world")
    for board, backend, model in specs:
        if model == "student":
            result = measure(board, backend, work)
        else:
            result = measure_alone(board, backend, model, work, args.teacher_tflite)
        teacher = f"--teacher-tflite {args.teacher_tflite} " if model == "teacher" and args.teacher_tflite else ""
        result["commands"].insert(0, f"ZEPHYR_BASE={zephyr_base} nice -n 15 python benchmarks/zephyr_bench.py "
                                  f"--work {work} {teacher}{':'.join((board, backend, model))}")
        merge(section, run_key(board, backend, model), result)
        print(json.dumps(result), flush=True)
        atomic.write_json(REPORT, report)


if __name__ == "__main__":
    main()
