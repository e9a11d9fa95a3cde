"""Bare-metal firmware images of feature twin + native runtime + generated model, run on QEMU.

    images = build_images(core, generated_dir, ident, features_cfg, ..., build_dir)
    deploy = baremetal.elf_sizes(images["deploy"])   # what the board must hold
    run = run_windows(core, images["test"], windows, output_size, build_dir)
    counts = count_per_inference(core, images["test"], windows[:3], build_dir)

Two images from the same sources (firmware/baremetal/main.c):
- `deploy`: one window buffer, no test data, no file I/O -- its text+data / data+bss are the
  flash / RAM reported and checked against the board budget;
- `test`: reads raw float32 windows (int16 PCM for the audio block mfcc, see window_bytes) from a host file over semihosting (one SYS_READ per window)
  and writes the int8 logits back (SYS_WRITE); it also measures the peak stack. The file names
  are relative (windows.bin, logits.bin): QEMU runs in the image's folder, so the kept test.elf
  can be re-run there by hand.
Compiled like mcuforge.firmware.baremetal (startup + linker script of firmware/baremetal/, -Os,
sections + --gc-sections) plus -ffp-contract=off (the feature twin transcribes numpy float32 one
IEEE operation at a time) and the C library's libm/libc for floorf/fabsf/memcpy (newlib on Arm,
picolibc on RISC-V). Cores without an FPU (cortex-m0plus, cortex-m3, rv32imc) run the float twin
in libgcc's soft-float, which rounds every +,-,*,/ correctly (IEEE 754), so the bit-exact check
holds on them as on the FPU.

CMSIS-DSP on Cortex-M (spectral block): the cmsisdsp sdist has no CMSIS-Core. On a core without
the DSP extension (cortex-m3) firmware/features/include/cmsis_compiler.h stands in for it. On
cortex-m4 (DSP extension) that stand-in refuses, since CMSIS-Core would add the SIMD intrinsics;
the f32 functions used never need them, so they are built with -D__GNUC_PYTHON__, CMSIS-DSP's own
documented switch for "no CMSIS-Core" (arm_math_types.h): generic C paths, no ARM_MATH_DSP.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from mcuforge.firmware import baremetal
from mcuforge.firmware.baremetal import Core
from mcuforge.errors import McuforgeError

ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIR = ROOT / "firmware" / "baremetal"
RUNTIME_DIR = ROOT / "firmware" / "runtime"
FEATURES_DIR = ROOT / "firmware" / "features"
TWIN_FLAGS = ("-ffp-contract=off",)
LIBS = ("-lm", "-lc", "-lgcc")
WINDOWS_FILE, LOGITS_FILE = "windows.bin", "logits.bin"
PCM_BLOCKS = ("mfcc",)   # audio: the device keeps int16 PCM, the Python windows are pcm / 32768


def window_bytes(windows: np.ndarray, block: str) -> bytes:
    """The test image's input file: float32 windows, or for an audio block the int16 PCM whose
    / 32768 they are (exact by construction, checked: a window that is not PCM is an error)."""
    if block not in PCM_BLOCKS:
        return np.ascontiguousarray(windows, np.float32).tobytes()
    scaled = np.asarray(windows, np.float64) * 32768.0
    pcm = np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)
    if not np.array_equal(pcm.astype(np.float64), scaled):
        bad = int(np.flatnonzero((pcm.astype(np.float64) != scaled).reshape(len(windows), -1).any(axis=1))[0])
        raise McuforgeError(f"test window {bad} is not int16 PCM / 32768 (features.block={block} runs the "
                            "device on int16 PCM): rebuild data/ with the audio ingest, which rounds every "
                            "sample to int16 PCM")
    return pcm.tobytes()


def input_table_bytes(params: dict) -> int:
    """params' firmware.input_table_max_bytes: the largest input threshold table the feature twin may
    hold (mcuforge.codegen.input_table; used on cores without an FPU)."""
    from mcuforge.params import require

    return require(require(params, "firmware", "params"), "input_table_max_bytes", "firmware")


def require_tools(core: Core) -> None:
    missing = baremetal.missing_tools(core)
    if missing:
        raise McuforgeError(f"{', '.join(missing)} not found: install the {core.name} toolchain and QEMU "
                            f"(apt-get install {core.apt_packages}; `bash scripts/setup.sh` does it)")


def _compile(core: Core, src: Path, obj: Path, flags: list[str]) -> Path:
    cmd = [core.gcc, *core.cpu_flags, *core.libc_flags, *baremetal.COMMON_CFLAGS, *TWIN_FLAGS, *flags,
           "-c", str(src), "-o", str(obj)]
    result = baremetal._run(cmd, f"{core.name} compile")
    if result.returncode != 0:
        raise McuforgeError(f"{core.name} compile of {src.name} failed:\n{' '.join(cmd)}\n{result.stderr[-3000:]}")
    return obj


def cmsis_build_inputs(core: Core | None, block: str = "spectral") -> tuple[list[Path], list[Path], list[str]]:
    """CMSIS-DSP for the feature block (spectral, mfcc) on `core`: (sources, include dirs, defines) --
    what the bare-metal image compiles, and what the Zephyr application is given (mcuforge_inputs.cmake)."""
    from mcuforge.dsp import cmsis_dsp_sources as cmsis
    from mcuforge.codegen.emit_features import cmsis_functions

    root = cmsis.cmsis_dsp_root()
    includes = list(cmsis.include_dirs(root))
    defines = []
    if core is not None and core.name == "cortex-m3":
        includes.append(FEATURES_DIR / "include")  # the cmsis_compiler.h stand-in
    else:
        defines.append("__GNUC_PYTHON__")  # no CMSIS-Core here: generic C (see module doc)
    return cmsis.cmsis_dsp_sources(cmsis_functions(block), root), includes, defines


def _cmsis_objects(core: Core, build_dir: Path, block: str) -> tuple[list[Path], list[str]]:
    """CMSIS-DSP objects for the feature block and the -I/-D flags its users need."""
    sources, includes, defines = cmsis_build_inputs(core, block)
    flags = [f"-I{d}" for d in includes] + [f"-D{d}" for d in defines]
    objects = []
    for i, src in enumerate(sources):
        # -std=c11 as the wheel builds them; third-party code: its warnings are not ours
        objects.append(_compile(core, src, build_dir / f"cmsis_{i}_{src.stem}.o", [*flags, "-std=c11", "-w"]))
    return objects, flags


def compile_objects(core: Core, generated_dir: Path, ident: str, features_dir: Path, block: str,
                    build_dir: Path) -> tuple[list[Path], list[str]]:
    """Objects of startup + runtime + generated model + feature twin (+ CMSIS-DSP), and the flags a
    harness needs to include their headers."""
    obj_dir = Path(build_dir).resolve() / "obj"
    obj_dir.mkdir(parents=True, exist_ok=True)
    includes = [f"-I{d}" for d in (baremetal.SUPPORT_DIR, RUNTIME_DIR / "include", Path(generated_dir),
                                   Path(features_dir), FEATURES_DIR / "include", FEATURES_DIR / "src")]
    objects, extra = [], []
    if block in ("spectral", "mfcc"):
        objects, extra = _cmsis_objects(core, obj_dir, block)
    common = [*includes, *extra]
    sources = [baremetal.SUPPORT_DIR / "startup.c", *sorted((RUNTIME_DIR / "src").glob("*.c")),
               Path(generated_dir) / f"{ident}.c", *sorted((FEATURES_DIR / "src").glob("*.c"))]
    for i, src in enumerate(sources):
        objects.append(_compile(core, src, obj_dir / f"{i}_{src.stem}.o", common))
    return objects, common


def link_harness(core: Core, objects: list[Path], flags: list[str], harness: Path, defines: dict,
                 elf: Path) -> Path:
    """Compile `harness` (firmware/baremetal/*.c) with `defines` and link it with `objects` into elf."""
    elf = Path(elf).resolve()
    dflags = [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in defines.items()]
    main_obj = _compile(core, harness, elf.parent / "obj" / f"{elf.stem}_{harness.stem}.o", [*flags, *dflags])
    cmd = [core.gcc, *core.cpu_flags, *core.libc_flags, *map(str, objects), str(main_obj), *baremetal.LDFLAGS,
           f"-L{baremetal.SUPPORT_DIR}", f"-T{core.linker_script}", f"-Wl,-Map={elf.with_suffix('.map')}",
           *LIBS, "-o", str(elf)]
    result = baremetal._run(cmd, f"{core.name} link")
    if result.returncode != 0:
        raise McuforgeError(f"{core.name} link of {elf.name} failed:\n{' '.join(cmd)}\n{result.stderr[-3000:]}")
    _relative_paths_in_map(elf.with_suffix(".map"), elf.parent)
    return elf


def build_images(core: Core, generated_dir: Path, ident: str, features_dir: Path, window_floats: int,
                 block: str, build_dir: Path) -> dict[str, Path]:
    """Compile once, link the `deploy` and the `test` ELF into build_dir."""
    build_dir = Path(build_dir).resolve()
    objects, common = compile_objects(core, generated_dir, ident, features_dir, block, build_dir)
    pcm = {"MF_WINDOW_PCM": None} if block in PCM_BLOCKS else {}
    harness = {**pcm, "MF_MODEL": ident, "MF_MODEL_UPPER": ident.upper(), "MF_WINDOW_FLOATS": str(window_floats),
               "MF_WINDOWS_PATH": f'"{WINDOWS_FILE}"', "MF_LOGITS_PATH": f'"{LOGITS_FILE}"'}
    return {kind: link_harness(core, objects, common, HARNESS_DIR / "main.c", defines, build_dir / f"{kind}.elf")
            for kind, defines in (("deploy", {**harness, "MF_DEPLOY": None}), ("test", harness))}


def _relative_paths_in_map(map_file: Path, build_dir: Path) -> None:
    """The linker map names objects by absolute path, which includes the stage's temporary build
    folder: rewrite them relative to the image folder (and the project as `<project>`), so the same
    inputs give the same map bytes in any folder."""
    text = map_file.read_text(encoding="utf-8")
    text = text.replace(f"{build_dir}/", "").replace(f"{ROOT}/", "<project>/")
    map_file.write_text(text, encoding="utf-8")


def _parse(stdout: str) -> dict[str, int]:
    found = {}
    for line in stdout.splitlines():
        key, _, value = line.partition(":")
        if key in ("windows", "stack") and value.strip().isdigit():
            found[key] = int(value)
    return found


def run_windows(core: Core, elf: Path, windows: np.ndarray, output_size: int, timeout: float = 900.0,
                block: str = "raw") -> dict:
    """All windows through the test image on core's QEMU machine: int8 logits (N, output_size), peak stack."""
    build_dir = Path(elf).parent
    (build_dir / WINDOWS_FILE).write_bytes(window_bytes(windows, block))
    (build_dir / LOGITS_FILE).unlink(missing_ok=True)
    cmd = baremetal.qemu_command(core, elf)
    cut = cmd.index("-icount")
    cmd = cmd[:cut] + cmd[cut + 2:]  # no instruction counting needed here: run at full speed
    result = baremetal._run(cmd, f"qemu {core.machine}", timeout=timeout, stdin=subprocess.DEVNULL,
                            cwd=build_dir)
    parsed = _parse(result.stdout)
    if result.returncode != 0 or parsed.get("windows") != len(windows):
        raise McuforgeError(f"{elf} on {core.machine}: exit {result.returncode} after "
                            f"{parsed.get('windows')} of {len(windows)} windows (3 file error, 4 features "
                            f"error, 5 invoke error, 12x fault)\n{result.stdout}{result.stderr}")
    logits = np.frombuffer((build_dir / LOGITS_FILE).read_bytes(), np.int8).reshape(len(windows), output_size)
    return {"logits": logits, "stack_bytes": parsed["stack"]}


def count_per_inference(core: Core, elf: Path, windows: np.ndarray, timeout: float = 600.0,
                        block: str = "raw") -> list[int]:
    """Exact executed instructions of each window's features + invoke (between the markers), from a
    single-step exec trace of the test image fed only `windows` (the same ELF, a smaller file)."""
    build_dir = Path(elf).parent
    (build_dir / WINDOWS_FILE).write_bytes(window_bytes(windows, block))
    counts = baremetal.count_marker_pairs(core, elf, timeout=timeout, cwd=build_dir)["counts"]
    if len(counts) != len(windows):
        raise McuforgeError(f"{elf}: {len(counts)} marker pairs in the instruction trace for "
                            f"{len(windows)} windows")
    return counts
