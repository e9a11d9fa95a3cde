"""Build the Zephyr application (firmware/) with west, and run it on Zephyr's QEMU boards.
(Which workspace: mcuforge.firmware.zephyr_workspace.)

    env, cmake_args, toolchain = toolchain_setup(os.environ)
    elf = west_build(zephyr_board, build_dir, inputs_dir, generated_dir, env, cmake_args)
    console = run_on_qemu(build_dir, env)      # qemu_* boards: `west build -t run` until PASS/FAIL

Toolchain: a user's own setting wins (ZEPHYR_TOOLCHAIN_VARIANT, or ZEPHYR_SDK_INSTALL_DIR for the
Zephyr SDK); otherwise Debian's arm-none-eabi-gcc as `gnuarmemb` with picolibc
(GNUARMEMB_TOOLCHAIN_PATH = the prefix of the arm-none-eabi-gcc on PATH, -DTOOLCHAIN_HAS_PICOLIBC=ON):
Debian's newlib lacks the retargetable locking Zephyr needs, and `cross-compile` fails on C++.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcuforge.errors import McuforgeError

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "firmware"
RESULT_LINE = re.compile(r"mcuforge: (PASS|FAIL)")
WINDOW_LINE = re.compile(r"window (\d+): class (\S+) \((\d+)\) expected (\S+), true (\S+), logits (\w+), "
                         r"(\d+) cycles \((\d+) us\)")
SUMMARY_LINE = re.compile(r"mcuforge: (\d+) windows, (\d+) classes as expected, (\d+) logits exact, "
                          r"(\d+) true classes")


def west_command() -> list[str]:
    """West from the project's own environment (it is a dependency): the interpreter running this code,
    never whatever `west` comes first on PATH. Zephyr's CMake runs its scripts with the same
    interpreter (west sets WEST_PYTHON), so the project's environment must hold their packages too."""
    return [sys.executable, "-m", "west"]


def toolchain_setup(env: dict) -> tuple[dict, list[str], str]:
    """(environment for west, extra CMake arguments, a description for the report)."""
    env = dict(env)
    if env.get("ZEPHYR_TOOLCHAIN_VARIANT"):
        variant = env["ZEPHYR_TOOLCHAIN_VARIANT"]
        # gnuarmemb cannot tell that a Debian/Arm GNU toolchain ships picolibc: without this Zephyr
        # silently falls back to its minimal libc, and TFLM's C++ does not build
        picolibc = ["-DTOOLCHAIN_HAS_PICOLIBC=ON"] if variant == "gnuarmemb" else []
        return env, picolibc, f"{variant} (ZEPHYR_TOOLCHAIN_VARIANT from the environment)"
    if env.get("ZEPHYR_SDK_INSTALL_DIR"):
        return env, [], f"zephyr SDK at {env['ZEPHYR_SDK_INSTALL_DIR']}"
    gcc = shutil.which("arm-none-eabi-gcc", path=env.get("PATH"))
    if gcc is None:
        raise McuforgeError("no toolchain for the Zephyr build: arm-none-eabi-gcc not on PATH (apt-get install "
                            "gcc-arm-none-eabi picolibc-arm-none-eabi libstdc++-arm-none-eabi-picolibc) and "
                            "neither ZEPHYR_TOOLCHAIN_VARIANT nor ZEPHYR_SDK_INSTALL_DIR set")
    prefix = Path(gcc).resolve().parent.parent
    env.update(ZEPHYR_TOOLCHAIN_VARIANT="gnuarmemb", GNUARMEMB_TOOLCHAIN_PATH=str(prefix))
    return env, ["-DTOOLCHAIN_HAS_PICOLIBC=ON"], f"gnuarmemb at {prefix} with picolibc"


def west_build(zephyr_board: str, build_dir: Path, inputs_dir: Path, generated_dir: Path, env: dict,
               cmake_args: list[str], timeout: float = 3600.0) -> Path:
    """`west build -b <board> firmware -d <build_dir> -p auto -- -DMCUFORGE_...`; the linked ELF."""
    build_dir = Path(build_dir).resolve()
    cmd = [*west_command(), "build", "-b", zephyr_board, str(APP_DIR), "-d", str(build_dir), "-p", "auto", "--",
           f"-DMCUFORGE_INPUTS_DIR={Path(inputs_dir).resolve()}",
           f"-DMCUFORGE_GENERATED_DIR={Path(generated_dir).resolve()}", *cmake_args]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise McuforgeError(f"west build for {zephyr_board} timed out after {timeout:.0f} s") from exc
    elf = Path(build_dir) / "zephyr" / "zephyr.elf"
    if result.returncode != 0 or not elf.exists():
        text = result.stdout + result.stderr
        hint = ""
        if "TENSORFLOW_LITE_MICRO" in text and "direct dependencies 0" in text:
            hint = ("\nthe tflite-micro module is not in the workspace: `west update tflite-micro` in the "
                    "project's workspace (its west.yml allow-lists it); in a workspace of your own "
                    "`west config manifest.project-filter -- +tflite-micro && west update tflite-micro`")
        missing = re.search(r"No module named '([\w.]+)'", text)
        if missing:
            hint += (f"\nZephyr's build scripts run with this interpreter ({sys.executable}) and need "
                     f"`{missing[1]}`: `mcuforge zephyr` lists the packages missing from the project's environment")
        raise McuforgeError(f"west build for {zephyr_board} failed (exit {result.returncode}):\n"
                            f"{' '.join(cmd)}\n" + "\n".join(text.strip().splitlines()[-40:]) + hint)
    return elf


def read_until_result(proc: subprocess.Popen, timeout: float) -> bytes:
    """proc's stdout until the result line, end of output (everything exited) or the timeout."""
    output, deadline = b"", time.monotonic() + timeout
    while not RESULT_LINE.search(output.decode(errors="replace")) and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 1.0)[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
    return output


def run_on_qemu(build_dir: Path, env: dict, timeout: float) -> str:
    """`west build -d <build_dir> -t run` (Zephyr's QEMU invocation for qemu_* boards), stopped once
    the application prints its PASS/FAIL line -- Zephyr's QEMU never exits by itself."""
    cmd = [*west_command(), "build", "-d", str(Path(build_dir).resolve()), "-t", "run"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=ROOT, start_new_session=True)
    try:
        output = read_until_result(proc, timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: west, ninja and qemu
        proc.wait()
        proc.stdout.close()
    text = output.decode(errors="replace")
    if not RESULT_LINE.search(text):
        raise McuforgeError(f"`{' '.join(cmd)}`: no 'mcuforge: PASS|FAIL' line within {timeout:.0f} s:\n"
                            + "\n".join(text.splitlines()[-30:]))
    return text


def parse_console(text: str) -> dict:
    """The application's printk lines: per window class / expected (Python's) / true / exact / cycles."""
    windows = [{"window": int(m[1]), "class": m[2], "expected": m[4], "true": m[5], "logits": m[6],
                "cycles": int(m[7]), "us": int(m[8])} for m in WINDOW_LINE.finditer(text)]
    summary = SUMMARY_LINE.search(text)
    return {
        "result": RESULT_LINE.search(text)[1],
        "windows": int(summary[1]) if summary else len(windows),
        "classes_as_expected": int(summary[2]) if summary else None,
        "logits_exact": int(summary[3]) if summary else None,
        "true_classes": int(summary[4]) if summary else None,
        "per_window": windows,
    }
