"""Native codegen on real Cortex-M cores (QEMU) against TFLite Micro: flash, RAM, instructions.

    mcuforge bench codegen [--work DIR] [--no-teacher] [--teacher-tflite PATH] [--no-kws] [--no-callgrind]

1. The two bench models (benchmarks/models/{conv1d,dense}.tflite, copied from the shared TFLM measurements): our runtime + generated
   model, bare metal, `-Os`, on cortex-m3 (QEMU mps2-an385; the core TFLM was measured on) and
   cortex-m4 with FPU/DSP (mps2-an386; the SMLAD path). Outputs checked against the documented
   ones; flash = Δ(text+data) and RAM = Δ(data+bss) over an empty image with the same startup and
   harness; stack is not in data/bss (it grows down from the top of RAM, no heap) and is reported
   separately as the invoke's peak (`stack_bytes`, measured by stack painting). Instructions =
   single-step exec trace lines between two noinline markers around the invoke call.
2. The pipeline's models (models/model_int8.tflite, the teacher converted to int8 with the
   quantize stage's `convert_int8`, and the keyword-spotting student benchmarks/models/kws_dscnn.tflite): arena (ours, lower bound, TFLM's host allocation), weights,
   text (cortex-m4 increment over the empty image), MACs, instructions on both cores, optionally
   host x86-64 instructions (callgrind, -O2).

Writes reports/bench_codegen.json (with a `readme_table` in markdown) and prints the table.
Needs arm-none-eabi-gcc, libnewlib-arm-none-eabi (headers) and qemu-system-arm.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcuforge import atomic  # noqa: E402

from mcuforge.firmware import baremetal  # noqa: E402
from mcuforge.codegen.emit_native import generate_native  # noqa: E402
from mcuforge.codegen.host_build import RUNTIME_DIR, build_host, runtime_sources  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402

BENCH_DIR = ROOT / "benchmarks" / "models"
BENCH_CORE = "cortex-m3"  # the core TFLM was measured on
CORES = ("cortex-m3", "cortex-m4")
METRICS = ("flash_bytes", "ram_bytes", "instructions")
SOURCES = {"student": "models/model_int8.tflite (the pipeline's model)",
           "teacher": "models/teacher.npz -> mcuforge.ml.quantization.convert_int8 with "
                      "quantize.representative_windows train windows (params.yaml)",
           "kws_student": "benchmarks/models/kws_dscnn.tflite: the keyword-spotting DS-CNN student of an early "
                          "`mcuforge bench kws` run (FSDD, MFCC 49 x 10, 32 filters, 3 blocks; fold 0, speaker "
                          "george held out), kept fixed as a benchmark model"}
EXPECTED = {"conv1d": [-7, -63, -26, 111, 25, -94, -95], "dense": [28, 27, 6, 26, 17, 10, 42]}
# ARCHITECTURE.md, "TFLite Micro, measured here": Zephyr 4.1 qemu_cortex_m3, gcc 12.2 -Os,
# increments over hello_world; arena = what the device's interpreter used.
TFLM = {
    "conv1d": {"tflm_reference": {"flash_bytes": 59892, "ram_bytes": 8136, "instructions": 6451410,
                                  "arena_bytes": 5412},
               "tflm_cmsis_nn": {"flash_bytes": 94676, "ram_bytes": 8136, "instructions": 578812,
                                 "arena_bytes": 5460}},
    "dense": {"tflm_reference": {"flash_bytes": 37700, "ram_bytes": 3760, "instructions": 27012,
                                 "arena_bytes": 1268},
              "tflm_cmsis_nn": {"flash_bytes": 45688, "ram_bytes": 3760, "instructions": 11783,
                                "arena_bytes": 1364}},
}
METHOD = {
    "build": "arm-none-eabi-gcc 12 -std=c99 -Os -ffunction-sections -fdata-sections -ffreestanding "
             "-fno-tree-loop-distribute-patterns -nostdlib -Wl,--gc-sections, libgcc only; "
             "cortex-m3: -mcpu=cortex-m3 -mthumb; cortex-m4: -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 "
             "-mfloat-abi=hard (__ARM_FEATURE_DSP: SMLAD path)",
    "flash_bytes": "increment of text+data over an empty image (same startup.c, linker script and main.c "
                   "harness built with -DMF_EMPTY); text includes the const weights",
    "ram_bytes": "increment of data+bss over the empty image (arena + output buffer); the stack is not "
                 "in data/bss and no heap exists: stack_bytes is the invoke's peak stack, measured by "
                 "painting a 16 KiB window below main's frame",
    "instructions": "qemu-system-arm 7.2 -icount shift=5,align=off,sleep=off -singlestep -d exec,nochain: "
                    "trace lines after returning from mf_marker_begin until entering mf_marker_end "
                    "(includes the call into invoke); no interrupt is enabled",
    "input": "x[i] = ((i*13+5) % 101) - 50, written in place into the arena input slot",
    "tflm": "ARCHITECTURE.md: Zephyr 4.1 qemu_cortex_m3, -Os, increments over hello_world, same trace method",
}


def bench_input(size: int) -> np.ndarray:
    return np.array([((i * 13 + 5) % 101) - 50 for i in range(size)], dtype=np.int8)


def measure_cores(model_dir: Path, ident: str, work: Path, profile: bool) -> dict:
    return {core: baremetal.measure_model(baremetal.CORES[core], model_dir, ident, work / "elf",
                                          runtime_sources(), RUNTIME_DIR / "include", profile=profile)
            for core in CORES}


def instructions_at(core: str, model_dir: Path, ident: str, work: Path, opt: str) -> int:
    """Informational: the same image at another optimisation level (is it the compiler or the kernel?)."""
    c = baremetal.CORES[core]
    elf = baremetal.build_model_image(c, model_dir, ident, work / "elf" / f"{ident}-{core}{opt}.elf",
                                      runtime_sources(), RUNTIME_DIR / "include", opt=opt)
    counted = baremetal.count_instructions(c, elf)
    if baremetal.parse_harness_output(counted["stdout"]).get("output") != EXPECTED[ident]:
        raise McuforgeError(f"{elf}: wrong output at {opt}: {counted['stdout']}")
    return counted["instructions"]


def ratio(ours: float, theirs: float) -> float:
    return round(ours / theirs, 4)


def bench_model(name: str, work: Path) -> dict:
    model_dir = work / "generated" / name
    summary = generate_native((BENCH_DIR / f"{name}.tflite").read_bytes(), model_dir, labels=[], name=name)
    runs = measure_cores(model_dir, name, work, profile=True)
    ours = runs[BENCH_CORE]
    entry = {
        "arena_bytes": summary["arena_bytes"], "weights_bytes": summary["weights_bytes"], "macs": summary["macs"],
        "expected_output": EXPECTED[name],
        "outputs_exact": {core: run["output"] == EXPECTED[name] and run["status"] == 0 for core, run in runs.items()},
        "ours": {core: {k: v for k, v in run.items() if k not in ("image", "empty_image")}
                 for core, run in runs.items()},
        **TFLM[name],
        "ratios_cortex_m3": {ref: {key: ratio(ours[key], theirs[key]) for key in METRICS}
                             for ref, theirs in TFLM[name].items()},
        "instructions_per_mac": {core: round(run["instructions"] / summary["macs"], 2) for core, run in runs.items()},
        "empty_image": {core: run["empty_image"] for core, run in runs.items()},
    }
    entry["instructions_at_O2"] = {core: instructions_at(core, model_dir, name, work, "-O2") for core in CORES}
    top = {core: next(iter(run["instructions_per_function"].items())) for core, run in runs.items()}
    entry["dominant_kernel"] = {
        core: {"function": fn, "instructions": n, "share": round(n / runs[core]["instructions"], 3)}
        for core, (fn, n) in top.items()}
    target = TFLM[name]["tflm_cmsis_nn"]
    entry["meets_cmsis_nn_target"] = {key: ours[key] <= target[key] for key in METRICS}
    return entry


def convert_teacher(out: Path) -> Path:
    """The teacher through the quantize stage's int8 conversion (representative set from train)."""
    from mcuforge.ml.tf_setup import import_tf
    from mcuforge.params import load_params

    params = load_params(ROOT / "params.yaml")
    tf, keras = import_tf(params["seed"])
    from mcuforge.ml import training
    from mcuforge.ml.datasets import load_features
    from mcuforge.ml.quantization import convert_int8, representative_sample

    data = load_features(ROOT / "data" / "features")  # train/val/test via mcuforge.arrays.load_arrays
    teacher = training.load_trained(keras, params["model"]["teacher"], data, "teacher", ROOT / "models/teacher.npz")
    sample = representative_sample(data.train.x, params["quantize"]["representative_windows"], params["seed"])
    atomic.write_bytes(out, convert_int8(tf, teacher, sample))
    return out


