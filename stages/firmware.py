"""firmware: the bare-metal image of feature twin + runtime + generated model for params' board.

For a board whose core is in mcuforge.firmware.cores.CORES (Cortex-M0+/M3/M4, RV32IMC), builds two ELFs into
build/baremetal/ (firmware/baremetal/main.c; see mcuforge.firmware.firmware_image):
- the deployable image (one window buffer, no test data): its flash = text+data and
  ram = data+bss (arm-none-eabi-size) are checked against the board budget
  (flash_bytes - reserve_flash_bytes, ram_bytes - reserve_ram_bytes; ram_bytes + the measured
  stack_bytes must fit the RAM budget). Over budget -> error naming the overflow, nothing written;
- the test image, run on the QEMU machine with the board's core (mps2-an386 for cortex-m4,
  mps2-an385 for cortex-m3 -- also for qemu_cortex_m3, whose lm3s6965evb has the same core; the
  budget checked is still the board's; microbit's Cortex-M0 for cortex-m0plus; riscv32 virt for
  rv32imc): every test window, raw floats read over semihosting,
  -> mcuforge_features -> invoke -> int8 logits, compared with the Python int8 pipeline
  (quantize_input(x) -> tflite_micro). Instructions per inference (features + invoke) are exact
  counts from a single-step exec trace of the first 3 windows.
With codegen.backend=tflm the bare-metal image holds the native C of the same model (TFLM itself
comes only from a Zephyr workspace). A board without a core here (esp32: xtensa-lx6,
qemu_machine null) gets its budgets and a "skipped" note naming the toolchain to bring: sizes unknown.

The Zephyr application (firmware/, mcuforge.firmware.zephyr_app): build/firmware_inputs/ always; when a
Zephyr workspace is present (ZEPHYR_BASE, or `west topdir`), `west build -b <board.zephyr_board>
firmware -d build/zephyr/<board> -p auto`, its ELF checked against the whole board, and on qemu_*
boards `west build -t run` must print PASS (every compiled-in window: the Python int8 pipeline's
class and bit-exact logits). Without a workspace the report says so. The stage depends on
build/zephyr_env.json (stages/zephyr_env.py), so a new or changed workspace re-runs it.
`--max-windows N` (tests only) runs the first N test windows on the bare-metal image.

Writes build/baremetal/, build/firmware_inputs/, reports/firmware.json and reports/plots/fit.csv
(mcuforge.firmware.fit_plot: the accuracy-vs-flash plot's row).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mcuforge import atomic

from mcuforge.firmware import firmware_image
from mcuforge.arrays import load_arrays
from mcuforge.firmware.baremetal import CORES, elf_sizes
from mcuforge.firmware.cores import BRING
from mcuforge.firmware.budgets import budgets, check_budget
from mcuforge.codegen.c_names import c_identifier
from mcuforge.codegen.emit_features import generate_features
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.errors import CodegenError
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.firmware.fit_plot import write_fit_plot
from mcuforge.params import load_params, require
from mcuforge.codegen.tflm_runtime import device_logits, io_quantization
from mcuforge.firmware.zephyr_app import zephyr_part

MODEL = Path("models/model_int8.tflite")
FEATURES = Path("data/features")
GENERATED = Path("firmware/generated")
BUILD = Path("build/baremetal")
REPORT = Path("reports/firmware.json")
TRACED_WINDOWS = 3


def load_inputs() -> dict:
    """What both firmware builds read: the int8 model, its quantisation, the test split, normalization."""
    model = MODEL.read_bytes()
    return {"model": model, "quant": io_quantization(model), "test": load_arrays(FEATURES / "test.npz"),
            "normalization": json.loads((FEATURES / "normalization.json").read_text(encoding="utf-8"))}


def baremetal_run(params: dict, core, inputs: dict, max_windows: int | None,
                  traced_windows: int = TRACED_WINDOWS) -> tuple[dict, str]:
    """(the report's bare-metal part, a timing line: printed, kept out of the metrics)."""
    board, cfg = params["board"], require(params, "codegen", "params")
    backend = require(cfg, "backend", "codegen")
    ident = c_identifier(str(require(cfg, "name", "codegen")))
    if backend == "native" and not (GENERATED / f"{ident}.c").exists():
        raise McuforgeError(f"{GENERATED}/{ident}.c not found: run the codegen stage")
    model, quant, test, normalization = (inputs[k] for k in ("model", "quant", "test", "normalization"))
    windows, x, y = test["windows"], test["x"], np.asarray(test["y"])
    if max_windows is not None:
        windows, x, y = windows[:max_windows], x[:max_windows], y[:max_windows]
    output_size = int(np.prod(quant["output"]["shape"]))

    started = time.monotonic()
    with atomic.atomic_path(BUILD) as build:
        build.mkdir(parents=True)
        generated = GENERATED
        if backend == "tflm":  # TFLM needs Zephyr: the bare-metal image runs our C of the same model
            generated = build / "native_model"
            try:
                generate_native(model, generated, normalization["labels"], ident)
            except CodegenError as err:
                raise McuforgeError(f"the bare-metal check compiles the model with the native backend, which "
                                    f"cannot lower it: {err}") from err
        generate_features(normalization, params["features"], params["dataset"]["sample_rate_hz"],
                          quant["input"], build / "features", firmware_image.input_table_bytes(params))
        images = firmware_image.build_images(core, generated, ident, build / "features",
                                             int(np.prod(windows.shape[1:])), params["features"]["block"], build)
        built = time.monotonic()
        deploy = elf_sizes(images["deploy"])
        check_budget(board, deploy["flash"], deploy["ram"], None)  # fail before running when it cannot fit
        block = params["features"]["block"]
        run = firmware_image.run_windows(core, images["test"], windows, output_size, block=block)
        ran = time.monotonic()
        counts = firmware_image.count_per_inference(core, images["test"], windows[:traced_windows], block=block)
        for name in (firmware_image.WINDOWS_FILE, firmware_image.LOGITS_FILE):
            (build / name).unlink(missing_ok=True)  # test data, not firmware
        check_budget(board, deploy["flash"], deploy["ram"], run["stack_bytes"])  # error: BUILD not kept
    traced = time.monotonic()

    reference = device_logits(model, x)
    device = run["logits"]
    return {
        "flash_bytes": deploy["flash"], "ram_bytes": deploy["ram"], "stack_bytes": run["stack_bytes"],
        "image": {"text": deploy["text"], "data": deploy["data"], "bss": deploy["bss"],
                  "elf": str(BUILD / "deploy.elf")},
        "baremetal": "built and run" + (" (native C of the same model)" if backend == "tflm" else ""),
        "features_block": params["features"]["block"],
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


def summary_line(report: dict, core, timing: str) -> str:
    """The printed bare-metal line: accuracy to 3 decimals, bytes with thousands separators (the JSON
    report keeps full precision)."""
    if not report["qemu"]:
        return f"firmware ({report['board']}): {report['baremetal']}"
    q = report["qemu"]
    accuracy = "n/a" if q["device_accuracy"] is None else f"{q['device_accuracy']:.3f}"
    return (f"firmware ({report['board']}, {report['cpu']} on {core.machine}): "
            f"flash {report['flash_bytes']:,}/{report['flash_budget']:,} B, "
            f"RAM {report['ram_bytes']:,} + {report['stack_bytes']:,} stack/{report['ram_budget']:,} B; "
            f"{q['logits_exact']:,}/{q['windows']:,} windows bit-exact, accuracy {accuracy}, "
            f"{q['instructions_per_inference']:,.0f} instructions/inference ({timing})")


@stage_main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-windows", type=int, default=None, help="tests only: first N test windows")
    parser.add_argument("--traced-windows", type=int, default=TRACED_WINDOWS,
                        help=f"windows whose instructions are counted exactly (default {TRACED_WINDOWS})")
    args = parser.parse_args()
    params = load_params()
    board = require(params, "board", "params")
    cpu = str(require(board, "cpu", "board"))
    flash_budget, ram_budget = budgets(board)
    report = {"board": board.get("name"), "cpu": cpu, "qemu_machine": board.get("qemu_machine"),
              "flash_bytes": None, "ram_bytes": None, "stack_bytes": None,
              "flash_budget": flash_budget, "ram_budget": ram_budget}
    core = CORES.get(cpu)
    inputs = load_inputs()
    if core is None:
        bring = f" (budgets only; bring {BRING[cpu]})" if cpu in BRING else ""
        report.update({"baremetal": f"skipped: no toolchain for {cpu} here{bring}", "qemu": None})
        with atomic.atomic_path(BUILD) as empty:  # the declared out: empty
            empty.mkdir()
    else:
        firmware_image.require_tools(core)
        report["qemu_machine"] = core.machine
        if board.get("qemu_machine") != core.machine:
            report["qemu_note"] = (f"board's QEMU twin {board.get('qemu_machine')}; the test image ran on "
                                   f"{core.machine} (same {cpu} core), the budget is the board's")
        measured, timing = baremetal_run(params, core, inputs, args.max_windows, args.traced_windows)
        report.update(measured)
    report["zephyr_build"], report["zephyr"] = zephyr_part(params, core, inputs)
    atomic.write_json(REPORT, report)
    write_fit_plot("reports/plots/fit.csv", report)  # accuracy vs flash across experiments
    print(summary_line(report, core, timing if report["qemu"] else ""))
    zephyr = report["zephyr"]
    print(f"zephyr: {report['zephyr_build']}" + (f"; flash {zephyr['flash_bytes']:,} B, "
                                                 f"RAM {zephyr['ram_bytes']:,} B ({zephyr['build_seconds']} s)"
                                                 if zephyr else ""))

if __name__ == "__main__":
    main()
