"""Zephyr figures for the `zephyr` section of reports/bench_codegen.json (run by hand: CI has no
Zephyr workspace, and `mcuforge bench codegen` keeps the recorded section).

    ZEPHYR_BASE=<ws>/zephyr python benchmarks/zephyr_bench.py BOARD:BACKEND [...] [--work DIR]

BOARD: qemu_cortex_m3 or mps2/an386 (Cortex-M4 with DSP; Zephyr 4.1 runs it on Arm FVP only, so
this runs its zephyr.elf on QEMU's mps2-an386 machine with -icount shift=6 like qemu_cortex_m3).
BACKEND: native, tflm_cmsis_nn or tflm_reference. Needs `dvc repro firmware` first (the default
model, build/firmware_inputs/). Each pair: `west build` (nice -n 15) of firmware/ with the
pipeline's model in that backend, the run until `mcuforge: PASS|FAIL`, flash = text + data and
RAM = data + bss of zephyr.elf, the median cycles per inference (features + model) over the
compiled-in windows. Results are merged into the report's `zephyr` section with the commands and
the workspace's Zephyr / tflite-micro / CMSIS-NN revisions.
"""
from __future__ import annotations

import argparse
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

from mcuforge import atomic  # noqa: E402
from mcuforge.firmware import baremetal, zephyr_build  # noqa: E402

REPORT = ROOT / "reports/bench_codegen.json"
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


def measure(board: str, backend: str, work: Path) -> dict:
    env, cmake_args, toolchain = zephyr_build.toolchain_setup(dict(os.environ))
    inputs, generated = app_inputs(backend, work)
    build = work / f"{board.replace('/', '_')}-{backend}"
    elf = zephyr_build.west_build(board, build, inputs, generated, env, cmake_args)
    sizes = baremetal.elf_sizes(elf)
    if board == "mps2/an386":
        cmd = [*QEMU_M4, str(elf)]
        console = run_until_result(cmd, timeout=600)
    else:
        cmd = [*zephyr_build.west_command(), "build", "-d", str(build), "-t", "run"]
        console = zephyr_build.run_on_qemu(build, env, timeout=600)
    parsed = zephyr_build.parse_console(console)
    cycles = [w["cycles"] for w in parsed["per_window"]]
    return {"board": board, "backend": backend, "toolchain": toolchain,
            "flash_bytes": sizes["text"] + sizes["data"], "ram_bytes": sizes["data"] + sizes["bss"],
            "result": parsed["result"], "windows": parsed["windows"], "logits_exact": parsed["logits_exact"],
            "cycles_per_inference_median": int(statistics.median(cycles)) if cycles else None,
            "commands": [f"nice -n 15 west build -b {board} firmware -d {build} -p auto -- "
                         f"-DMCUFORGE_INPUTS_DIR={inputs} -DMCUFORGE_GENERATED_DIR={generated} {' '.join(cmake_args)}",
                         " ".join(cmd)]}


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="BOARD:BACKEND")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args(argv)
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
                         "other only); flash/RAM: text+data / data+bss of zephyr.elf (kernel, 16 test windows "
                         "of 38,592 B, stacks and arena included)")
    for spec in args.runs:
        board, _, backend = spec.partition(":")
        result = measure(board, backend, work)
        section["runs"][f"{board}:{backend}"] = result
        print(json.dumps(result), flush=True)
        atomic.write_json(REPORT, report)


if __name__ == "__main__":
    main()
