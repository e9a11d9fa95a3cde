"""The small cores: Cortex-M0+ (rpi_pico; QEMU microbit's Cortex-M0) and RV32IMC (esp32c3_devkitm;
QEMU riscv32 virt). The bench models' golden outputs (tests/bench_models.py) bare metal on each,
the board configs' cores, and the RV32IMC twin's missing FPU. (Exact instruction counts on both
architectures: tests/test_baremetal.py.)
(tests/test_firmware_stage.py runs the firmware stage on these boards, every window bit-exact.)"""
from __future__ import annotations

import pytest
import yaml

from bench_models import BENCH_DIR, GOLDEN
from conftest import ROOT
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.host_build import RUNTIME_DIR, runtime_sources
from mcuforge.firmware import baremetal
from mcuforge.firmware.cores import BRING, CORES

SMALL = ("cortex-m0plus", "rv32imc")


def boards() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "conf/board").glob("*.yaml"))}


def needs(core_name: str):
    core = CORES[core_name]
    if baremetal.missing_tools(core):
        pytest.skip(f"{', '.join(baremetal.missing_tools(core))} not installed (apt-get install {core.apt_packages})")
    return core


def test_board_configs_name_a_core_here_or_the_toolchain_to_bring():
    for name, board in boards().items():
        assert board["name"] == name
        assert board["cpu"] in CORES or board["cpu"] in BRING, name
        assert 0 < board["reserve_flash_bytes"] < board["flash_bytes"] and 0 < board["reserve_ram_bytes"] < board["ram_bytes"]
        if board["cpu"] in BRING:
            assert board["qemu_machine"] is None, name
    pico, c3 = boards()["rpi_pico"], boards()["esp32c3_devkitm"]
    assert (pico["cpu"], pico["qemu_machine"], pico["fpu"], pico["ram_bytes"]) == ("cortex-m0plus", "microbit", False, 264 * 1024)
    assert (c3["cpu"], c3["qemu_machine"], c3["fpu"], c3["ram_bytes"]) == ("rv32imc", "virt", False, 400 * 1024)
    for board in (pico, c3):
        assert CORES[board["cpu"]].machine == board["qemu_machine"]


@pytest.mark.parametrize("core_name", SMALL)
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_bench_model_golden_outputs(core_name, name, tmp_path):
    core = needs(core_name)
    summary = generate_native((BENCH_DIR / f"{name}.tflite").read_bytes(), tmp_path / "gen", labels=[], name=name)
    elf = baremetal.build_model_image(core, tmp_path / "gen", summary["name"], tmp_path / f"{name}.elf",
                                      runtime_sources(), RUNTIME_DIR / "include")
    run = baremetal.run_qemu(core, elf)
    assert run.returncode == 0, run.stdout + run.stderr
    parsed = baremetal.parse_harness_output(run.stdout)
    assert parsed["status"] == 0 and parsed["output"] == GOLDEN[name]


def test_a_float_instruction_faults_on_the_rv32imc_twin(tmp_path):
    """The QEMU CPU is cut down to rv32imc: code built for an FPU must trap, not silently run."""
    core = needs("rv32imc")
    src = tmp_path / "f.c"
    src.write_text("volatile float a = 1.5f, b = 2.25f;\nint main(void) { return (int)(a * b); }\n")
    fpu = baremetal.Core("rv32imafc", ("-march=rv32imafc", "-mabi=ilp32f"), core.machine, core.qemu_cpu, "riscv")
    elf = baremetal.build_elf(fpu, [src], tmp_path / "f.elf")
    assert baremetal.run_qemu(core, elf).returncode == 121  # the trap vector's fault exit
    soft = baremetal.build_elf(core, [src], tmp_path / "soft.elf")
    assert baremetal.run_qemu(core, soft).returncode == 3