def callgrind_instructions(model_dir: Path, ident: str, input_size: int, work: Path) -> int | None:
    """Host (x86-64, gcc -O2) instructions inside `<prefix>_invoke` for one inference, or None."""
    if shutil.which("valgrind") is None:
        return None
    exe = build_host(model_dir, ident, work / "host" / ident)
    out = work / "host" / f"{ident}.callgrind"
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                          f"--toggle-collect=mcuforge_{ident}_invoke", str(exe)],
                         input=bench_input(input_size).tobytes(), capture_output=True, timeout=300)
    found = re.search(rb"^(?:summary|totals): (\d+)", out.read_bytes(), re.M) if out.exists() else None
    return int(found.group(1)) if run.returncode == 0 and found else None


def pipeline_model(label: str, path: Path, work: Path, callgrind: bool) -> dict:
    from mcuforge.codegen.tflm_runtime import probe_arena_bytes, run_int8

    ident = label
    model = path.read_bytes()
    model_dir = work / "generated" / ident
    summary = generate_native(model, model_dir, labels=[], name=ident)
    runs = measure_cores(model_dir, ident, work, profile=False)
    x = bench_input(summary["input_size"])
    reference = run_int8(model, x[np.newaxis]).reshape(-1).tolist()
    arena_tflm = probe_arena_bytes(path)
    m4 = runs["cortex-m4"]
    entry = {
        "source": SOURCES.get(label, str(path)),
        "tflite_bytes": len(model),
        "ops": summary["ops"],
        "arena_bytes": summary["arena_bytes"], "arena_lower_bound": summary["arena_lower_bound"],
        "arena_bytes_tflm": arena_tflm,
        "weights_bytes": summary["weights_bytes"],
        "text_bytes": m4["text_bytes"],
        "text_bytes_core": "cortex-m4",
        "code_bytes_excluding_weights": m4["text_bytes"] - summary["weights_bytes"],
        "flash_bytes": {core: run["flash_bytes"] for core, run in runs.items()},
        "ram_bytes": {core: run["ram_bytes"] for core, run in runs.items()},
        "stack_bytes": {core: run["stack_bytes"] for core, run in runs.items()},
        "scratch_bytes": summary["scratch_bytes"],
        "macs": summary["macs"],
        "instructions_per_inference": {core: run["instructions"] for core, run in runs.items()},
        "instructions_per_mac": {core: round(run["instructions"] / summary["macs"], 2) for core, run in runs.items()},
        "outputs_match_tflm": {core: run["output"] == reference and run["status"] == 0 for core, run in runs.items()},
        "output": m4["output"], "output_tflm": reference,
    }
    if callgrind:
        entry["instructions_per_inference"]["host_x86_64_callgrind"] = callgrind_instructions(
            model_dir, ident, summary["input_size"], work)
    return entry


