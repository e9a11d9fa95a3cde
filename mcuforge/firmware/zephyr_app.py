"""The firmware stage's Zephyr part: the application's inputs, the west build, the QEMU check.

    status, measured = zephyr_part(params, core, inputs)   # inputs: the stage's load_inputs()

build/firmware_inputs/ always gets what firmware/ compiles besides firmware/generated/ (feature
constants, firmware.sample_windows test windows with the Python int8 logits, mcuforge_inputs.cmake).
With a Zephyr workspace (mcuforge.firmware.zephyr_workspace.find_workspace: ZEPHYR_BASE, else the west
workspace the project is in), `west build -b <board.zephyr_board> firmware -d build/zephyr/<board> -p auto`
(modules the build needs checked first); the ELF must fit the whole board (flash_bytes, ram_bytes);
on Zephyr's QEMU boards (qemu_*) `west build -t run` must print PASS. Paths are relative to the
stage's working directory (the project).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from mcuforge import atomic

from mcuforge.firmware import firmware_image, zephyr_build, zephyr_inputs, zephyr_workspace
from mcuforge.firmware.mic_config import STREAM_H, stream_config_header
from mcuforge.firmware.sensor_units import SENSOR_H, sensor_config_header
from mcuforge.firmware.baremetal import elf_sizes
from mcuforge.firmware.budgets import check_budget
from mcuforge.codegen.c_names import c_identifier
from mcuforge.codegen.emit_features import generate_features
from mcuforge.errors import McuforgeError
from mcuforge.params import require
from mcuforge.codegen.tflm_runtime import device_logits

GENERATED = Path("firmware/generated")
INPUTS = Path("build/firmware_inputs")
ZEPHYR_BUILD = Path("build/zephyr")


def write_app_inputs(params: dict, core, inputs: dict) -> tuple[int, int]:
    """build/firmware_inputs/ for the Zephyr application: (windows compiled in, their bytes in flash)."""
    cfg, firmware = require(params, "codegen", "params"), require(params, "firmware", "params")
    backend = require(cfg, "backend", "codegen")
    model, quant, test, normalization = (inputs[k] for k in ("model", "quant", "test", "normalization"))
    chosen = zephyr_inputs.sample_indices(len(test["windows"]), int(require(firmware, "sample_windows", "firmware")))
    with atomic.atomic_path(INPUTS) as out:
        generate_features(normalization, params["features"], params["dataset"]["sample_rate_hz"],
                          quant["input"], out, firmware_image.input_table_bytes(params))
        (out / SENSOR_H).write_text(sensor_config_header(params["dataset"], params["features"]), encoding="utf-8")
        (out / STREAM_H).write_text(stream_config_header(params, float(quant["output"]["scale"])), encoding="utf-8")
        block = params["features"]["block"]
        zephyr_inputs.write_app_inputs(
            out, model=c_identifier(str(require(cfg, "name", "codegen"))), backend=backend,
            cmsis_nn=backend == "tflm" and bool(require(cfg, "cmsis_nn", "codegen")),
            windows=test["windows"][chosen], labels=np.asarray(test["y"])[chosen],
            logits=device_logits(model, test["x"][chosen]), test_indices=chosen,
            cmsis=(firmware_image.cmsis_build_inputs(core, block) if block in ("spectral", "mfcc")
                   else ([], [], [])))
    per_window = test["windows"][0].size * 4 + 1 + int(np.prod(quant["output"]["shape"])) + 4 if len(chosen) else 0
    return len(chosen), len(chosen) * per_window  # float32 samples, label, int8 logits, test index


def zephyr_run(params: dict, workspace: Path, compiled_in: tuple[int, int]) -> dict:
    """west build of firmware/ for the board; sizes checked against the whole board; on qemu_* boards
    the compiled-in windows run under Zephyr's QEMU and must PASS."""
    board, firmware = params["board"], params["firmware"]
    zephyr_board = str(require(board, "zephyr_board", "board"))
    env, cmake_args, toolchain = zephyr_build.toolchain_setup(os.environ)
    env["ZEPHYR_BASE"] = str(workspace)  # the tree find_workspace chose (and build/zephyr_env.json records)
    build_dir = ZEPHYR_BUILD / str(board["name"])
    started = time.monotonic()
    elf = zephyr_build.west_build(zephyr_board, build_dir, INPUTS, GENERATED, env, cmake_args)
    sizes = elf_sizes(elf)
    result = {"board": zephyr_board, "workspace": str(workspace), "toolchain": toolchain,
              "backend": params["codegen"]["backend"], "elf": str(elf), "flash_bytes": sizes["flash"],
              "ram_bytes": sizes["ram"], "text": sizes["text"], "data": sizes["data"], "bss": sizes["bss"],
              "compiled_in_windows": compiled_in[0], "compiled_in_windows_bytes": compiled_in[1],
              "build_seconds": round(time.monotonic() - started, 1), "qemu": None}
    check_budget(board, sizes["flash"], sizes["ram"], None,
                 (int(board["flash_bytes"]), int(board["ram_bytes"])), what="the Zephyr image")
    if zephyr_board.startswith("qemu_"):
        console = zephyr_build.parse_console(zephyr_build.run_on_qemu(
            build_dir, env, float(require(firmware, "zephyr_qemu_timeout_s", "firmware"))))
        result["qemu"] = {k: console[k] for k in ("result", "windows", "classes_as_expected", "logits_exact",
                                                    "true_classes")}
        result["qemu"]["cycles_per_inference"] = [w["cycles"] for w in console["per_window"]]
        if console["result"] != "PASS":
            raise McuforgeError(f"the Zephyr image on QEMU printed FAIL ({console['logits_exact']} of "
                                f"{console['windows']} windows bit-exact): see `west build -d {build_dir} -t run`")
    return result


