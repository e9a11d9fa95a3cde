"""The native runtime + generated bench models, bare metal on an emulated Cortex-M3 (QEMU mps2-an385):
the golden outputs (tflite_micro's, see tests/bench_models.py) for the documented input
x[i] = ((i*13+5) % 101) - 50."""
from __future__ import annotations

import re

import pytest

from bench_models import BENCH_DIR, GOLDEN as EXPECTED
from mcuforge.firmware import baremetal
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.host_build import RUNTIME_DIR, runtime_sources


_missing = baremetal.missing_tools()
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"missing {', '.join(_missing)} "
                                "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)")


@pytest.fixture(scope="module")
def empty_sizes(tmp_path_factory):
    elf = baremetal.build_empty_image(baremetal.CORES["cortex-m3"], tmp_path_factory.mktemp("empty") / "empty.elf")
    run = baremetal.run_qemu(baremetal.CORES["cortex-m3"], elf)
    assert run.returncode == 0, run.stdout + run.stderr
    return baremetal.elf_sizes(elf)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bench_model_on_cortex_m3(name, tmp_path, empty_sizes):
    model = BENCH_DIR / f"{name}.tflite"
    if not model.exists():
        pytest.skip(f"{model} not found")
    core = baremetal.CORES["cortex-m3"]
    summary = generate_native(model.read_bytes(), tmp_path / "gen", labels=[], name=name)
    elf = baremetal.build_model_image(core, tmp_path / "gen", summary["name"], tmp_path / f"{name}.elf",
                                      runtime_sources(), RUNTIME_DIR / "include")
    run = baremetal.run_qemu(core, elf)
    parsed = baremetal.parse_harness_output(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert parsed["status"] == 0
    assert parsed["output"] == EXPECTED[name]

    sizes = baremetal.elf_sizes(elf)
    assert sizes["text"] > empty_sizes["text"]
    assert sizes["data"] + sizes["bss"] - empty_sizes["data"] - empty_sizes["bss"] >= summary["arena_bytes"]


@pytest.mark.parametrize("core_name", ["cortex-m3", "cortex-m0plus", "rv32imc"])
def test_instruction_count_is_deterministic(core_name, tmp_path):
    core = baremetal.CORES[core_name]
    if baremetal.missing_tools(core):
        pytest.skip(f"{', '.join(baremetal.missing_tools(core))} not installed (apt-get install {core.apt_packages})")
    summary = generate_native((BENCH_DIR / "dense.tflite").read_bytes(), tmp_path / "gen", labels=[], name="dense")
    elf = baremetal.build_model_image(core, tmp_path / "gen", summary["name"], tmp_path / "dense.elf",
                                      runtime_sources(), RUNTIME_DIR / "include")
    first = baremetal.count_instructions(core, elf, profile=True)
    second = baremetal.count_instructions(core, elf)
    assert first["instructions"] == second["instructions"] > summary["macs"]
    assert sum(first["per_function"].values()) == first["instructions"]
    hottest = {"cortex-m0plus": "mf_dot4_armv6m_loop"}.get(core_name, "mf_fully_connected_s8")  # by nm ranges
    assert max(first["per_function"], key=first["per_function"].get) == hottest
    assert baremetal.parse_harness_output(first["stdout"])["output"] == EXPECTED["dense"]


# The specialised layers (conv_fast.h, dwconv_fast.h, pool_fast.h) on the real instruction sets: the portable
# loops on the Cortex-M3, the SXTB16/SMLAD loop on the Cortex-M4 and the hand-scheduled ARMv6-M
# loops (dot_armv6m.h: 1 to 5 rows of tap-interleaved int32 weights, no offset) with the 32-bit
# requantisation (its three-multiply table form where the codegen proves the bounds) on the Cortex-M0+, the portable loops compiled for RV32IMC (MUL/MULH), against tflite_micro for
# the documented input. Shapes: 2-D and 1-D convolutions with padding, stride 2, dilation 2
# (gathered patches) and in-place patches; depthwise (SMLABB/SMLATT on the M4) with edge taps,
# dilation 2, stride 2 and a channel count not a multiple of 4; max / average pooling; MEAN.
QEMU_OP_CASES = ("conv2d_same_relu", "conv2d_valid_stride2_relu6", "conv2d_dilation2", "conv1d_valid",
                 "conv1d_same_c12",
                 "conv2d_left_shift_relu6",
                 "depthwise_dilation2_c8", "depthwise_stride2_same_relu6", "depthwise_left_shift_relu6",
                 "max_pool_same_stride2", "avg_pool_same_stride2", "mean_1d")


@pytest.mark.parametrize("core_name", ["cortex-m0plus", "cortex-m3", "cortex-m4", "rv32imc"])
@pytest.mark.parametrize("case", QEMU_OP_CASES + ("fuzz-3", "fuzz-8"))
def test_specialised_layers_equal_tflm_on_qemu(case, core_name, tmp_path):
    from bench_models import documented_input
    from mcuforge.codegen.tflm_reference import tflm_outputs
    from test_kernels import fuzz_model, op_case_model

    model = fuzz_model(int(case[5:])) if case.startswith("fuzz-") else op_case_model(case)
    summary = generate_native(model, tmp_path / "gen", labels=[], name="model")
    assert re.search(r"\bop\d+_run\(", (tmp_path / "gen" / "model.c").read_text()), "no layer was specialised"
    core = baremetal.CORES[core_name]
    elf = baremetal.build_model_image(core, tmp_path / "gen", summary["name"], tmp_path / "model.elf",
                                      runtime_sources(), RUNTIME_DIR / "include")
    run = baremetal.run_qemu(core, elf)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = tflm_outputs(model, documented_input(summary["input_size"])[None])[0].tolist()
    assert baremetal.parse_harness_output(run.stdout)["output"] == expected
