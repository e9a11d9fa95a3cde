"""Build a feature-twin harness like the firmware image for a core (CMSIS-DSP for the block,
firmware/features/src/*.c, the harness; mcuforge.firmware.firmware_image's flags) and run it on
the core's QEMU machine. The harness writes its results as hex lines over semihosting, then
"done"; the bytes are returned. Used by tests/test_mfcc.py and tests/test_spectral_device.py.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES_DIR = ROOT / "firmware" / "features"


def run_on_qemu(core_name: str, block: str, gen_dir: Path, harness: Path, work: Path,
                defines: tuple[str, ...] = ()) -> bytes:
    from mcuforge.firmware import baremetal, firmware_image

    core = baremetal.CORES[core_name]
    sources, includes, cmsis_defines = firmware_image.cmsis_build_inputs(core, block)
    flags = [f"-I{d}" for d in includes] + [f"-D{d}" for d in cmsis_defines]
    objects = [firmware_image._compile(core, src, work / f"cmsis_{i}.o", [*flags, "-std=c11", "-w"])
               for i, src in enumerate(sources)]
    ours = [baremetal.SUPPORT_DIR / "startup.c", *sorted((FEATURES_DIR / "src").glob("*.c")), harness]
    inc = [f"-I{d}" for d in (gen_dir, baremetal.SUPPORT_DIR, FEATURES_DIR / "include",
                              FEATURES_DIR / "src")]
    objects += [firmware_image._compile(core, src, work / f"ours_{i}.o",
                                        [*inc, *flags, *[f"-D{d}" for d in defines]])
                for i, src in enumerate(ours)]
    elf = work / "features.elf"
    subprocess.run([core.gcc, *core.cpu_flags, *core.libc_flags, *map(str, objects), *baremetal.LDFLAGS,
                    f"-L{baremetal.SUPPORT_DIR}", f"-T{core.linker_script}", *firmware_image.LIBS, "-o", str(elf)],
                   check=True, capture_output=True)
    run = baremetal.run_qemu(core, elf, timeout=600)
    lines = run.stdout.split()
    assert run.returncode == 0 and lines and lines[-1] == "done", run.stdout[-500:] + run.stderr
    return bytes.fromhex("".join(lines[:-1]))
