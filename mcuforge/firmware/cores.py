"""The cores a bare-metal image is built for, and the QEMU machine each one runs on.

    core = CORES["cortex-m0plus"]
    core.gcc, core.qemu, core.linker_script      # arm-none-eabi-gcc, qemu-system-arm, microbit.ld
    missing_tools(core)                          # executables of that core not on PATH

Arm cores: arm-none-eabi-gcc + newlib, qemu-system-arm. RISC-V: Debian's riscv64-unknown-elf-gcc
(multilib; rv32imc code links against its rv32im libgcc / picolibc, a subset of the same ISA) +
picolibc, qemu-system-riscv32 -M virt with the CPU cut down to rv32imc (no A/F/D: any such
instruction traps). One startup (firmware/baremetal/startup.c) and one linker script per machine.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from mcuforge.errors import McuforgeError

ROOT = Path(__file__).resolve().parents[2]
SUPPORT_DIR = ROOT / "firmware" / "baremetal"
PREFIXES = {"arm": "arm-none-eabi", "riscv": "riscv64-unknown-elf"}
QEMU = {"arm": "qemu-system-arm", "riscv": "qemu-system-riscv32"}
APT = {"arm": "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm",
       "riscv": "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc"}
ELF_MACHINES = {40: "arm", 243: "riscv"}  # ELF e_machine
# Cores of board configs with no toolchain here (budgets only): what a user must bring.
BRING = {"xtensa-lx6": "Espressif's xtensa-esp32-elf-gcc (ESP-IDF's crosstool-NG build, or the Zephyr SDK's "
                       "xtensa-espressif_esp32_zephyr-elf) and, to run it, Espressif's QEMU fork (qemu-system-xtensa)"}


@dataclass(frozen=True)
class Core:
    name: str
    cpu_flags: tuple[str, ...]
    machine: str  # QEMU machine with this core
    qemu_cpu: str
    arch: str = "arm"

    @property
    def linker_script(self) -> Path:
        return SUPPORT_DIR / f"{self.machine}.ld"

    @property
    def prefix(self) -> str:
        return PREFIXES[self.arch]

    @property
    def gcc(self) -> str:
        return f"{self.prefix}-gcc"

    @property
    def qemu(self) -> str:
        return QEMU[self.arch]

    @property
    def libc_flags(self) -> tuple[str, ...]:
        """Compile + link flags that select the C library (newlib is arm-none-eabi-gcc's default)."""
        return ("--specs=picolibc.specs",) if self.arch == "riscv" else ()

    @property
    def qemu_machine_args(self) -> tuple[str, ...]:
        return ("-M", self.machine, "-cpu", self.qemu_cpu) + (("-bios", "none") if self.arch == "riscv" else ())

    @property
    def tools(self) -> tuple[str, ...]:
        return (self.gcc, f"{self.prefix}-size", f"{self.prefix}-nm", self.qemu)

    @property
    def apt_packages(self) -> str:
        return APT[self.arch]


CORES = {
    "cortex-m0plus": Core("cortex-m0plus", ("-mcpu=cortex-m0plus", "-mthumb"), "microbit", "cortex-m0"),
    "cortex-m3": Core("cortex-m3", ("-mcpu=cortex-m3", "-mthumb"), "mps2-an385", "cortex-m3"),
    "cortex-m4": Core("cortex-m4", ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"),
                      "mps2-an386", "cortex-m4"),
    "rv32imc": Core("rv32imc", ("-march=rv32imc", "-mabi=ilp32", "-mcmodel=medany"), "virt",
                    "rv32,a=off,f=off,d=off", "riscv"),
}


def missing_tools(core: Core | None = None) -> list[str]:
    """The toolchain / emulator executables of `core` (default: the Arm cores) not on PATH."""
    tools = (core or CORES["cortex-m3"]).tools
    return [tool for tool in tools if shutil.which(tool) is None]


def elf_prefix(elf: Path) -> str:
    """The binutils prefix for an ELF, from its header's e_machine (Arm or RISC-V)."""
    with open(elf, "rb") as f:
        header = f.read(20)
    arch = ELF_MACHINES.get(int.from_bytes(header[18:20], "little"))
    if header[:4] != b"\x7fELF" or arch is None:
        raise McuforgeError(f"{elf}: not an Arm or RISC-V ELF file")
    return PREFIXES[arch]
