"""firmware: the bare-metal image of feature twin + runtime + generated model for params' board.

For a Cortex-M board (board.cpu in mcuforge.baremetal.CORES), builds two ELFs into
build/baremetal/ (firmware/baremetal/main.c; see mcuforge.firmware_image):
- the deployable image (one window buffer, no test data): its flash = text+data and
  ram = data+bss (arm-none-eabi-size) are checked against the board budget
  (flash_bytes - reserve_flash_bytes, ram_bytes - reserve_ram_bytes; ram_bytes + the measured
  stack_bytes must fit the RAM budget). Over budget -> error naming the overflow, nothing written;
- the test image, run on the QEMU machine with the board's core (mps2-an386 for cortex-m4,
  mps2-an385 for cortex-m3 -- also for qemu_cortex_m3, whose lm3s6965evb has the same core; the
  budget checked is still the board's): every test window, raw floats read over semihosting,
  -> mcuforge_features -> invoke -> int8 logits, compared with the Python int8 pipeline
  (quantize_input(x) -> tflite_micro). Instructions per inference (features + invoke) are exact
  counts from a single-step exec trace of the first 3 windows.
A board without an Arm core here (esp32: xtensa-lx6, qemu_machine null) gets its budgets and a
"skipped" note, exit 0: sizes unknown. The Zephyr application is not built yet (said so).
`--max-windows N` (tests only) runs the first N test windows.

Writes build/baremetal/ and reports/firmware.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from mcuforge import atomic, firmware_image
from mcuforge.arrays import load_arrays
from mcuforge.baremetal import CORES, elf_sizes
from mcuforge.codegen.c_names import c_identifier
from mcuforge.codegen.emit_features import generate_features
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.params import load_params, require
from mcuforge.tflm import io_quantization, quantize_input, run_int8

MODEL = Path("models/model_int8.tflite")
FEATURES = Path("data/features")
GENERATED = Path("firmware/generated")
BUILD = Path("build/baremetal")
REPORT = Path("reports/firmware.json")
TRACED_WINDOWS = 3


def zephyr_status() -> str:
    found = bool(os.environ.get("ZEPHYR_BASE"))
    if not found and shutil.which("west"):
        found = subprocess.run(["west", "topdir"], capture_output=True).returncode == 0
    return "not implemented yet in this stage" if found else "skipped: no Zephyr workspace (set ZEPHYR_BASE)"


def budgets(board: dict) -> tuple[int, int]:
    return (int(require(board, "flash_bytes", "board")) - int(require(board, "reserve_flash_bytes", "board")),
            int(require(board, "ram_bytes", "board")) - int(require(board, "reserve_ram_bytes", "board")))


def check_budget(board: dict, flash: int, ram: int, stack: int | None) -> None:
    """flash <= flash budget and ram (+ the measured stack, when known) <= RAM budget, else an error."""
    flash_budget, ram_budget = budgets(board)
    over = []
    if flash > flash_budget:
        over.append(f"flash {flash} B > budget {flash_budget} B by {flash - flash_budget} B")
    used = ram + (stack or 0)
    if used > ram_budget:
        what = f"RAM {ram} B" if stack is None else f"RAM {ram} B + stack {stack} B"
        over.append(f"{what} > budget {ram_budget} B by {used - ram_budget} B")
    if over:
        raise McuforgeError(
            f"the firmware does not fit board {board.get('name')} ({'; '.join(over)}; budget = board size - "
            f"reserve): raise prune.sparsity, choose a smaller model.student, or another board")


def baremetal_run(params: dict, core, max_windows: int | None) -> tuple[dict, str]:
    """(the report's bare-metal part, a timing line: printed, kept out of the metrics)."""
    board, cfg = params["board"], require(params, "codegen", "params")
    if require(cfg, "backend", "codegen") != "native":
        raise McuforgeError("the bare-metal image needs codegen.backend=native (TFLM needs a Zephyr workspace)")
    ident = c_identifier(str(require(cfg, "name", "codegen")))
    if not (GENERATED / f"{ident}.c").exists():
        raise McuforgeError(f"{GENERATED}/{ident}.c not found: run the codegen stage")
    model = MODEL.read_bytes()
    test = load_arrays(FEATURES / "test.npz")
    normalization = json.loads((FEATURES / "normalization.json").read_text(encoding="utf-8"))
    windows, x, y = test["windows"], test["x"], np.asarray(test["y"])
    if max_windows is not None:
        windows, x, y = windows[:max_windows], x[:max_windows], y[:max_windows]
    quant = io_quantization(model)
    output_size = int(np.prod(quant["output"]["shape"]))

    started = time.monotonic()
    with atomic.atomic_path(BUILD) as build:
        build.mkdir(parents=True)
        generate_features(normalization, params["features"], params["dataset"]["sample_rate_hz"],
                          quant["input"], build / "features")
        images = firmware_image.build_images(core, GENERATED, ident, build / "features",
                                             int(np.prod(windows.shape[1:])), params["features"]["block"], build)
        built = time.monotonic()
        deploy = elf_sizes(images["deploy"])
        check_budget(board, deploy["flash"], deploy["ram"], None)  # fail before running when it cannot fit
        run = firmware_image.run_windows(core, images["test"], windows, output_size)
        ran = time.monotonic()
        counts = firmware_image.count_per_inference(core, images["test"], windows[:TRACED_WINDOWS])
        for name in (firmware_image.WINDOWS_FILE, firmware_image.LOGITS_FILE):
            (build / name).unlink(missing_ok=True)  # test data, not firmware
        check_budget(board, deploy["flash"], deploy["ram"], run["stack_bytes"])  # error: BUILD not kept
    traced = time.monotonic()

    inputs = quantize_input(np.asarray(x, np.float32), quant["input"]["scale"], quant["input"]["zero_point"])
    reference = run_int8(model, inputs.reshape(len(x), -1)).reshape(len(x), output_size)
    device = run["logits"]
    return {
        "flash_bytes": deploy["flash"], "ram_bytes": deploy["ram"], "stack_bytes": run["stack_bytes"],
        "image": {"text": deploy["text"], "data": deploy["data"], "bss": deploy["bss"],
                  "elf": str(BUILD / "deploy.elf")},
        "baremetal": "built and run", "features_block": params["features"]["block"],
        "qemu": {
            "windows": len(windows),
            "logits_exact": int(np.sum(np.all(device == reference, axis=1))),
            "logits_max_abs_diff": int(np.abs(device.astype(np.int16) - reference).max()) if len(x) else 0,
            "device_accuracy": float(np.mean(device.argmax(axis=1) == y)) if len(x) else None,
            "reference_accuracy": float(np.mean(reference.argmax(axis=1) == y)) if len(x) else None,
            "instructions_per_inference": float(np.mean(counts)),
            "instructions_counted": counts,
            "instructions_note": f"exact counts (single-step exec trace) of features + invoke, first "
                                 f"{len(counts)} test windows",
        },
    }, f"build {built - started:.1f} s, QEMU run {ran - built:.1f} s, trace {traced - ran:.1f} s"


@stage_main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-windows", type=int, default=None, help="tests only: first N test windows")
    args = parser.parse_args()
    params = load_params()
    board = require(params, "board", "params")
    cpu = str(require(board, "cpu", "board"))
    flash_budget, ram_budget = budgets(board)
    report = {"board": board.get("name"), "cpu": cpu, "qemu_machine": board.get("qemu_machine"),
              "flash_bytes": None, "ram_bytes": None, "stack_bytes": None,
              "flash_budget": flash_budget, "ram_budget": ram_budget, "zephyr_build": zephyr_status()}
    core = CORES.get(cpu)
    if core is None:
        report.update({"baremetal": f"skipped: no toolchain for {cpu} here", "qemu": None})
        with atomic.atomic_path(BUILD) as empty:  # the declared out: empty
            empty.mkdir()
    else:
        firmware_image.require_tools()
        report["qemu_machine"] = core.machine
        if board.get("qemu_machine") != core.machine:
            report["qemu_note"] = (f"board's QEMU twin {board.get('qemu_machine')}; the test image ran on "
                                   f"{core.machine} (same {cpu} core), the budget is the board's")
        measured, timing = baremetal_run(params, core, args.max_windows)
        report.update(measured)
    atomic.write_json(REPORT, report)
    if report["qemu"]:
        q = report["qemu"]
        print(f"firmware ({report['board']}, {cpu} on {core.machine}): "
              f"flash {report['flash_bytes']}/{flash_budget} B, RAM {report['ram_bytes']} + "
              f"{report['stack_bytes']} stack/{ram_budget} B; {q['logits_exact']}/{q['windows']} windows bit-exact, "
              f"accuracy {q['device_accuracy']}, "
              f"{q['instructions_per_inference']:.0f} instructions/inference ({timing})")
    else:
        print(f"firmware ({report['board']}): {report['baremetal']}")


if __name__ == "__main__":
    main()