def readme_table(bench: dict, pipeline: dict) -> str:
    def k(n: int) -> str:
        return f"{n:,}"

    rows = ["| model | core | flash B | RAM B | stack B | instructions | TFLM ref flash / RAM / instr "
            "| TFLM+CMSIS-NN flash / RAM / instr | ours ÷ CMSIS-NN | exact |",
            "|---|---|---:|---:|---:|---:|---|---|---|---|"]
    for name, e in bench.items():
        for core, run in e["ours"].items():
            ref, cmsis = e["tflm_reference"], e["tflm_cmsis_nn"]
            r = e["ratios_cortex_m3"]["tflm_cmsis_nn"]
            tf_cols = (f"{k(ref['flash_bytes'])} / {k(ref['ram_bytes'])} / {k(ref['instructions'])} | "
                       f"{k(cmsis['flash_bytes'])} / {k(cmsis['ram_bytes'])} / {k(cmsis['instructions'])} | "
                       f"{r['flash_bytes']:.2f} / {r['ram_bytes']:.2f} / {r['instructions']:.2f}"
                       if core == BENCH_CORE else "— | — | —")
            rows.append(f"| {name} | {core} | {k(run['flash_bytes'])} | {k(run['ram_bytes'])} | "
                        f"{run['stack_bytes']} | {k(run['instructions'])} | {tf_cols} | "
                        f"{'yes' if e['outputs_exact'][core] else 'NO'} |")
    if pipeline:
        rows += ["", "| model | MACs | weights B | arena B (lower bound) + patch B | TFLM arena B (alloc / min) "
                 "| text B (M4) | instr M3 | instr M4 | instr / MAC M3 / M4 | = TFLM |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for name, e in pipeline.items():
            ipi = e["instructions_per_inference"]
            ipm = e["instructions_per_mac"]
            rows.append(f"| {name} | {k(e['macs'])} | {k(e['weights_bytes'])} | {k(e['arena_bytes'])} "
                        f"({k(e['arena_lower_bound'])}) + {e['scratch_bytes']} | "
                        f"{k(e['arena_bytes_tflm']['allocated'])} / {k(e['arena_bytes_tflm']['minimal'])} | "
                        f"{k(e['text_bytes'])} | {k(ipi['cortex-m3'])} | {k(ipi['cortex-m4'])} | "
                        f"{ipm['cortex-m3']:.2f} / {ipm['cortex-m4']:.2f} | "
                        f"{'yes' if all(e['outputs_match_tflm'].values()) else 'NO'} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_codegen.json")
    parser.add_argument("--no-teacher", action="store_true", help="skip the teacher (needs TensorFlow)")
    parser.add_argument("--teacher-tflite", type=Path, default=None, help="an already converted int8 teacher")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--no-kws", action="store_true", help="skip the keyword-spotting student")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="another int8 .tflite to measure beside the student (e.g. the KWS student)")
    args = parser.parse_args(argv)
    if baremetal.missing_tools():
        raise SystemExit(f"missing tools: {', '.join(baremetal.missing_tools())} "
                         "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-bench-codegen-"))

    models = {"student": ROOT / "models/model_int8.tflite"}
    if not args.no_teacher:
        models["teacher"] = args.teacher_tflite or convert_teacher(work / "teacher_int8.tflite")
    if not args.no_kws:
        models["kws_student"] = BENCH_DIR / "kws_dscnn.tflite"
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            raise SystemExit(f"--model {spec!r}: need NAME=PATH of an existing .tflite file")
        models[name] = Path(path)

    bench = {}
    for name in EXPECTED:
        bench[name] = bench_model(name, work)
        print(f"{name}: " + json.dumps({c: {m: r[m] for m in ("flash_bytes", "ram_bytes", "instructions", "output")}
                                        for c, r in bench[name]["ours"].items()}), flush=True)
    pipeline = {}
    for label, path in models.items():
        pipeline[label] = pipeline_model(label, path, work, callgrind=not args.no_callgrind)
        print(f"{label}: " + json.dumps({k: pipeline[label][k] for k in ("macs", "arena_bytes", "text_bytes",
                                                                          "instructions_per_inference")}), flush=True)
    exact = all(all(e["outputs_exact"].values()) for e in bench.values()) and all(
        all(e["outputs_match_tflm"].values()) for e in pipeline.values())
    table = readme_table(bench, pipeline)
    report = {"method": METHOD, "bench_models": bench, "pipeline_models": pipeline,
              "all_outputs_exact": exact, "readme_table": table}
    if args.out.exists():  # the `zephyr` section is measured by hand (docs/benchmarks.md): kept
        previous = json.loads(args.out.read_text())
        if "zephyr" in previous:
            report["zephyr"] = previous["zephyr"]
    atomic.write_json(args.out, report)
    print(table)
    if not exact:
        raise SystemExit("some outputs differ from the expected / TFLM outputs")


if __name__ == "__main__":
    try:
        main()
    except McuforgeError as exc:
        raise SystemExit(str(exc)) from exc