def _required_modules(params: dict, ws) -> None:
    """Fail before CMake when a module this build needs is missing (the command that fetches it)."""
    codegen = params["codegen"]
    symbols = ["TENSORFLOW_LITE_MICRO" + ("_CMSIS_NN_KERNELS" if codegen.get("cmsis_nn") else "")
               ] if codegen["backend"] == "tflm" else []
    missing = [m for m in zephyr_workspace.modules_needed(str(params["board"]["zephyr_board"]), symbols)
               if m not in ws.modules_present]
    if missing:
        where = f"cd {ws.topdir} && " if ws.topdir else ""
        raise McuforgeError(f"the Zephyr build for board {params['board']['name']} (codegen.backend="
                            f"{codegen['backend']}) needs the modules {', '.join(missing)}, not in {ws.zephyr_base}: "
                            f"`{where}west update {' '.join(missing)}` (`mcuforge zephyr` shows the workspace)")


def zephyr_part(params: dict, core, inputs: dict) -> tuple[str, dict | None]:
    """(the report's zephyr_build line, the Zephyr build's measurements or None)."""
    compiled_in = write_app_inputs(params, core, inputs)
    ws = zephyr_workspace.find_workspace(Path.cwd())
    if ws.zephyr_base is None:
        if os.environ.get("ZEPHYR_BASE"):  # the user asked for this tree: its problem is an error
            raise McuforgeError(next((p for p in ws.problems if p.startswith("ZEPHYR_BASE=")),
                                     f"ZEPHYR_BASE={os.environ['ZEPHYR_BASE']} is not a Zephyr tree"))
        return "skipped: no Zephyr workspace (`mcuforge zephyr` says how to make one)", None
    cpu = params["board"]["cpu"]
    if params["board"]["zephyr_board"] in zephyr_workspace.NOT_BUILDABLE:
        return f"skipped: {zephyr_workspace.NOT_BUILDABLE[params['board']['zephyr_board']]}", None
    if core is None and not (os.environ.get("ZEPHYR_SDK_INSTALL_DIR") or os.environ.get("ZEPHYR_TOOLCHAIN_VARIANT")):
        return (f"skipped: no {cpu} toolchain here (the Zephyr SDK has it: set ZEPHYR_SDK_INSTALL_DIR)", None)
    _required_modules(params, ws)
    measured = zephyr_run(params, ws.zephyr_base, compiled_in)
    ran = f", {measured['qemu']['result']} on QEMU" if measured["qemu"] else ""
    return f"built with west ({compiled_in[0]} test windows compiled in{ran})", measured
